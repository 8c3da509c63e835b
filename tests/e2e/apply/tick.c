/*
 * tick.c: the unit the thread-local test patches. Every thread has its own
 * ticks (static: local-exec) and total (defined elsewhere: initial-exec); tick()
 * adds STEP to the one and twice STEP to the other, so total == 2 * ticks in
 * each thread, before and after a patch changes STEP, if and only if the new
 * code reaches the same two variables of the calling thread as the old one.
 */
#ifndef STEP
#define STEP 1
#endif

static __thread unsigned long ticks;
extern __thread unsigned long total;

__attribute__((noinline)) unsigned long tick(void)
{
	total += 2 * STEP;
	return ticks += STEP;
}
