/*
 * window.c: the stop window. Every thread of the process is stopped for as
 * short as possible; the window holds the safety check (no thread's
 * instruction pointer in a function being replaced, no address inside one
 * anywhere on its stack) and a body (the entry writes). An unsafe window
 * releases the threads, waits (1 ms, doubling up to 50 ms) and tries again
 * until the deadline.
 *
 * The stack check is conservative: every 8-byte word from the stack pointer to
 * the end of its mapping that holds an address inside a function being
 * replaced counts as a return address into it. A stale word can delay a patch,
 * never let a thread return into code that changed under it.
 *
 * While the threads are stopped nothing may stop the tool: SIGINT, SIGTERM
 * and SIGHUP only set a flag (runtime_signal) that is looked at after the
 * window; the tool asks the OOM killer to pass it over (root only) for the
 * window's length; and a watchdog process resumes it should it be stopped
 * (SIGSTOP) while it holds them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/base.h"
#include "runtime/runtime_internal.h"

#define MAX_STACK_SCAN (8u << 20) /* bytes of one thread's stack read at most */

/* ----- hot ranges and the safety check --------------------------------------- */

int add_hot(struct hp_ctx *ctx, struct hots *h, uint64_t lo, uint64_t size,
		   const char *what)
{
	if (hp_arena_grow(ctx, &h->v, &h->cap, h->n, sizeof *h->v, 16) < 0)
		return -HP_ENOMEM;
	h->v[h->n++] = (struct hot){ lo, lo + size, what };
	if (h->n == 1 || lo < h->min)
		h->min = lo;
	if (h->n == 1 || lo + size > h->max)
		h->max = lo + size;
	return 0;
}

static const struct hot *hot_at(const struct hots *h, uint64_t a)
{
	if (a < h->min || a >= h->max)
		return NULL; /* most stack words: data, not code addresses */
	for (size_t i = 0; i < h->n; i++)
		if (a >= h->v[i].lo && a < h->v[i].hi)
			return &h->v[i];
	return NULL;
}

/*
 * Whether every stopped thread is clear of the hot ranges. When not, *why says
 * which thread and function.
 */
static bool safe(struct rt_proc *p, const struct rt_threads *t, const struct hots *h,
		 uint8_t *buf, const char **why)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct rt_thread *th = &t->v[i];
		const struct hot *x = hot_at(h, th->regs.rip);
		if (x) {
			*why = hp_arena_printf(p->ctx, "thread %d is executing %s", (int)th->tid,
					       x->what);
			return false;
		}
		uint64_t sp = th->regs.rsp & ~7ull;
		const struct rt_map *m = proc_map_at(p, sp);
		if (!m) {
			proc_read_maps(p);
			m = proc_map_at(p, sp);
		}
		if (!m) {
			*why = hp_arena_printf(p->ctx,
					       "thread %d: its stack pointer %#" PRIx64 " is in no mapping; cannot check its stack",
					       (int)th->tid, sp);
			return false;
		}
		uint64_t n = m->end - sp;
		if (n > MAX_STACK_SCAN) {
			*why = hp_arena_printf(p->ctx,
					       "thread %d: more than %u bytes of stack in use; cannot check it all",
					       (int)th->tid, MAX_STACK_SCAN);
			return false;
		}
		size_t mark = p->ctx->ndiags;
		if (proc_read(p, sp, buf, (size_t)n) < 0) {
			hp_diag_rollback(p->ctx, mark);
			*why = hp_arena_printf(p->ctx, "thread %d: its stack cannot be read",
					       (int)th->tid);
			return false;
		}
		for (uint64_t k = 0; k + 8 <= n; k += 8) {
			x = hot_at(h, hp_load_le64(buf + k));
			if (x) {
				*why = hp_arena_printf(p->ctx,
						       "thread %d will return into %s (stack word at sp+%#" PRIx64 ")",
						       (int)th->tid, x->what, k);
				return false;
			}
		}
	}
	return true;
}

/* ----- the windows ------------------------------------------------------------ */

/*
 * While the threads are stopped, the tool must not wait for a CPU: each thread
 * it wakes to release would otherwise preempt it, and the last thread would wait
 * for all the others to run first. A real-time priority for the length of the
 * windows keeps the tool on its CPU; without the privilege, it runs as it is.
 */
static bool realtime_enter(int *policy, struct sched_param *old)
{
	*policy = sched_getscheduler(0);
	if (*policy < 0 || sched_getparam(0, old) < 0)
		return false;
	struct sched_param rt = { .sched_priority = 1 };
	return sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
}

static void realtime_leave(int policy, const struct sched_param *old)
{
	sched_setscheduler(0, policy, old);
}

/*
 * The OOM killer passes over a process whose oom_score_adj is -1000: set for
 * the length of the windows (root may; for others this does nothing).
 */
static int oom_enter(void)
{
	int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return INT_MIN;
	char buf[16] = "";
	int old = INT_MIN;
	if (read(fd, buf, sizeof buf - 1) > 0)
		old = atoi(buf);
	if (old == INT_MIN || pwrite(fd, "-1000", 5, 0) != 5)
		old = INT_MIN;
	close(fd);
	return old;
}

static void oom_leave(int old)
{
	if (old == INT_MIN)
		return;
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%d", old);
	if (write(fd, buf, (size_t)n) != n) {
		/* Nothing to do about it: the score stays low until the tool exits. */
	}
	close(fd);
}

/*
 * A process stopped with SIGSTOP cannot release the threads it holds. The
 * watchdog, a child that shares one word with the tool, sends it SIGCONT
 * whenever it finds it stopped ('T') with threads held. It dies with the tool
 * (PR_SET_PDEATHSIG) or when told to.
 */
struct watchdog {
	pid_t pid;
	volatile int *holding;
};

static void watchdog_start(struct watchdog *w)
{
	w->pid = -1;
	w->holding = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->holding == MAP_FAILED) {
		w->holding = NULL;
		return;
	}
	pid_t parent = getpid();
	w->pid = fork();
	if (w->pid != 0)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (;;) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		if (!*w->holding)
			continue;
		char st = proc_thread_state(parent, parent);
		if (st == '?')
			_exit(0);
		if (st == 'T' && *w->holding)
			kill(parent, SIGCONT);
	}
}

static void watchdog_stop(struct watchdog *w)
{
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (w->holding)
		munmap((void *)w->holding, 4096);
}

int run_windows(struct rt_proc *p, const struct hots *hot, const struct rt_opts *o, uint64_t t0,
		const struct window_ops *ops, struct rt_result *out)
{
	uint64_t deadline = t0 + (uint64_t)(o->timeout_ms ? o->timeout_ms : 5000) * 1000000ull;
	uint64_t backoff = 1000000;
	struct rt_threads t = { 0 };
	uint8_t *stack = malloc(MAX_STACK_SCAN);
	if (!stack)
		return hp_nomem(p->ctx);
	int err = 0;
	const char *why = NULL;
	int policy;
	struct sched_param old;
	struct watchdog wd;
	watchdog_start(&wd);
	int oom = oom_enter();
	bool rt = realtime_enter(&policy, &old);
	for (;;) {
		out->attempts++;
		if ((err = proc_alive(p)) < 0 || (err = threads_seize(p->ctx, p->pid, &t)) < 0)
			break;
		uint64_t w0 = rt_now_ns();
		if (wd.holding)
			*wd.holding = 1;
		err = threads_stop(p->ctx, p->pid, &t);
		bool ok = false;
		if (err == 0) {
			ok = safe(p, &t, hot, stack, &why);
			if (ok)
				err = ops->body(p, &t, ops->arg);
			threads_release(&t); /* those the body did not let go */
		}
		if (wd.holding)
			*wd.holding = 0;
		uint64_t pause = rt_now_ns() - w0;
		out->threads = (unsigned)t.n;
		if (pause > out->pause_ns)
			out->pause_ns = pause;
		if (ok && err > 0) {
			err = 0;
			if (rt_now_ns() < deadline)
				continue; /* the body asks for another window at once */
			err = hp_err(p->ctx, HP_EBUSY, NULL, NULL,
				     "process %d: the switch did not happen in %u ms (%u attempts)",
				     (int)p->pid, o->timeout_ms ? o->timeout_ms : 5000, out->attempts);
			break;
		}
		if (ok || err)
			break;
		out->blocker = why;
		if (runtime_signal && !o->finishing) {
			err = hp_err(p->ctx, HP_EINTR, NULL, NULL,
				     "process %d: interrupted by signal %d while waiting for a safe moment",
				     (int)p->pid, (int)runtime_signal);
			break;
		}
		if (rt_now_ns() + backoff > deadline) {
			err = hp_err(p->ctx, HP_EBUSY, NULL, NULL,
				     "process %d: no safe moment in %u ms (%u attempts): %s", (int)p->pid,
				     o->timeout_ms ? o->timeout_ms : 5000, out->attempts, why);
			break;
		}
		struct timespec ts = { 0, (long)backoff };
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > 50000000 ? 50000000 : backoff * 2;
	}
	if (rt)
		realtime_leave(policy, &old);
	oom_leave(oom);
	watchdog_stop(&wd);
	threads_free(&t);
	free(stack);
	return err;
}
