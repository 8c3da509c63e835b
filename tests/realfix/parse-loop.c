/*
 * parse-loop.c: a long-running process that uses expat, for the live step of
 * tests/realfix.sh. Every 10 ms it offers a fresh parser a negative length
 * (CVE-2024-45490: XML_ParseBuffer moved its buffer end backwards by it) and
 * prints "value S E": the status XML_ParseBuffer returned and the parser's
 * error code. The release accepts it ("value 1 0"); the fix refuses it
 * ("value 0 41", XML_ERROR_INVALID_ARGUMENT). The buffer is never read.
 */
#include <stdio.h>
#include <time.h>

#include "expat.h"

int main(void)
{
	struct timespec tick = { 0, 10000000 };
	for (;;) {
		XML_Parser p = XML_ParserCreate(NULL);
		if (!p || !XML_GetBuffer(p, 64))
			return 1;
		int status = XML_ParseBuffer(p, -1, 0);
		printf("value %d %d\n", status, (int)XML_GetErrorCode(p));
		fflush(stdout);
		XML_ParserFree(p);
		nanosleep(&tick, NULL);
	}
}
