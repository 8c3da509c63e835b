/*
 * preload-probe.c: what bench/preload.sh measures libhotpatch-load.so with.
 *
 * Built as the probe (the default): ten functions f0..f9, the tenth patch of
 * the benchmark replacing f9 and so on (-DFIX=K builds the fixed f_K, for
 * hpbuild); main writes, first thing, CLOCK_MONOTONIC and the CPU time the
 * process has used so far (CLOCK_PROCESS_CPUTIME_ID: exec, the dynamic
 * linker, every constructor), in nanoseconds, and how many of the ten run
 * their fixed code ("T CPU FIXED"), then exits.
 *
 * Built with -DSPAWN, the driver:
 *
 *   spawn N LIB PROBE LABEL=STORE...
 *
 * starts PROBE N times per configuration, the configurations taking turns so
 * that the load of the machine falls on all alike. A configuration with STORE
 * "-" runs without the library; another runs with LD_PRELOAD=LIB and
 * HOTPATCH_STORE=STORE. For each it prints one line:
 *
 *   LABEL MEDIAN_US P90_US CPU_US OLD
 *
 * the time from before posix_spawn to main (median, 90th percentile), the CPU
 * time the child had used when main began (median: what a process pays, free
 * of the time it waited for a CPU on a loaded machine) and the number of
 * starts in which any of the ten ran its old code first.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

#ifndef SPAWN

#ifndef FIX
#define FIX -1
#endif

volatile int sink;

/* f_k(x) is x + k; fixed, x + k + 1000. noinline: each is a function of its own,
 * and the store to sink makes it longer than the 5-byte jump. */
#define F(k)                                                                                       \
	__attribute__((noinline)) int f##k(int x)                                                  \
	{                                                                                          \
		sink = x;                                                                          \
		return x + k + (FIX == k ? 1000 : 0);                                              \
	}
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9)

int main(int argc, char **argv)
{
	long long t = now_ns();
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	int (*const f[])(int) = { f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 };
	int fixed = 0;
	for (int k = 0; k < 10; k++)
		fixed += f[k](0) >= 1000;
	(void)argc;
	(void)argv;
	printf("%lld %lld %d\n", t, (long long)cpu.tv_sec * 1000000000LL + cpu.tv_nsec, fixed);
	return 0;
}

#else /* the driver */

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct conf {
	const char *label, *store;
	long long *lat, *cpu;
	int old, n;
};

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* One start of probe under c; 0, or -1 when it did not report. */
static int one(struct conf *c, const char *lib, const char *probe)
{
	char **env = NULL;
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + 3, sizeof *env);
	size_t k = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "HOTPATCH_STORE=", 15))
			env[k++] = *e;
	char pre[4200], store[4200];
	if (strcmp(c->store, "-")) {
		snprintf(pre, sizeof pre, "LD_PRELOAD=%s", lib);
		snprintf(store, sizeof store, "HOTPATCH_STORE=%s", c->store);
		env[k++] = pre;
		env[k++] = store;
	}
	int fd[2];
	if (pipe(fd) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	char *argv[] = { (char *)probe, NULL };
	pid_t pid;
	long long t0 = now_ns();
	int err = posix_spawn(&pid, probe, &fa, NULL, argv, env);
	close(fd[1]);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (err) {
		close(fd[0]);
		return -1;
	}
	char buf[128];
	ssize_t got = 0, r;
	while ((r = read(fd[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
		got += r;
	close(fd[0]);
	buf[got > 0 ? got : 0] = 0;
	int status;
	waitpid(pid, &status, 0);
	long long tm, cpu;
	int fixed;
	if (sscanf(buf, "%lld %lld %d", &tm, &cpu, &fixed) != 3)
		return -1;
	c->cpu[c->n] = cpu;
	c->lat[c->n++] = tm - t0;
	if (strcmp(c->store, "-") && strstr(c->label, "patches") && fixed < 10)
		c->old++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: spawn N LIB PROBE LABEL=STORE...\n");
		return 1;
	}
	int n = atoi(argv[1]), nc = argc - 4;
	struct conf *c = calloc((size_t)nc, sizeof *c);
	for (int i = 0; i < nc; i++) {
		char *eq = strchr(argv[4 + i], '=');
		if (!eq)
			return 1;
		*eq = 0;
		c[i].label = argv[4 + i];
		c[i].store = eq + 1;
		c[i].lat = calloc((size_t)n, sizeof *c[i].lat);
		c[i].cpu = calloc((size_t)n, sizeof *c[i].cpu);
	}
	for (int round = 0; round < n; round++)
		for (int i = 0; i < nc; i++)
			if (one(&c[i], argv[2], argv[3]) < 0) {
				fprintf(stderr, "spawn: %s: the probe did not report\n", c[i].label);
				return 1;
			}
	for (int i = 0; i < nc; i++) {
		qsort(c[i].lat, (size_t)c[i].n, sizeof *c[i].lat, cmp);
		qsort(c[i].cpu, (size_t)c[i].n, sizeof *c[i].cpu, cmp);
		printf("%s %.1f %.1f %.1f %d\n", c[i].label, c[i].lat[c[i].n / 2] / 1e3,
		       c[i].lat[c[i].n * 9 / 10] / 1e3, c[i].cpu[c[i].n / 2] / 1e3, c[i].old);
	}
	return 0;
}

#endif
