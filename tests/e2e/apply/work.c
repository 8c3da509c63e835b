/*
 * work.c: the unit the live-apply tests patch. value() has the "bug" (it adds
 * OFFSET); a fix changes OFFSET. While hold is set, value() spins, so a test
 * can keep a thread inside the function being replaced.
 */
#ifndef OFFSET
#define OFFSET 1
#endif

volatile int hold;

int value(int x)
{
	while (hold)
		;
	return x + OFFSET;
}

int compute(int x)
{
	return value(x) * 2;
}
