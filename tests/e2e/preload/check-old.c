/* check(): the executable's function that the test patches; the old one leaves a trace. */
#include <stdio.h>
#include <stdlib.h>

int check(int x)
{
	const char *m = getenv("MARKER");
	FILE *f = m ? fopen(m, "a") : NULL;
	if (f) {
		fprintf(f, "old check ran\n");
		fclose(f);
	}
	return x + 1;
}
