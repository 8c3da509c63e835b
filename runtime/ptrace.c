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
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/base.h"
#include "runtime/runtime_internal.h"

#define STOP_TIMEOUT_NS 2000000000ull /* a thread that does not stop in 2 s: give up */

uint64_t rt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Wait for tid to stop. Returns 1 stopped, 0 gone (it exited), -1 timeout.
 * *sig gets the signal of a signal-delivery stop (0 for an interrupt, a
 * group stop or a system-call stop); *sysstop is true for a system-call stop.
 */
static int wait_stop_ex(pid_t tid, uint64_t deadline, int *sig, bool *sysstop)
{
	*sig = 0;
	*sysstop = false;
	for (unsigned spins = 0;; spins++) {
		int status;
		pid_t r = waitpid(tid, &status, __WALL | (spins < 64 ? 0 : WNOHANG));
		if (r == tid) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				return 0;
			if (WIFSTOPPED(status)) {
				int event = status >> 16;
				if (WSTOPSIG(status) == (SIGTRAP | 0x80))
					*sysstop = true;
				else if (event == 0 && WSTOPSIG(status) != SIGTRAP)
					*sig = WSTOPSIG(status);
				return 1;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECHILD ? 0 : -1;
		if (rt_now_ns() > deadline)
			return -1;
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
}

static int wait_stop(pid_t tid, uint64_t deadline, int *sig)
{
	bool sysstop;
	return wait_stop_ex(tid, deadline, sig, &sysstop);
}

/*
 * Whether tid is a thread of pid. Checked after attaching: a thread seen in
 * /proc/PID/task may have exited and its number gone to another process
 * before the attach; once attached, the number cannot change hands.
 */
static bool member(pid_t pid, pid_t tid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(path, F_OK) == 0;
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
		char st = proc_thread_state(pid, (pid_t)tid);
		if (st == 'Z' || st == 'X')
			continue; /* an exited main thread: nothing runs there */
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
		if (ptrace(PTRACE_SEIZE, th->tid, 0, PTRACE_O_TRACESYSGOOD) < 0) {
			if (errno == ESRCH)
				continue; /* exited meanwhile */
			return hp_err(ctx, errno == EPERM ? HP_ELOCKED : HP_ERROR, NULL, NULL,
				      "process %d: cannot attach to thread %d: %s%s", (int)pid,
				      (int)th->tid, strerror(errno),
				      errno == EPERM ? " (already traced, or not permitted)" : "");
		}
		if (!member(pid, th->tid)) {
			ptrace(PTRACE_DETACH, th->tid, 0, 0); /* not ours: exited and reused */
			continue;
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
	uint64_t deadline = rt_now_ns() + STOP_TIMEOUT_NS;
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


/*
 * Seize and stop one thread of pid, to run system calls in it. A thread that
 * stops for a signal is let go with that signal (delivered as it would have
 * been) and stopped again, so the stop it is held in is a plain interrupt and
 * its registers are the ones it would resume with.
 */
int thread_stop_one(struct hp_ctx *ctx, pid_t pid, pid_t tid, struct rt_thread *t)
{
	memset(t, 0, sizeof *t);
	t->tid = tid;
	for (int tries = 0;; tries++) {
		if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) < 0)
			return hp_err(ctx, errno == EPERM ? HP_ELOCKED : HP_ERROR, NULL, NULL,
				      "thread %d: cannot attach: %s%s", (int)tid, strerror(errno),
				      errno == EPERM ? " (already traced, or not permitted)" : "");
		t->seized = true;
		if (!member(pid, tid)) {
			thread_release_one(t);
			return hp_err(ctx, HP_EMISMATCH, NULL, NULL, "thread %d: no longer a thread of process %d",
				      (int)tid, (int)pid);
		}
		ptrace(PTRACE_INTERRUPT, tid, 0, 0);
		int r = wait_stop(tid, rt_now_ns() + STOP_TIMEOUT_NS, &t->sig);
		if (r <= 0) {
			thread_release_one(t);
			return hp_err(ctx, r == 0 ? HP_EMISMATCH : HP_EBUSY, NULL, NULL, "thread %d: %s",
				      (int)tid, r == 0 ? "exited" : "did not stop within 2 s");
		}
		t->stopped = true;
		if (!t->sig || tries >= 8)
			break;
		thread_release_one(t); /* hands the signal back */
	}
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

/* Offsets in the stub's block (runtime/stub.S). */
#define BLK_CALLS 8
#define BLK_CALL_SIZE 72
#define BLK_REGS (8 + RT_STUB_MAX_CALLS * BLK_CALL_SIZE)
#define BLK_FLAGS (BLK_REGS + 15 * 8)
#define BLK_RIP (BLK_FLAGS + 8)
#define BLK_SIZE (BLK_RIP + 8)
#define RED_ZONE 128
_Static_assert(BLK_SIZE == 720, "the block runtime/stub.S expects");

/*
 * The registers the thread resumes with, as the kernel would set them: a
 * thread stopped on its way out of an interrupted system call restarts it
 * (the kernel does so on resuming a thread no signal handler runs for). The
 * stub's return makes the same adjustment unnecessary to redo: orig_rax does
 * not travel in the block.
 */
static void resume_regs(const struct user_regs_struct *in, struct user_regs_struct *out)
{
	*out = *in;
	if ((long long)in->orig_rax < 0)
		return;
	switch ((long long)in->rax) {
	case -512: /* ERESTARTSYS */
	case -513: /* ERESTARTNOINTR */
	case -514: /* ERESTARTNOHAND */
		out->rax = in->orig_rax;
		out->rip -= 2;
		break;
	case -516: /* ERESTART_RESTARTBLOCK */
		out->rax = SYS_restart_syscall;
		out->rip -= 2;
		break;
	}
}

/*
 * The block for stopped thread t (zeroed, with the registers it resumes with)
 * in buf (RT_STUB_MAX_DATA bytes of data, then the block); returns where the
 * block goes: below the thread's stack pointer and its red zone.
 */
static uint64_t fill_block(const struct rt_thread *t, uint8_t buf[RT_STUB_MAX_DATA + BLK_SIZE])
{
	uint8_t *blk = buf + RT_STUB_MAX_DATA;
	memset(buf, 0, RT_STUB_MAX_DATA + BLK_SIZE);
	struct user_regs_struct home;
	resume_regs(&t->regs, &home);
	const unsigned long long regs[15] = { home.r15, home.r14, home.r13, home.r12, home.r11,
					      home.r10, home.r9,  home.r8,  home.rdi, home.rsi,
					      home.rbp, home.rbx, home.rdx, home.rcx, home.rax };
	for (int k = 0; k < 15; k++)
		hp_store_le64(blk + BLK_REGS + 8 * k, regs[k]);
	hp_store_le64(blk + BLK_FLAGS, home.eflags);
	hp_store_le64(blk + BLK_RIP, home.rip);
	return t->regs.rsp - RED_ZONE - BLK_SIZE;
}

int thread_calls(struct rt_proc *p, struct rt_thread *t, struct rt_call *c, size_t n,
		 const void *data, size_t dlen, bool *started)
{
	struct hp_ctx *ctx = p->ctx;
	*started = false;
	if (n == 0 || n > RT_STUB_MAX_CALLS || dlen > RT_STUB_MAX_DATA || !p->stub)
		return hp_err(ctx, HP_ERROR, NULL, NULL, "internal: %zu system calls at once", n);
	uint8_t buf[RT_STUB_MAX_DATA + BLK_SIZE], *blk = buf + RT_STUB_MAX_DATA;
	uint64_t b = fill_block(t, buf);
	/* The data just below the block: a signal frame would start below it. */
	uint64_t data_at = b - RT_STUB_MAX_DATA;
	if (dlen)
		memcpy(buf, data, dlen);
	hp_store_le64(blk, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t *q = blk + BLK_CALLS + i * BLK_CALL_SIZE;
		hp_store_le64(q, (uint64_t)c[i].nr);
		for (int k = 0; k < 6; k++)
			hp_store_le64(q + 8 + 8 * k, c[i].flags & RT_ARG_DATA(k)
							     ? data_at
							     : (uint64_t)c[i].args[k]);
		hp_store_le64(q + 56, c[i].flags & 0xffff);
		hp_store_le64(q + 64, (uint64_t)-1);
	}
	int err = proc_write(p, data_at, buf, sizeof buf);
	if (err < 0)
		return err; /* nothing changed yet */
	struct user_regs_struct r = t->regs;
	r.rip = p->stub;
	r.rsp = b;
	r.orig_rax = (unsigned long long)-1; /* no restart applied on the way out of this stop */
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) < 0)
		return hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot set registers: %s",
			      (int)t->tid, strerror(errno));
	*started = true;
	/*
	 * From here on the thread is on its way home whatever happens to us. Follow
	 * it to the exit of each call, where the kernel reports the result.
	 */
	size_t exits = 0;
	uint64_t deadline = rt_now_ns() + STOP_TIMEOUT_NS;
	while (exits < n) {
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot resume: %s", (int)t->tid,
				     strerror(errno));
			break;
		}
		int sig;
		bool sysstop;
		int w = wait_stop_ex(t->tid, deadline, &sig, &sysstop);
		if (w <= 0) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: %s while making system calls",
				     (int)t->tid, w == 0 ? "exited" : "did not come back");
			if (w == 0)
				t->seized = false;
			break;
		}
		if (sysstop) {
			/* Count the exits of the stub's own calls: a stop may also report
			 * the thread's way out of the call it was interrupted in. */
			struct __ptrace_syscall_info info;
			long got = ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof info, &info);
			if (got > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT &&
			    info.instruction_pointer > p->stub &&
			    info.instruction_pointer <= p->stub + (uint64_t)(rt_stub_end - rt_stub))
				c[exits++].ret = (long)info.exit.rval;
		} else if (sig && !t->sig) {
			t->sig = sig; /* held back, handed over when it is let go */
		}
	}
	/* Let it go: the stub's tail puts its registers back. */
	thread_release_one(t);
	return err;
}

uint64_t stub_call_site(const struct rt_proc *p)
{
	return p->stub + (uint64_t)(rt_stub_ret - rt_stub);
}

size_t park_calls(struct rt_call c[8])
{
	/* Placeholders stand for the pointers into the thread's block. */
	const long at = 0x7ff000000000, fd = 3;
	size_t n = 0;
	c[n++] = (struct rt_call){ SYS_rt_sigprocmask, { SIG_BLOCK, at, at, 8 } };
	c[n++] = (struct rt_call){ SYS_clock_gettime, { CLOCK_MONOTONIC, at } };
	c[n++] = (struct rt_call){ SYS_sched_yield, { 0 } };
	c[n++] = (struct rt_call){ SYS_open, { at, O_RDWR | O_CLOEXEC, 0 } };
	c[n++] = (struct rt_call){ SYS_pwrite64, { fd, at, 5, at } };
	c[n++] = (struct rt_call){ SYS_close, { fd } };
	c[n++] = (struct rt_call){ SYS_rt_sigprocmask, { SIG_SETMASK, at, 0, 8 } };
	return n;
}

/* Under a seccomp filter: would thread tid (stopped) let every call through? */
static int check_calls(struct rt_proc *p, pid_t tid, const struct rt_call *c, size_t n)
{
	struct rt_seccomp f;
	int err = seccomp_read(p->ctx, p->pid, tid, &f);
	if (err < 0)
		return err;
	err = seccomp_check(p->ctx, p->pid, tid, &f, c, n, stub_call_site(p), proc_lowest_free_fd(p));
	seccomp_free(&f);
	return err;
}

int proc_calls(struct rt_proc *p, struct rt_call *c, size_t n, const void *data, size_t dlen)
{
	pid_t *tids;
	size_t ntids;
	int err = proc_live_threads(p, &tids, &ntids);
	if (err < 0)
		return err;
	/* The thread /proc is read through first (the main one when it lives). */
	for (size_t i = 0; i < ntids; i++)
		if (tids[i] == p->tid) {
			tids[i] = tids[0];
			tids[0] = p->tid;
		}
	err = -HP_ERROR;
	for (size_t i = 0; i < ntids; i++) {
		struct rt_thread t;
		size_t mark = p->ctx->ndiags;
		if ((err = proc_alive(p)) < 0)
			break;
		if ((err = thread_stop_one(p->ctx, p->pid, tids[i], &t)) < 0) {
			if (err == -HP_ELOCKED)
				break; /* traced by another tool: so would the others be */
			if (i + 1 < ntids)
				hp_diag_rollback(p->ctx, mark);
			continue;
		}
		if (p->seccomp == 2 && (err = check_calls(p, t.tid, c, n)) < 0) {
			thread_release_one(&t);
			break; /* refused: nothing was made */
		}
		bool started;
		err = thread_calls(p, &t, c, n, data, dlen, &started);
		if (!started)
			thread_release_one(&t);
		if (err == 0 || started)
			break; /* begun: the calls run, whatever we see of them */
		if (i + 1 < ntids)
			hp_diag_rollback(p->ctx, mark);
	}
	free(tids);
	return err;
}

/*
 * Send every stopped thread of t into the stub with the commit word at ctl:
 * the last one to rt_commit, the others to rt_park (each with its block: all
 * signals to block at +8, room for its old mask at +16 and two times at +24),
 * then let them all go. On a failure before the committer is set, every
 * thread already sent is put back as it was, and none is let go.
 */
int threads_park(struct rt_proc *p, struct rt_threads *t, uint64_t ctl)
{
	struct hp_ctx *ctx = p->ctx;
	size_t i;
	int err = 0;
	for (i = 0; i < t->n; i++) {
		struct rt_thread *th = &t->v[i];
		uint8_t buf[RT_STUB_MAX_DATA + BLK_SIZE], *blk = buf + RT_STUB_MAX_DATA;
		uint64_t b = fill_block(th, buf);
		hp_store_le64(blk + 8, ~0ull);
		if ((err = proc_write(p, b, blk, BLK_SIZE)) < 0)
			break;
		struct user_regs_struct r = th->regs;
		r.rip = p->stub + (uint64_t)((i + 1 == t->n ? rt_commit : rt_park) - rt_stub);
		r.rsp = b;
		r.rdi = ctl;
		r.orig_rax = (unsigned long long)-1;
		if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) < 0) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL, "thread %d: cannot set registers: %s",
				     (int)th->tid, strerror(errno));
			break;
		}
	}
	if (err) {
		while (i-- > 0)
			ptrace(PTRACE_SETREGS, t->v[i].tid, 0, &t->v[i].regs);
		return err;
	}
	for (i = 0; i < t->n; i++) {
		ptrace(PTRACE_DETACH, t->v[i].tid, 0, 0);
		t->v[i].seized = t->v[i].stopped = false;
	}
	return 0;
}
