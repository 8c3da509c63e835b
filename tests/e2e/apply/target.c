/*
 * target.c: a process for the live-apply tests and benchmark.
 *
 *   target NTHREADS [hold|sleep]
 *
 * NTHREADS workers call compute() in a loop and keep the longest gap between
 * two iterations (CLOCK_MONOTONIC): the pause a live patch caused. They run
 * flat out, or with "sleep" nap 200 us between iterations, like server threads
 * waiting for requests (on 2 cores, 64 busy threads mostly wait for a CPU).
 * The main thread prints "value N" (compute(10)) every 10 ms. With "hold", one
 * more thread sits inside value() until SIGUSR1. SIGUSR2 prints the largest
 * gap seen by any worker, in microseconds, as "maxgap N", and resets it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int compute(int x);
int value(int x);
extern volatile int hold;

static _Atomic unsigned long long maxgap_ns;
static volatile sig_atomic_t report;
static _Atomic unsigned long long sink;

static unsigned long long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int sleepy;

static void *worker(void *arg)
{
	(void)arg;
	struct timespec nap = { 0, 200000 };
	unsigned long long last = now(), local = 0;
	for (unsigned i = 0;; i++) {
		local += (unsigned long long)compute((int)(i & 1023));
		unsigned long long t = now(), gap = t - last;
		last = t;
		unsigned long long m = atomic_load(&maxgap_ns);
		while (gap > m && !atomic_compare_exchange_weak(&maxgap_ns, &m, gap))
			;
		if ((i & 4095) == 0)
			atomic_fetch_add(&sink, local);
		if (sleepy)
			nanosleep(&nap, NULL); /* counted in the gap: a baseline run measures it */
	}
	return NULL;
}

static void *holder(void *arg)
{
	(void)arg;
	value(1); /* spins inside value() while hold is set */
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	hold = 0;
}

static void on_usr2(int sig)
{
	(void)sig;
	report = 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	if (argc > 2 && !strcmp(argv[2], "hold"))
		hold = 1;
	if (argc > 2 && !strcmp(argv[2], "sleep"))
		sleepy = 1;
	pthread_t t;
	for (int i = 0; i < n; i++)
		pthread_create(&t, NULL, worker, NULL);
	if (hold) {
		pthread_create(&t, NULL, holder, NULL);
		printf("holding\n"); /* compute() spins until SIGUSR1 */
		fflush(stdout);
	}
	for (;;) {
		printf("value %d\n", compute(10));
		if (report) {
			report = 0;
			printf("maxgap %llu\n", atomic_exchange(&maxgap_ns, 0) / 1000);
		}
		fflush(stdout);
		usleep(10000);
	}
}
