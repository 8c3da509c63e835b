/*
 * ptrace.c: stopping every thread of a process, and running a system call in
 * one of them.
 *
 * Threads are seized (PTRACE_SEIZE: attached without a stop) and then
 * interrupted (PTRACE_INTERRUPT: a stop that sends no signal and leaves the
 * process's signal state alone). All interrupts are sent before the first wait,
 * so the threads stop together and the window is as short as the slowest
 * thread's way to a stop. A thread can only be created by a running one, so
 * once every known thread is stopped a rescan of /proc/PID/task that finds no
 * new one proves the set complete; a thread that was inside clone() when
 * stopped can make one appear, hence the loop.
 *
 * A signal that arrives while a thread is held is not lost: its stop is
 * recorded and the signal handed back when the thread is released.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

#define STOP_TIMEOUT_NS 2000000000ull /* a thread that does not stop in 2 s: give up */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Wait for tid to stop. Returns 1 stopped, 0 gone (it exited), -1 timeout.
 * *sig gets the signal of a signal-delivery stop (0 for an interrupt).
 */
static int wait_stop(pid_t tid, uint64_t deadline, int *sig)
{
	*sig = 0;
	for (unsigned spins = 0;; spins++) {
		int status;
		pid_t r = waitpid(tid, &status, __WALL | (spins < 64 ? 0 : WNOHANG));
		if (r == tid) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				return 0;
			if (WIFSTOPPED(status)) {
				int event = status >> 16;
				if (event == 0 && WSTOPSIG(status) != SIGTRAP)
					*sig = WSTOPSIG(status);
				return 1;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECHILD ? 0 : -1;
		if (now_ns() > deadline)
			return -1;
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
}

static int push(struct hp_ctx *ctx, struct rt_threads *t, pid_t tid)
{
	if (hp_grow(ctx, &t->v, &t->cap, t->n, sizeof *t->v, 64) < 0)
		return -HP_ENOMEM;
	memset(&t->v[t->n], 0, sizeof t->v[t->n]);
	t->v[t->n++].tid = tid;
	return 0;
}

static bool known(const struct rt_threads *t, pid_t tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].tid == tid)
			return true;
	return false;
}

/* Add the threads of pid not yet in t; returns how many, or a negative error. */
static int scan(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return hp_err(ctx, HP_EMISMATCH, NULL, NULL, "process %d: cannot list its threads: %s",
			      (int)pid, strerror(errno));
	int added = 0, err = 0;
	struct dirent *e;
	while (!err && (e = readdir(d))) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0 || known(t, (pid_t)tid))
			continue;
		err = push(ctx, t, (pid_t)tid);
		added++;
	}
	closedir(d);
	return err ? err : added;
}

/* Seize the threads of t from index from on (no stop). */
static int seize_from(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t, size_t from)
{
	for (size_t i = from; i < t->n; i++) {
		struct rt_thread *th = &t->v[i];
		if (th->seized)
			continue;
		if (ptrace(PTRACE_SEIZE, th->tid, 0, 0) < 0) {
			if (errno == ESRCH)
				continue; /* exited meanwhile */
			return hp_err(ctx, HP_ERROR, NULL, NULL,
				      "process %d: cannot attach to thread %d: %s%s", (int)pid,
				      (int)th->tid, strerror(errno),
				      errno == EPERM ? " (already traced, or not permitted)" : "");
		}
		th->seized = true;
	}
	return 0;
}

/* Interrupt every seized thread from index from on, then wait for each. */
static int stop_from(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t, size_t from,
		     uint64_t deadline)
{
	for (size_t i = from; i < t->n; i++)
		if (t->v[i].seized && !t->v[i].stopped)
			ptrace(PTRACE_INTERRUPT, t->v[i].tid, 0, 0);
	for (size_t i = from; i < t->n; i++) {
		struct rt_thread *th = &t->v[i];
		if (!th->seized || th->stopped)
			continue;
		int sig, r = wait_stop(th->tid, deadline, &sig);
		if (r == 0) {
			th->seized = false; /* it exited */
			continue;
		}
		if (r < 0)
			return hp_err(ctx, HP_EBUSY, NULL, NULL,
				      "process %d: thread %d did not stop within 2 s", (int)pid,
				      (int)th->tid);
		th->stopped = true;
		th->sig = sig;
		if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) < 0)
			return hp_err(ctx, HP_ERROR, NULL, NULL,
				      "process %d: cannot read thread %d's registers: %s", (int)pid,
				      (int)th->tid, strerror(errno));
	}
	return 0;
}

int threads_seize(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t)
{
	t->n = 0;
	int added = scan(ctx, pid, t);
	if (added < 0)
		return added;
	int err = seize_from(ctx, pid, t, 0);
	if (err < 0)
		threads_release(t);
	return err;
}

int threads_stop(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t)
{
	uint64_t deadline = now_ns() + STOP_TIMEOUT_NS;
	int err = stop_from(ctx, pid, t, 0, deadline);
	/* Stopped threads create no thread; one caught inside clone() may have. */
	for (int round = 0; !err && round < 64; round++) {
		size_t from = t->n;
		int added = scan(ctx, pid, t);
		if (added <= 0) {
			err = added;
			break;
		}
		if ((err = seize_from(ctx, pid, t, from)) < 0)
			break;
		err = stop_from(ctx, pid, t, from, deadline);
	}
	if (err) {
		threads_release(t);
		return err;
	}
	/* Drop the threads that exited. */
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].seized)
			t->v[k++] = t->v[i];
	t->n = k;
	return 0;
}

void threads_release(struct rt_threads *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].seized)
			ptrace(PTRACE_DETACH, t->v[i].tid, 0, (void *)(uintptr_t)t->v[i].sig);
	for (size_t i = 0; i < t->n; i++)
		t->v[i].seized = t->v[i].stopped = false;
}

void threads_free(struct rt_threads *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

int thread_stop_one(struct hp_ctx *ctx, pid_t tid, struct rt_thread *t)
{
	memset(t, 0, sizeof *t);
	t->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
		return hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot attach: %s%s", (int)tid,
			      strerror(errno),
			      errno == EPERM ? " (already traced, or not permitted)" : "");
	t->seized = true;
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	int r = wait_stop(tid, now_ns() + STOP_TIMEOUT_NS, &t->sig);
	if (r <= 0) {
		thread_release_one(t);
		return hp_err(ctx, r == 0 ? HP_EMISMATCH : HP_EBUSY, NULL, NULL, "thread %d: %s",
			      (int)tid, r == 0 ? "exited" : "did not stop within 2 s");
	}
	t->stopped = true;
	if (ptrace(PTRACE_GETREGS, tid, 0, &t->regs) < 0) {
		int e = errno;
		thread_release_one(t);
		return hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot read registers: %s",
			      (int)tid, strerror(e));
	}
	return 0;
}

void thread_release_one(struct rt_thread *t)
{
	if (t->seized)
		ptrace(PTRACE_DETACH, t->tid, 0, (void *)(uintptr_t)t->sig);
	t->seized = t->stopped = false;
}

/*
 * The thread may have been stopped inside a blocking system call: its saved
 * registers then say "restart me" (orig_rax is the call, rax -ERESTARTSYS).
 * The injected call runs with orig_rax = -1 so the kernel does not apply that
 * restart to it; restoring the saved registers afterwards lets the original
 * call restart as it would have.
 */
int thread_syscall(struct hp_ctx *ctx, struct rt_thread *t, uint64_t insn, long nr,
		   const long args[6], long *ret)
{
	struct user_regs_struct r = t->regs;
	r.rax = (unsigned long long)nr;
	r.orig_rax = (unsigned long long)-1;
	r.rdi = (unsigned long long)args[0];
	r.rsi = (unsigned long long)args[1];
	r.rdx = (unsigned long long)args[2];
	r.r10 = (unsigned long long)args[3];
	r.r8 = (unsigned long long)args[4];
	r.r9 = (unsigned long long)args[5];
	r.rip = insn;
	int err = 0;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) < 0)
		return hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot set registers: %s",
			      (int)t->tid, strerror(errno));
	for (int tries = 0;; tries++) {
		if (ptrace(PTRACE_SINGLESTEP, t->tid, 0, 0) < 0) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot step: %s",
				     (int)t->tid, strerror(errno));
			break;
		}
		int sig, w = wait_stop(t->tid, now_ns() + STOP_TIMEOUT_NS, &sig);
		if (w <= 0) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: %s during a system call",
				     (int)t->tid, w == 0 ? "exited" : "did not come back");
			t->seized = false;
			return err;
		}
		if (ptrace(PTRACE_GETREGS, t->tid, 0, &r) < 0) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot read registers: %s",
				     (int)t->tid, strerror(errno));
			break;
		}
		if (r.rip == insn + 2) {
			*ret = (long)r.rax;
			break;
		}
		/* A signal stopped it before the call ran: keep it for later, step again. */
		if (sig && !t->sig)
			t->sig = sig;
		if (tries > 8) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL,
				     "thread %d: the system call did not complete (at %#llx)",
				     (int)t->tid, (unsigned long long)r.rip);
			break;
		}
	}
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs) < 0 && !err)
		err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot restore registers: %s",
			     (int)t->tid, strerror(errno));
	return err;
}
