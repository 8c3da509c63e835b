/*
 * work.c: the unit the live-apply tests patch. value() has the "bug" (it adds
 * OFFSET); a fix changes OFFSET. While hold is set, value() spins, so a test
 * can keep a thread inside the function being replaced. With WITH_LIBC, value()
 * goes through snprintf() and atoi(), for builds whose calls to libc matter.
 */
#ifndef OFFSET
#define OFFSET 1
#endif

volatile int hold;

#ifdef WITH_LIBC
#include <stdio.h>
#include <stdlib.h>
#endif

int value(int x)
{
	while (hold)
		;
#ifdef WITH_LIBC
	/* Calls into libc: through the GOT with -fno-plt, __snprintf_chk when fortified. */
	char buf[16];
	snprintf(buf, sizeof buf, "%d", x);
	return atoi(buf) + OFFSET;
#else
	return x + OFFSET;
#endif
}

int compute(int x)
{
	return value(x) * 2;
}
