/* plug(): the dlopen()ed library's function the test patches; the old one leaves a trace. */
#include <stdio.h>
#include <stdlib.h>

int plug(int x)
{
	const char *m = getenv("MARKER");
	FILE *f = m ? fopen(m, "a") : NULL;
	if (f) {
		fprintf(f, "old plug ran\n");
		fclose(f);
	}
	return x + 1;
}
