/*
 * agent-probe.c: the programs bench/agent.sh measures hpd with.
 *
 *   probe            (built twice: -DFIXED gives the fix) run by spawn: calls
 *                    check() every 100 us; prints how long after the execve
 *                    (EXEC_NS, CLOCK_MONOTONIC, set by spawn) the fixed code
 *                    first answered, "exposed US", or "timeout" after 2 s
 *   probe --idle     sleeps until killed (for the sweep over many processes)
 *   spawn N RATE ... start N processes of the command at RATE per second,
 *                    each with EXEC_NS set just before its execve; wait for all
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

#ifdef SPAWN
int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	int n = atoi(argv[1]);
	double rate = atof(argv[2]);
	unsigned long long t0 = now_ns(), gap = (unsigned long long)(1e9 / rate);
	for (int i = 0; i < n; i++) {
		unsigned long long at = t0 + (unsigned long long)i * gap;
		while (now_ns() < at) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
		if (fork() == 0) {
			char v[32];
			snprintf(v, sizeof v, "%llu", now_ns());
			setenv("EXEC_NS", v, 1);
			execv(argv[3], argv + 3);
			_exit(127);
		}
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
#else
static volatile int bias;

/* Long enough for the 5-byte jump; 1 before the fix, 2 after, for check(1). */
__attribute__((noipa)) int check(int x)
{
	int s = 0;
	for (int i = 0; i < x; i++)
		s += i ^ bias;
#ifdef FIXED
	return s + x + 1;
#else
	return s + x;
#endif
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--idle")) {
		for (;;)
			pause();
	}
	const char *e = getenv("EXEC_NS");
	unsigned long long start = e ? strtoull(e, NULL, 10) : now_ns();
	for (;;) {
		if (check(1) == 2) {
			printf("exposed %llu\n", (now_ns() - start) / 1000);
			return 0;
		}
		if (now_ns() - start > 2000000000ull) {
			printf("timeout\n");
			return 1;
		}
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}
#endif
