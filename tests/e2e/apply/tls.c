/*
 * tls.c: a process for the thread-local test (tick.c). Three worker threads
 * call tick() every millisecond and exit(1) if their own total ever differs
 * from twice their ticks; the main thread calls it every 10 ms and prints
 * "value TICKS TOTAL" for its own. With TOTAL_ELSEWHERE, total is defined in
 * a shared library (total.c), so the executable reaches it through its GOT.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef TOTAL_ELSEWHERE
__thread unsigned long total;
#else
extern __thread unsigned long total;
#endif
unsigned long tick(void);

static void *worker(void *arg)
{
	(void)arg;
	struct timespec nap = { 0, 1000000 };
	for (;;) {
		unsigned long t = tick();
		if (total != 2 * t) {
			fprintf(stderr, "worker: total %lu, ticks %lu\n", total, t);
			exit(1);
		}
		nanosleep(&nap, NULL);
	}
	return NULL;
}

int main(void)
{
	struct timespec tick_ = { 0, 10000000 };
	pthread_t th;
	for (int i = 0; i < 3; i++)
		if (pthread_create(&th, NULL, worker, NULL))
			return 1;
	for (;;) {
		unsigned long t = tick();
		printf("value %lu %lu\n", t, total);
		fflush(stdout);
		nanosleep(&tick_, NULL);
	}
}
