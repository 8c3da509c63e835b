/*
 * target.c: the process tests/faults/run.sh patches and interrupts.
 *
 *   target [--flat N] [--nice N] [--main-exit] REQ RESP
 *
 * Sixteen workers call fx_a() (fx.c, replaced by the patch together with fx_b
 * and fx_c) and check every answer against the old and the new one (fx.h);
 * anything else, a mix of old and new code, aborts the process. (Only fx_a:
 * the applier keeps every thread out of the functions it replaces, so a call
 * of fx_a sees one version throughout; a thread may well be stopped inside
 * fx_d, which it does not replace, between its calls of fx_b and fx_c.)
 * The workers differ in how they wait, so that a patch finds threads in every
 * state:
 *
 *   flat    N of them (default 2): compute, spin a little outside fx.c, again
 *   sleep   nanosleep(1 ms) after each batch (restarted as restart_syscall)
 *   pipe    read(2) one byte from a pipe after each batch (-ERESTARTSYS)
 *   writer  one thread writes a byte per reader to that pipe every 0.5 ms
 *           (clock_nanosleep)
 *   futex   pthread_cond_timedwait(1 ms) on a condition never signalled
 *
 * The waits are long enough that the target takes little CPU besides its busy
 * workers, and short enough that every thread runs hundreds of times a second.
 *
 * Every system call a worker makes is checked too: an error (a restart the
 * applier mishandled shows up as EINTR or a kernel-internal errno) aborts.
 *
 * A reporter thread answers the harness over two FIFOs: for each line "Q SEQ"
 * read from REQ it writes "SEQ VERSION CALLS" to RESP, VERSION being old, new
 * or mixed (the answers of fx_a, fx_d, fx_b and fx_c for several x, compared
 * with fx.h: mixed when they disagree, say an entry left redirected) and CALLS
 * the number of fx_a() calls the workers made so far. "ready PID" goes to
 * stdout once every thread runs. --nice lowers the priority of every thread,
 * so that the busy workers take no CPU from the tools the harness runs. The
 * main thread waits in pthread_join (a futex), or with --main-exit calls
 * pthread_exit and leaves the others running.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fx.h"

#define WORKERS 16

static int pipefd[2];
static int nreaders;
static _Atomic unsigned long long calls;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void die(const char *what, int tid, long a, long b)
{
	char msg[200];
	int n = snprintf(msg, sizeof msg, "target: worker %d: %s (%ld, %ld)\n", tid, what, a, b);
	if (write(2, msg, (size_t)n) < 0)
		_exit(99);
	abort();
}

/* Call fx_a a few times; abort on an answer that is neither old nor new. */
static void batch(int id, unsigned *x, int n)
{
	for (int i = 0; i < n; i++) {
		int v = (int)(*x & 1023);
		*x = *x * 1103515245u + 12345u;
		int r = fx_a(v);
		if (r != FX_OLD(v) && r != FX_NEW(v))
			die("fx_a gave neither the old nor the new answer", id, v, r);
	}
	atomic_fetch_add_explicit(&calls, (unsigned long long)n, memory_order_relaxed);
}

enum kind { FLAT, SLEEP, PIPE, WRITER, FUTEX };

struct worker {
	int id;
	enum kind kind;
};

static void *work(void *arg)
{
	const struct worker *w = arg;
	unsigned x = (unsigned)w->id * 7919u + 1;
	static const char *names[] = { "flat", "sleep", "pipe", "writer", "futex" };
	char name[16];
	snprintf(name, sizeof name, "%s%d", names[w->kind], w->id);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		switch (w->kind) {
		case FLAT: {
			batch(w->id, &x, 1);
			/* Most of the time outside fx.c, so that safe moments exist. */
			volatile unsigned spin = 0;
			for (int i = 0; i < 200; i++)
				spin += (unsigned)i;
			break;
		}
		case SLEEP: {
			batch(w->id, &x, 16);
			struct timespec ts = { 0, 1000000 };
			if (nanosleep(&ts, NULL) < 0)
				die("nanosleep failed", w->id, errno, 0);
			break;
		}
		case PIPE: {
			batch(w->id, &x, 16);
			char c;
			ssize_t k = read(pipefd[0], &c, 1);
			if (k != 1)
				die("read of the pipe failed", w->id, (long)k, errno);
			break;
		}
		case WRITER: {
			batch(w->id, &x, 16);
			struct timespec ts = { 0, 500000 };
			int e = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
			if (e)
				die("clock_nanosleep failed", w->id, e, 0);
			char buf[WORKERS] = { 0 };
			ssize_t k = write(pipefd[1], buf, (size_t)nreaders);
			if (k != nreaders)
				die("write to the pipe failed", w->id, (long)k, errno);
			break;
		}
		case FUTEX: {
			batch(w->id, &x, 16);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_mutex_lock(&mu);
			int e = pthread_cond_timedwait(&never, &mu, &ts);
			pthread_mutex_unlock(&mu);
			if (e && e != ETIMEDOUT)
				die("pthread_cond_timedwait failed", w->id, e, 0);
			break;
		}
		}
	}
	return NULL;
}

/*
 * old, new or mixed: what the code answers now, through fx_a, fx_d, fx_b and
 * fx_c called one after the other. Workers may be stopped between two calls
 * while a patch goes in, so only here, asked when no tool is at work, must
 * all four agree.
 */
static const char *version(void)
{
	int olds = 0, news = 0, n = 0;
	for (int v = 0; v < 64; v += 7) {
		int r[4] = { fx_a(v), fx_d(v), fx_b(v), fx_c(v) };
		int o[4] = { FX_OLD(v), FX_D_OLD(v), FX_B_OLD(v), FX_C_OLD(v) };
#ifdef SINGLE
		int w[4] = { FX_NEW(v), FX_D_NEW(v), FX_B_NEW(v), FX_C_OLD(v) };
#else
		int w[4] = { FX_NEW(v), FX_D_NEW(v), FX_B_NEW(v), FX_C_NEW(v) };
#endif
		for (int k = 0; k < 4; k++, n++) {
			olds += r[k] == o[k];
			news += r[k] == w[k];
		}
	}
	return olds == n ? "old" : news == n ? "new" : "mixed";
}

static const char *req_path, *resp_path;

static void *reporter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "reporter");
	/* Read-write: neither open blocks, and the reader never sees end of file. */
	int in = open(req_path, O_RDWR | O_CLOEXEC);
	int out = open(resp_path, O_RDWR | O_CLOEXEC);
	if (in < 0 || out < 0)
		die("cannot open the FIFOs", -1, errno, 0);
	char line[256];
	size_t have = 0;
	for (;;) {
		ssize_t k = read(in, line + have, sizeof line - 1 - have);
		if (k <= 0)
			die("read of the request FIFO failed", -1, (long)k, errno);
		have += (size_t)k;
		char *nl;
		while ((nl = memchr(line, '\n', have))) {
			*nl = 0;
			unsigned long seq = 0;
			if (sscanf(line, "Q %lu", &seq) == 1) {
				char msg[96];
				int n = snprintf(msg, sizeof msg, "%lu %s %llu\n", seq, version(),
						 atomic_load(&calls));
				if (write(out, msg, (size_t)n) != n)
					die("write of the answer failed", -1, errno, 0);
			}
			size_t used = (size_t)(nl + 1 - line);
			memmove(line, nl + 1, have - used);
			have -= used;
		}
		if (have == sizeof line - 1)
			have = 0; /* a line that long is no request */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int flat = 2;
	int main_exit = 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--flat") && i + 1 < argc)
			flat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--nice") && i + 1 < argc)
			setpriority(PRIO_PROCESS, 0, atoi(argv[++i])); /* the threads inherit it */
		else if (!strcmp(argv[i], "--main-exit"))
			main_exit = 1;
		else
			break;
	}
	if (argc - i != 2 || flat < 0 || flat > 8) {
		fprintf(stderr, "usage: target [--flat N] [--nice N] [--main-exit] REQ RESP\n");
		return 2;
	}
	req_path = argv[i];
	resp_path = argv[i + 1];
	if (pipe(pipefd) < 0)
		return 1;
	/* The kinds, in order: flat workers first, then the others in turn. */
	static struct worker w[WORKERS];
	static const enum kind rest[] = { SLEEP, PIPE, FUTEX, SLEEP, PIPE, FUTEX, PIPE };
	int k = 0, writer = 0;
	for (int n = 0; n < WORKERS; n++) {
		w[n].id = n;
		if (n < flat)
			w[n].kind = FLAT;
		else if (!writer) {
			w[n].kind = WRITER;
			writer = 1;
		} else {
			w[n].kind = rest[k++ % (sizeof rest / sizeof rest[0])];
		}
		nreaders += w[n].kind == PIPE;
	}
	pthread_t t;
	for (int n = 0; n < WORKERS; n++)
		if (pthread_create(&t, NULL, work, &w[n]))
			return 1;
	pthread_t rep;
	if (pthread_create(&rep, NULL, reporter, NULL))
		return 1;
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (main_exit)
		pthread_exit(NULL);
	pthread_join(rep, NULL);
	return 0;
}
