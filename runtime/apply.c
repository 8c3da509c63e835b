/*
 * apply.c: runtime_apply(), runtime_revert(), runtime_status(), and the
 * recovery of an operation a killed tool left unfinished.
 *
 * Everything slow happens while the process runs: resolving the functions and
 * symbols in its images, checking the old bytes, mapping the image next to the
 * target, writing the code, setting the final protections (system calls a
 * thread of the process makes through the stub, runtime/stub.S). Only then is
 * every thread stopped, for as short as possible, to write the entry jumps
 * (runtime/window.c).
 *
 * Kill-safe: the tool may die at any instant (SIGKILL, OOM, a crash).
 *   - No thread is ever left with registers it did not have: system calls run
 *     through the stub, which restores the thread by itself; nothing is
 *     single-stepped; the kernel lets every held thread go when the tool dies.
 *   - The record in the process says what is under way before anything is
 *     touched: an apply is recorded (op APPLY, its image's address, every
 *     entry's saved bytes) before its image is mapped, a revert (op REVERT)
 *     before its first entry is restored, and the operation is marked done
 *     after. Records are written crash-safely (state.c).
 *   - The next tool to take the process (hpapply, a revert, hpstatus) finds
 *     an operation whose writer is gone and finishes it or rolls it back from
 *     the record and the bytes it finds at each entry (recover()), and says
 *     which. An entry holding neither the old bytes nor the jump is not
 *     touched: the record is reported as disagreeing with the code.
 *   - The entries of several functions switch together, made by the process
 *     itself (set_entries()): once its threads are let go, the switch happens
 *     whole whatever becomes of the tool. One entry is one 5-byte write made
 *     while every thread is stopped.
 * docs/applier.md tells the whole story, step by step.
 *
 * Interrupted (SIGINT, SIGTERM, SIGHUP): the step under way is finished, then
 * what was begun is undone, and the operation fails with -HP_EINTR.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
#include "runtime/runtime_internal.h"

/* ----- signals -------------------------------------------------------------------- */

volatile sig_atomic_t runtime_signal;

static void on_signal(int sig)
{
	runtime_signal = sig;
}

void runtime_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a wait returns EINTR and the flag is seen */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A terminal's stop keys would hold the target's threads with the tool. */
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
}

static int interrupted(struct rt_proc *p)
{
	if (!runtime_signal)
		return 0;
	return hp_err(p->ctx, HP_EINTR, NULL, NULL, "process %d: interrupted by signal %d",
		      (int)p->pid, (int)runtime_signal);
}

/* ----- system calls in the process ----------------------------------------------------- */

/*
 * The stub's place, and whether it holds other bytes than its file's (the
 * stub itself, left by a tool killed before it could put them back).
 */
static int find_stub(struct rt_proc *p)
{
	if (p->stub)
		return 0;
	size_t n = (size_t)(rt_stub_end - rt_stub);
	uint8_t cur[1024];
	uint64_t at;
	int err;
	if (n > sizeof cur)
		return hp_err(p->ctx, HP_ERROR, NULL, NULL, "internal: the stub is %zu bytes", n);
	if ((err = proc_find_cave(p, n, &at, &p->stub_orig)) < 0 ||
	    (err = proc_read(p, at, cur, n)) < 0)
		return err;
	p->stub = at;
	p->stub_dirty = memcmp(cur, p->stub_orig, n) != 0;
	return 0;
}

/* Put the stub where it can run. */
static int place_stub(struct rt_proc *p)
{
	size_t n = (size_t)(rt_stub_end - rt_stub);
	uint8_t cur[1024];
	int err;
	if ((err = find_stub(p)) < 0 || (err = proc_read(p, p->stub, cur, n)) < 0)
		return err;
	if (memcmp(cur, rt_stub, n)) {
		p->stub_dirty = true;
		if ((err = proc_write(p, p->stub, rt_stub, n)) < 0)
			return err;
	}
	return 0;
}

static int put_back_stub(struct rt_proc *p, struct rt_threads *t, void *arg)
{
	(void)arg;
	(void)t;
	return proc_write(p, p->stub, p->stub_orig, (size_t)(rt_stub_end - rt_stub));
}

/*
 * Put back the bytes the stub covered, once no thread is in it nor will
 * return into it (checked with every thread stopped, as for a patch). A
 * thread still there past a short deadline leaves it for the next tool.
 */
static void remove_stub(struct rt_proc *p, const struct rt_opts *o, struct rt_result *out)
{
	if (!p->stub || !p->stub_dirty)
		return;
	struct hp_ctx *ctx = p->ctx;
	size_t mark = ctx->ndiags;
	struct hots hot = { 0 };
	struct rt_opts wo = *o;
	wo.timeout_ms = 2000;
	wo.finishing = true;
	struct rt_result r = { 0 };
	struct window_ops ops = { put_back_stub, NULL };
	if (add_hot(ctx, &hot, p->stub, (uint64_t)(rt_stub_end - rt_stub), "the system-call stub") < 0 ||
	    run_windows(p, &hot, &wo, rt_now_ns(), &ops, &r) < 0) {
		const char *why = ctx->ndiags > mark ? hp_arena_strdup(ctx, ctx->diags[mark].text) : NULL;
		hp_diag_rollback(ctx, mark);
		hp_warn(ctx, NULL, NULL,
			"process %d: the %zu-byte system-call stub is left at %#" PRIx64 " (unused code past the end of an image's code; %s); the next hotpatch tool removes it",
			(int)p->pid, (size_t)(rt_stub_end - rt_stub), p->stub, why ? why : "no safe moment");
		return;
	}
	p->stub_dirty = false;
	if (out && r.pause_ns > out->pause_ns)
		out->pause_ns = r.pause_ns; /* a stop too: the longest one is reported */
}

/* The mmap that gives one segment of the image at base its protections. */
static struct rt_call segment_call(uint64_t base, const struct hpx_segment *sg)
{
	int prot = (sg->prot & HPX_PROT_R ? PROT_READ : 0) | (sg->prot & HPX_PROT_W ? PROT_WRITE : 0) |
		   (sg->prot & HPX_PROT_X ? PROT_EXEC : 0);
	return (struct rt_call){ SYS_mmap,
				 { (long)(base + sg->offset), (long)sg->size, prot,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0 } };
}

/* The mmap that reserves size bytes at base, read-only, without replacing anything. */
static struct rt_call reserve_call(uint64_t base, uint64_t size)
{
	return (struct rt_call){ SYS_mmap,
				 { (long)base, (long)size, PROT_READ,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0 } };
}

static int unmap(struct rt_proc *p, uint64_t addr, uint64_t size)
{
	struct rt_call c = { SYS_munmap, { (long)addr, (long)size } };
	int err = proc_calls(p, &c, 1, NULL, 0);
	if (!err && c.ret < 0)
		err = hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: munmap %#" PRIx64 ": %s",
			     (int)p->pid, addr, strerror((int)-c.ret));
	return err;
}

/* The first 8 bytes of SHA-256 of an image's bytes. */
static uint64_t image_hash(const uint8_t *b, uint64_t n)
{
	uint8_t d[32];
	hp_sha256(b, (size_t)n, d);
	return hp_load_le64(d);
}

/*
 * Whether the mapping at x's image address is x's image: anonymous, starting
 * there, holding the bytes whose hash the record keeps. Anything else (nothing
 * mapped, or something the process mapped there since) is not ours to unmap.
 */
static bool image_is_ours(struct rt_proc *p, const struct rt_patch *x)
{
	proc_read_maps(p);
	const struct rt_map *m = proc_map_at(p, x->image_addr);
	if (!m || m->start != x->image_addr || m->path[0])
		return false;
	uint8_t *b = malloc(x->image_size);
	if (!b)
		return false;
	size_t mark = p->ctx->ndiags;
	bool ours = proc_read(p, x->image_addr, b, x->image_size) == 0 &&
		    image_hash(b, x->image_size) == x->image_hash;
	hp_diag_rollback(p->ctx, mark);
	free(b);
	return ours;
}

/* ----- the entries: each holds its old bytes or the jump ------------------------------- */

struct entry {
	uint64_t addr;
	uint8_t from[5], to[5]; /* what the window expects there, and what it writes */
	const char *name;
	bool written;
};

static void jump_to(uint8_t out[5], uint64_t at, uint64_t dest)
{
	out[0] = 0xe9;
	hp_store_le32(out + 1, (uint32_t)(int32_t)(int64_t)(dest - (at + 5)));
}

/*
 * The window's body: every entry that holds `from` gets `to`; one holding
 * `to` already is left; one holding anything else fails the whole body, and
 * what this body wrote is put back before the threads run.
 */
struct entries {
	struct entry *v;
	size_t n;
	uint64_t commit;        /* the commit area in the process; 0: the tool writes */
};

/* The tool writes each entry, with every thread stopped. */
static int write_entries(struct rt_proc *p, struct entries *e)
{
	int err = 0;
	for (size_t i = 0; i < e->n && !err; i++) {
		struct entry *x = &e->v[i];
		uint8_t cur[5];
		if ((err = proc_read(p, x->addr, cur, 5)) < 0)
			break;
		if (!memcmp(cur, x->to, 5))
			continue;
		if (memcmp(cur, x->from, 5)) {
			err = hp_err(p->ctx, HP_ERECORD, NULL, x->name,
				     "its entry at %#" PRIx64 " holds neither the bytes the record saved nor the jump; something else changed it",
				     x->addr);
			break;
		}
		if ((err = proc_write(p, x->addr, x->to, 5)) < 0)
			break;
		x->written = true;
	}
	if (err)
		for (size_t i = 0; i < e->n; i++)
			if (e->v[i].written && proc_write(p, e->v[i].addr, e->v[i].from, 5) == 0)
				e->v[i].written = false;
	return err;
}

/*
 * The entries and the path the committing thread needs, written into the
 * commit area while the process runs; the word is set to 0 in the window.
 */
static int prepare_commit(struct rt_proc *p, const struct rt_state *st, struct entries *e)
{
	e->commit = 0;
	if (!st->addr || e->n < 2 || e->n > RT_COMMIT_MAX || p->no_park)
		return 0; /* one entry is one write already; or the threads may not switch */
	size_t size = 32 + e->n * 24;
	uint8_t *b = calloc(1, size);
	if (!b)
		return hp_nomem(p->ctx);
	hp_store_le32(b, 4); /* called off until the window arms it */
	hp_store_le32(b + 4, (uint32_t)e->n);
	memcpy(b + 8, "/proc/self/mem", 15);
	for (size_t i = 0; i < e->n; i++) {
		uint8_t *q = b + 32 + i * 24;
		hp_store_le64(q, e->v[i].addr);
		memcpy(q + 8, e->v[i].to, 5);
		memcpy(q + 16, e->v[i].from, 5);
	}
	int err = proc_write(p, st->addr + RT_COMMIT_AT, b, size);
	free(b);
	if (err == 0)
		e->commit = st->addr + RT_COMMIT_AT;
	return err;
}

/*
 * The window's body: the entries of several functions switch together. Every
 * thread is parked in the stub and one of them writes every entry through
 * /proc/self/mem (threads_park()); from the moment the threads are let go the
 * switch is the process's own business: it happens whole or not at all,
 * whatever becomes of this tool. A process that cannot write its own code
 * (/proc not mounted, a hardened kernel), a thread stopped with a signal to
 * deliver, or entries not all as expected: the tool writes them itself.
 */
static int set_entries(struct rt_proc *p, struct rt_threads *t, void *arg)
{
	struct entries *e = arg;
	bool commit = e->commit != 0;
	for (size_t i = 0; i < t->n && commit; i++)
		commit = !t->v[i].sig;
	for (size_t i = 0; i < e->n && commit; i++) {
		uint8_t cur[5];
		commit = proc_read(p, e->v[i].addr, cur, 5) == 0 && !memcmp(cur, e->v[i].from, 5);
	}
	if (!commit)
		return write_entries(p, e);
	uint8_t zero[4] = { 0 };
	size_t mark = p->ctx->ndiags;
	int err = proc_write(p, e->commit, zero, 4);
	if (err == 0 && threads_park(p, t, e->commit) == 0) {
		/* Let go: wait for the word to say how it ended. */
		uint64_t deadline = rt_now_ns() + 10000000000ull;
		for (;;) {
			uint8_t w[4];
			if ((err = proc_read(p, e->commit, w, 4)) < 0)
				return err;
			uint32_t v = hp_load_le32(w);
			if (v == 2)
				return 0;
			if (v == 3) {
				e->commit = 0; /* it could not write its own code: we will */
				return 1;
			}
			if (v == 4)
				return 1; /* called off before it began: another window */
			if (rt_now_ns() > deadline)
				return hp_err(p->ctx, HP_ERROR, NULL, NULL,
					      "process %d: its threads did not finish switching in 10 s (commit word %u)",
					      (int)p->pid, v);
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
	hp_diag_rollback(p->ctx, mark); /* the threads are as they were: write them ourselves */
	e->commit = 0;
	return write_entries(p, e);
}

/* The entries of patch idx: towards the jumps (apply) or back (revert). */
static int entries_of(struct hp_ctx *ctx, const struct rt_state *st, uint32_t idx, bool apply,
		      struct entries *out)
{
	out->n = 0;
	out->commit = 0;
	out->v = hp_arena_array(ctx, st->nfuncs ? st->nfuncs : 1, sizeof *out->v);
	if (!out->v)
		return hp_nomem(ctx);
	for (uint32_t i = 0; i < st->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (f->patch != idx || !f->new_size)
			continue;
		struct entry *x = &out->v[out->n++];
		uint8_t jmp[5];
		jump_to(jmp, f->addr, f->new_addr);
		memcpy(x->from, apply ? f->saved : jmp, 5);
		memcpy(x->to, apply ? jmp : f->saved, 5);
		x->addr = f->addr;
		x->name = f->name;
	}
	return 0;
}

/* How many entries hold their `to` bytes, their `from` bytes, or neither. */
static int count_entries(struct rt_proc *p, const struct entries *e, size_t *to, size_t *from,
			 const char **other)
{
	*to = *from = 0;
	*other = NULL;
	for (size_t i = 0; i < e->n; i++) {
		uint8_t cur[5];
		int err = proc_read(p, e->v[i].addr, cur, 5);
		if (err < 0)
			return err;
		if (!memcmp(cur, e->v[i].to, 5))
			++*to;
		else if (!memcmp(cur, e->v[i].from, 5))
			++*from;
		else if (!*other)
			*other = e->v[i].name;
	}
	return 0;
}

/* ----- one process, pinned, locked, its record read ------------------------------------- */

struct session {
	struct hp_ctx *ctx;
	struct rt_proc p;
	struct rt_home home;
	int lock;
	struct rt_state *st;
	const struct rt_opts *o;
	uint64_t t0;
	struct rt_result *out;
};

static bool writer_alive(const struct rt_state *st)
{
	uint64_t t;
	return st->writer_pid && (pid_t)st->writer_pid != getpid() &&
	       proc_start_time((pid_t)st->writer_pid, &t) == 0 && t == st->writer_start;
}

/*
 * Finish or roll back the operation the record says is under way, whose
 * writer is gone. Returns 0 with out->recovered set, or an error (the record
 * is left as it was: a later tool can try again).
 */
static int recover(struct session *s, struct rt_result *out)
{
	struct rt_proc *p = &s->p;
	struct rt_state *st = s->st;
	struct hp_ctx *ctx = s->ctx;
	if (writer_alive(st))
		return hp_err(ctx, HP_ELOCKED, NULL, NULL,
			      "process %d: hotpatch tool %u (another user's?) is changing it",
			      (int)p->pid, st->writer_pid);
	uint32_t idx = st->op_patch;
	const struct rt_patch *x = &st->patches[idx];
	bool apply = st->op == RT_OP_APPLY;
	char id[33];
	hp_hex(id, x->patch_id, 16);
	memcpy(out->recovered_id, x->patch_id, 16);
	struct entries e;
	size_t to, from;
	const char *other;
	int err;
	/* A switch the dead tool armed may still be under way in the process: its
	 * parked threads call it off within a second unless it began, and once
	 * begun it finishes. Count the entries only after that. */
	for (int waited = 0;; waited++) {
		uint8_t w[4];
		if ((err = proc_read(p, st->addr + RT_COMMIT_AT, w, 4)) < 0)
			return err;
		uint32_t v = hp_load_le32(w);
		if ((v != 0 && v != 1) || waited > 5000)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if ((err = entries_of(ctx, st, idx, true, &e)) < 0 ||
	    (err = count_entries(p, &e, &to, &from, &other)) < 0)
		return err;
	if (other)
		return hp_err(ctx, HP_ERECORD, NULL, other,
			      "process %d: an interrupted %s of patch %s left this entry holding neither its old bytes nor the jump; not acted upon",
			      (int)p->pid, apply ? "apply" : "revert", id);
	bool forward; /* finish the operation, or undo it */
	if (apply)
		forward = to > 0; /* a jump written: finish; none: nothing took effect */
	else
		forward = from > 0 || e.n == 0; /* an entry restored: finish the revert */
	if (forward && to != e.n && from != e.n) {
		/* Half done: finish it in a window, with its own safety check. */
		struct hots hot = { 0 };
		if (apply) {
			for (size_t i = 0; i < e.n; i++)
				for (uint32_t k = 0; k < st->nfuncs; k++)
					if (st->funcs[k].addr == e.v[i].addr && st->funcs[k].patch == idx &&
					    (err = add_hot(ctx, &hot, e.v[i].addr, st->funcs[k].old_size,
							   e.v[i].name)) < 0)
						return err;
		} else {
			if ((err = entries_of(ctx, st, idx, false, &e)) < 0 ||
			    (err = add_hot(ctx, &hot, x->image_addr, x->image_size,
					   "the patch's code")) < 0)
				return err;
		}
		struct window_ops ops = { set_entries, &e };
		if ((err = prepare_commit(p, st, &e)) < 0)
			return err;
		struct rt_opts wo = *s->o;
		wo.finishing = true;
		struct rt_result r = { 0 };
		if ((err = run_windows(p, &hot, &wo, rt_now_ns(), &ops, &r)) < 0)
			return err;
	}
	bool unmapped = false;
	if (apply != forward) {
		/* The patch is gone from the process: its image too, when it is ours. */
		if (image_is_ours(p, x)) {
			if ((err = unmap(p, x->image_addr, x->image_size)) < 0)
				return err;
			unmapped = true;
		}
		state_drop_patch(st, idx);
	} else if (apply) {
		state_raise_high(st, x);
	}
	st->op = RT_OP_NONE;
	st->op_patch = 0;
	if ((err = state_write(p, s->home.key, st)) < 0)
		return err;
	out->recovered = forward ? "completed" : "rolled back";
	hp_warn(ctx, NULL, NULL,
		"process %d: an %s of patch %s was interrupted (tool %u is gone); %s it%s", (int)p->pid,
		apply ? "apply" : "revert", id, st->writer_pid, forward ? "completed" : "rolled back",
		!forward && apply && !unmapped ? " (its image was never mapped, or is not recognisably ours and is left)" : "");
	return 0;
}

/*
 * The attempt is over and undone: the record says no operation is under way.
 * Failing that, the intent stays, and the next tool finishes the undoing.
 */
static int clear_op(struct session *s)
{
	s->st->op = RT_OP_NONE;
	s->st->op_patch = 0;
	size_t mark = s->ctx->ndiags;
	if (state_write(&s->p, s->home.key, s->st) == 0)
		return 0;
	hp_diag_rollback(s->ctx, mark);
	hp_warn(s->ctx, NULL, NULL,
		"process %d: could not clear the record of the attempt; the next hotpatch tool will",
		(int)s->p.pid);
	return -HP_ERROR;
}

static void session_close(struct session *s)
{
	if (s->p.stub_dirty && s->o)
		remove_stub(&s->p, s->o, s->out);
	proc_close(&s->p);
	if (s->lock >= 0)
		home_unlock(&s->home, s->p.pid, s->p.start, s->lock);
	s->lock = -1;
	home_close(&s->home);
	free(s->st);
	s->st = NULL;
}

/*
 * A process under a seccomp filter: every system call the operation may make
 * in it (patch h's, or only the undoing ones when h is NULL), with its
 * arguments, is put to each thread's filters before the first is made; each
 * is put again to its thread with its final arguments when it is made
 * (proc_calls()). A filter that would deny or kill any refuses the operation.
 * A thread whose filters would not let the switch's own calls through (the
 * stub's park and commit) leaves the entries to the tool: p->no_park.
 */
static int check_filters(struct session *s, const struct hpx *h)
{
	/* Where the image will go is not known yet: a placeholder address. */
	const uint64_t at = 0x7f0000000000;
	struct rt_proc *p = &s->p;
	size_t n = 0;
	struct rt_call *c = calloc(6 + (h ? h->nsegments : 0), sizeof *c), park[8];
	if (!c)
		return hp_nomem(s->ctx);
	if (h) {
		if (!s->st->addr)
			n += state_create_calls(c);
		c[n++] = reserve_call(at, h->image_size);
		for (size_t i = 0; i < h->nsegments; i++)
			c[n++] = segment_call(at, &h->segments[i]);
	}
	c[n++] = (struct rt_call){ SYS_munmap, { (long)at, h ? (long)h->image_size : 4096 } };
	size_t npark = park_calls(park);
	pid_t *tids;
	size_t ntids;
	int err = proc_live_threads(p, &tids, &ntids);
	long fd = proc_lowest_free_fd(p);
	for (size_t i = 0; !err && i < ntids; i++) {
		struct rt_thread t;
		struct rt_seccomp f;
		if ((err = thread_stop_one(s->ctx, p->pid, tids[i], &t)) < 0)
			break;
		if ((err = seccomp_read(s->ctx, p->pid, tids[i], &f)) == 0) {
			err = seccomp_check(s->ctx, p->pid, tids[i], &f, c, n, stub_call_site(p), fd);
			size_t mark = s->ctx->ndiags;
			if (!err && !p->no_park &&
			    seccomp_check(s->ctx, p->pid, tids[i], &f, park, npark, stub_call_site(p),
					  fd) < 0) {
				hp_diag_rollback(s->ctx, mark);
				p->no_park = true;
			}
			seccomp_free(&f);
		}
		thread_release_one(&t);
	}
	free(tids);
	free(c);
	return err;
}

/* Pin pid, lock it, read its record, check what its confinement allows (for
 * patch h, or NULL: a revert or a look); finish what a killed tool left. */
static int session_open(struct hp_ctx *ctx, pid_t pid, const struct hpx *h, const struct rt_opts *o,
			uint64_t t0, struct session *s, struct rt_result *out)
{
	memset(s, 0, sizeof *s);
	s->ctx = ctx;
	s->lock = -1;
	s->o = o;
	s->t0 = t0;
	s->out = out;
	s->home.dir = -1;
	s->p.mem = s->p.pidfd = -1;
	s->st = calloc(1, sizeof *s->st);
	if (!s->st)
		return hp_nomem(ctx);
	int err;
	if ((err = home_open(ctx, &s->home)) < 0 || (err = proc_open(ctx, pid, &s->p)) < 0)
		return err;
	pid_t tid, tracer;
	if ((err = proc_foreign_tracer(&s->p, &tid, &tracer)) < 0)
		return err;
	if (tid)
		return hp_err(ctx, HP_ELOCKED, NULL, NULL,
			      "process %d: thread %d is traced by process %d (a debugger or tracer); nothing done",
			      (int)pid, (int)tid, (int)tracer);
	s->p.seccomp = proc_seccomp(&s->p);
	if (s->p.seccomp == 1 || s->p.seccomp < 0)
		return hp_err(ctx, HP_ECONFINED, NULL, NULL,
			      s->p.seccomp == 1
				      ? "process %d: runs in seccomp strict mode (read, write and exit only); no system call can be made in it, so nothing is done"
				      : "process %d: its seccomp mode cannot be read; nothing done",
			      (int)pid);
	if ((err = home_lock(ctx, &s->home, pid, s->p.start, &s->lock)) < 0 ||
	    (err = state_read(&s->p, s->home.key, s->st)) < 0)
		return err;
	size_t mark = ctx->ndiags;
	if (find_stub(&s->p) < 0) /* said again, if it matters, when the stub is needed */
		hp_diag_rollback(ctx, mark);
	if (s->p.seccomp == 2 && (err = check_filters(s, h)) < 0)
		return err;
	if (s->st->op != RT_OP_NONE)
		err = recover(s, out);
	return err;
}

/* ----- apply -------------------------------------------------------------------------- */

static int check_policy(struct session *s, const struct hpx *h, const struct rt_image *ti,
			struct rt_result *out)
{
	const struct rt_state *st = s->st;
	const struct image *img = ti->img;
	pid_t pid = s->p.pid;
	char id[33];
	hp_hex(id, h->patch_id, 16);
	/* By the binary the patch applies to in this process, whether or not the
	 * patch names its build-id. */
	uint64_t high = 0;
	for (uint32_t i = 0; i < st->npatches; i++) {
		const struct rt_patch *x = &st->patches[i];
		if (x->build_id_size == img->build_id_size &&
		    !memcmp(x->build_id, img->build_id, img->build_id_size) && x->sequence > high)
			high = x->sequence;
	}
	for (uint32_t i = 0; i < st->nhigh; i++)
		if (st->high[i].build_id_size == img->build_id_size &&
		    !memcmp(st->high[i].build_id, img->build_id, img->build_id_size) &&
		    st->high[i].sequence > high)
			high = st->high[i].sequence;
	if (h->sequence >= high)
		return 0;
	if (!s->o->allow_downgrade)
		return hp_err(s->ctx, HP_EPOLICY, NULL, NULL,
			      "process %d: patch %s has sequence %llu, below %llu already applied to %s here (reverting does not lower that mark); refusing a rollback without --allow-downgrade",
			      (int)pid, id, (unsigned long long)h->sequence, (unsigned long long)high,
			      ti->path);
	out->downgraded = true;
	return 0;
}

int runtime_apply(struct hp_ctx *ctx, pid_t pid, const struct hpx *h, const struct rt_opts *o,
		  struct rt_result *out)
{
	memset(out, 0, sizeof *out);
	uint64_t t0 = rt_now_ns();
	struct session s;
	uint64_t *symaddr = calloc(h->nsyms ? h->nsyms : 1, sizeof *symaddr);
	uint64_t *faddr = calloc(h->nfuncs ? h->nfuncs : 1, sizeof *faddr);
	struct rt_tls *tls = calloc(h->nsyms ? h->nsyms : 1, sizeof *tls);
	uint8_t *img = malloc(h->image_size ? h->image_size : 1);
	int err;
	bool recorded = false, mapped = false, created = false;
	uint32_t idx = 0, nf0 = 0;
	char id[33];
	hp_hex(id, h->patch_id, 16);
	if ((err = session_open(ctx, pid, h, o, t0, &s, out)) < 0)
		goto out;
	struct rt_proc *p = &s.p;
	struct rt_state *st = s.st;
	if (!symaddr || !faddr || !tls || !img) {
		err = hp_nomem(ctx);
		goto out;
	}
	for (uint32_t i = 0; i < st->npatches; i++)
		if (!memcmp(st->patches[i].patch_id, h->patch_id, 16)) {
			err = hp_err(ctx, HP_EALREADY, NULL, NULL,
				     "process %d: patch %s is already applied", (int)pid, id);
			goto out;
		}
	if (st->npatches >= RT_MAX_PATCHES || st->nfuncs + h->nfuncs > RT_MAX_FUNCS) {
		err = hp_err(ctx, HP_ERROR, NULL, NULL,
			     "process %d: the state block is full (%u patches, %u functions)",
			     (int)pid, st->npatches, st->nfuncs);
		goto out;
	}

	/* The target image, and in it every replaced function with its old bytes. */
	const struct rt_image *ti;
	if ((err = resolve_patch(p, h, st, faddr, symaddr, tls, &ti)) < 0 ||
	    (err = check_policy(&s, h, ti, out)) < 0 || (err = interrupted(p)) < 0 ||
	    (err = place_stub(p)) < 0)
		goto out;
	if (!st->addr) {
		if ((err = state_create(p, &st->addr)) < 0) {
			if (st->addr) /* mapped, but not usable */
				unmap(p, st->addr, RT_STATE_SIZE);
			st->addr = 0;
			goto out;
		}
		created = true;
		if ((err = proc_read_maps(p)) < 0)
			goto out_undo;
	}

	/* The intent, before the process is touched: the patch, where its image
	 * will be, what each entry holds now. */
	idx = st->npatches;
	nf0 = st->nfuncs;
	struct rt_patch *x = &st->patches[idx];
	memset(x, 0, sizeof *x);
	memcpy(x->patch_id, h->patch_id, 16);
	x->sequence = h->sequence;
	x->applied_at = (uint64_t)time(NULL);
	memcpy(x->build_id, ti->img->build_id, ti->img->build_id_size);
	x->build_id_size = ti->img->build_id_size;
	x->image_size = h->image_size;
	x->nfuncs = (uint32_t)h->nfuncs;
	const char *slash = strrchr(ti->path, '/');
	snprintf(x->target, sizeof x->target, "%s", slash ? slash + 1 : ti->path);
	for (size_t k = 0; k < h->nfuncs; k++) {
		const struct hpx_func *hf = &h->funcs[k];
		struct rt_func *f = &st->funcs[nf0 + k];
		memset(f, 0, sizeof *f);
		f->addr = faddr[k];
		f->old_size = hf->old_size;
		f->new_size = hf->flags & HPX_FUNC_CHECK_ONLY ? 0 : hf->new_size;
		f->patch = idx;
		snprintf(f->name, sizeof f->name, "%s", hf->name);
		if ((err = proc_read(p, f->addr, f->saved, 8)) < 0)
			goto out_undo;
	}

	/* Map the image within rel32 reach of the target, link it there, write it. */
	uint64_t base = 0, write_end = 0;
	for (unsigned skip = 0;; skip++) {
		if ((err = proc_find_gap(p, ti->lo, ti->hi, h->image_size, skip, &base)) < 0 ||
		    (err = link_image(ctx, h, base, symaddr, tls, img, &write_end)) < 0)
			goto out_undo;
		x->image_addr = base;
		x->image_hash = image_hash(img, h->image_size);
		for (size_t k = 0; k < h->nfuncs; k++) {
			const struct hpx_func *hf = &h->funcs[k];
			st->funcs[nf0 + k].new_addr = hf->flags & HPX_FUNC_CHECK_ONLY ? 0 : base + hf->new_offset;
		}
		st->npatches = idx + 1;
		st->nfuncs = nf0 + (uint32_t)h->nfuncs;
		st->op = RT_OP_APPLY;
		st->op_patch = idx;
		st->op_time = (uint64_t)time(NULL);
		if ((err = state_write(p, s.home.key, st)) < 0)
			goto out_undo;
		recorded = true;
		/* Read-only from the start: nothing the patch maps is ever writable
		 * and executable, or made executable later (MDWE, and the seccomp
		 * filter systemd puts in its place, forbid both). */
		struct rt_call c = reserve_call(base, h->image_size);
		if ((err = proc_calls(p, &c, 1, NULL, 0)) < 0)
			goto out_undo;
		if ((uint64_t)c.ret == base) {
			mapped = true;
			break;
		}
		if (c.ret > 0) /* an old kernel without NOREPLACE put it elsewhere: not ours */
			unmap(p, (uint64_t)c.ret, h->image_size);
		if (skip > 16) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL,
				     "process %d: cannot map %llu bytes near %s: %s", (int)pid,
				     (unsigned long long)h->image_size, ti->path,
				     c.ret < 0 ? strerror((int)-c.ret) : "address taken");
			goto out_undo;
		}
	}
	/* Each segment mapped over the reservation with its final protections, in
	 * as few runs of the stub as fit; then the bytes, written from outside
	 * (a write through /proc/PID/mem ignores protections, as a debugger's). */
	struct rt_call c[RT_STUB_MAX_CALLS];
	size_t nc = 0;
	for (size_t i = 0; i <= h->nsegments; i++) {
		if (i < h->nsegments)
			c[nc++] = segment_call(base, &h->segments[i]);
		if (nc == RT_STUB_MAX_CALLS || (i == h->nsegments && nc)) {
			if ((err = proc_calls(p, c, nc, NULL, 0)) < 0)
				goto out_undo;
			for (size_t k = 0; k < nc; k++)
				if ((uint64_t)c[k].ret != (uint64_t)c[k].args[0]) {
					err = hp_err(ctx, HP_ERROR, NULL, NULL,
						     "process %d: mmap of a segment of the patch: %s",
						     (int)pid,
						     c[k].ret < 0 ? strerror((int)-c[k].ret)
								  : "put elsewhere");
					goto out_undo;
				}
			nc = 0;
		}
	}
	if ((err = proc_write(p, base, img, (size_t)write_end)) < 0)
		goto out_undo;
	if ((err = interrupted(p)) < 0)
		goto out_undo;

	/* What must be idle: the functions replaced, and the code that runs in their
	 * place now when an earlier patch replaced them already. */
	struct hots hot = { 0 };
	for (size_t k = 0; k < h->nfuncs; k++) {
		const struct hpx_func *f = &h->funcs[k];
		if ((err = add_hot(ctx, &hot, faddr[k], f->old_size, f->name)) < 0)
			goto out_undo;
		for (uint32_t i = 0; i < nf0; i++)
			if (st->funcs[i].addr == faddr[k] && st->funcs[i].new_size &&
			    (err = add_hot(ctx, &hot, st->funcs[i].new_addr, st->funcs[i].new_size,
					   f->name)) < 0)
				goto out_undo;
	}
	struct entries e;
	if ((err = entries_of(ctx, st, idx, true, &e)) < 0 || (err = proc_read_maps(p)) < 0 ||
	    (err = prepare_commit(p, st, &e)) < 0)
		goto out_undo;
	struct window_ops ops = { set_entries, &e };
	if ((err = run_windows(p, &hot, o, t0, &ops, out)) < 0)
		goto out_undo;

	/* Done: the record says so. A failure here leaves the intent, which the
	 * next tool completes (every entry holds its jump). */
	st->op = RT_OP_NONE;
	st->op_patch = 0;
	state_raise_high(st, x);
	if ((err = state_write(p, s.home.key, st)) < 0)
		hp_warn(ctx, NULL, NULL,
			"process %d: patch %s applied; its record still says the apply is under way (the next hotpatch tool finishes it)",
			(int)pid, id);
	err = 0;
	out->image_addr = base;
	memcpy(out->patch_id, h->patch_id, 16);
	out->sequence = h->sequence;
	out->has_patch = true;
	goto out;

out_undo:
	/* Leave the process as it was: no image, no intent. A failure here leaves
	 * the intent, which the next tool rolls back. */
	if (mapped) {
		size_t mark = ctx->ndiags;
		if (unmap(p, base, h->image_size) < 0) {
			hp_diag_rollback(ctx, mark);
			hp_warn(ctx, NULL, NULL,
				"process %d: could not unmap %#" PRIx64 "+%#" PRIx64 "; the next hotpatch tool will",
				(int)pid, base, (uint64_t)h->image_size);
			goto out;
		}
	}
	st->npatches = idx;
	st->nfuncs = nf0;
	if (recorded && clear_op(&s) < 0)
		goto out;
	if (created && st->npatches == 0) {
		/* The record this attempt made holds nothing: it goes too. */
		size_t mark = ctx->ndiags;
		if (unmap(p, st->addr, RT_STATE_SIZE) < 0)
			hp_diag_rollback(ctx, mark); /* an empty record: harmless */
	}
out:
	session_close(&s);
	free(symaddr);
	free(faddr);
	free(tls);
	free(img);
	out->wall_ns = rt_now_ns() - t0;
	return err;
}

/* ----- revert ---------------------------------------------------------------------------- */

int runtime_revert(struct hp_ctx *ctx, pid_t pid, const uint8_t *patch_id,
		   const struct rt_opts *o, struct rt_result *out)
{
	memset(out, 0, sizeof *out);
	uint64_t t0 = rt_now_ns();
	struct session s;
	int err;
	if ((err = session_open(ctx, pid, NULL, o, t0, &s, out)) < 0)
		goto out;
	struct rt_proc *p = &s.p;
	struct rt_state *st = s.st;
	if (!st->npatches) {
		err = hp_err(ctx, HP_EMISMATCH, NULL, NULL, "process %d: no patch is applied", (int)pid);
		goto out;
	}
	uint32_t idx = st->npatches - 1;
	if (patch_id) {
		for (idx = 0; idx < st->npatches; idx++)
			if (!memcmp(st->patches[idx].patch_id, patch_id, 16))
				break;
		if (idx == st->npatches) {
			char id[33];
			hp_hex(id, patch_id, 16);
			err = hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				     "process %d: patch %s is not applied", (int)pid, id);
			goto out;
		}
	}
	const struct rt_patch *x = &st->patches[idx];
	char id[33];
	hp_hex(id, x->patch_id, 16);
	memcpy(out->patch_id, x->patch_id, 16);
	out->sequence = x->sequence;
	out->has_patch = true;
	/* Only the top layer of a function can go. */
	for (uint32_t i = 0; i < st->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (f->patch != idx)
			continue;
		for (uint32_t k = 0; k < st->nfuncs; k++)
			if (st->funcs[k].addr == f->addr && st->funcs[k].patch > idx) {
				char top[33];
				hp_hex(top, st->patches[st->funcs[k].patch].patch_id, 16);
				err = hp_err(ctx, HP_EMISMATCH, NULL, f->name,
					     "patch %s is below patch %s here; revert that one first", id,
					     top);
				goto out;
			}
	}
	/* Every entry must hold our jump before the intent is written. */
	struct entries e;
	size_t to, from;
	const char *other;
	if ((err = entries_of(ctx, st, idx, false, &e)) < 0 ||
	    (err = count_entries(p, &e, &to, &from, &other)) < 0)
		goto out;
	if (from != e.n) {
		err = hp_err(ctx, HP_ERECORD, NULL, other ? other : e.v[0].name,
			     "process %d: patch %s is recorded, but this entry no longer holds its jump; not acted upon",
			     (int)pid, id);
		goto out;
	}
	struct hots hot = { 0 };
	if ((err = add_hot(ctx, &hot, x->image_addr, x->image_size, "the patch's code")) < 0 ||
	    (err = interrupted(p)) < 0 || (err = place_stub(p)) < 0)
		goto out;
	st->op = RT_OP_REVERT;
	st->op_patch = idx;
	st->op_time = (uint64_t)time(NULL);
	if ((err = state_write(p, s.home.key, st)) < 0 || (err = prepare_commit(p, st, &e)) < 0)
		goto out;
	struct window_ops ops = { set_entries, &e };
	if ((err = run_windows(p, &hot, o, t0, &ops, out)) < 0) {
		clear_op(&s); /* nothing was restored: the patch stays, and so says the record */
		goto out;
	}
	/* The entries are restored: from here the revert is finished, signal or not. */
	size_t mark = ctx->ndiags;
	if (unmap(p, x->image_addr, x->image_size) < 0) {
		hp_diag_rollback(ctx, mark);
		hp_warn(ctx, NULL, NULL, "process %d: patch %s reverted; its image at %#" PRIx64 " is left mapped, unused",
			(int)pid, id, x->image_addr);
	}
	out->image_addr = x->image_addr;
	state_drop_patch(st, idx);
	st->op = RT_OP_NONE;
	st->op_patch = 0;
	if (state_write(p, s.home.key, st) < 0)
		hp_warn(ctx, NULL, NULL,
			"process %d: patch %s reverted; its record still says the revert is under way (the next hotpatch tool finishes it)",
			(int)pid, id);
	err = 0;
out:
	session_close(&s);
	out->wall_ns = rt_now_ns() - t0;
	return err;
}

/* ----- status ---------------------------------------------------------------------------- */

/* Whether the record agrees with the process: images mapped, top entries jumping. */
static int check_record(struct rt_proc *p, const struct rt_state *st)
{
	for (uint32_t i = 0; i < st->npatches; i++) {
		const struct rt_patch *x = &st->patches[i];
		const struct rt_map *m = proc_map_at(p, x->image_addr);
		if (!m || m->path[0])
			return hp_err(p->ctx, HP_ERECORD, NULL, NULL,
				      "process %d: its record names a patch image at %#" PRIx64 " that is not mapped there; the record disagrees with the process",
				      (int)p->pid, x->image_addr);
	}
	for (uint32_t i = 0; i < st->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		bool top = f->new_size != 0;
		for (uint32_t k = 0; k < st->nfuncs && top; k++)
			top = !(st->funcs[k].addr == f->addr && st->funcs[k].patch > f->patch &&
				st->funcs[k].new_size);
		if (!top || (st->op != RT_OP_NONE && f->patch == st->op_patch))
			continue;
		uint8_t cur[5], jmp[5];
		jump_to(jmp, f->addr, f->new_addr);
		int err = proc_read(p, f->addr, cur, 5);
		if (err < 0)
			return err;
		if (memcmp(cur, jmp, 5))
			return hp_err(p->ctx, HP_ERECORD, NULL, f->name,
				      "process %d: the record says it is redirected, but its entry at %#" PRIx64 " does not hold the jump; the record disagrees with the code",
				      (int)p->pid, f->addr);
	}
	return 0;
}

/* ----- adopting a record hotpatch-load wrote ------------------------------------------- */

static int disagrees(struct rt_proc *p, const uint8_t id[16], const char *sym, const char *what)
{
	char h[33];
	hp_hex(h, id, 16);
	return hp_err(p->ctx, HP_ERECORD, NULL, sym,
		      "process %d: patch %s as its unsigned record has it: %s; not signed", (int)p->pid,
		      h, what);
}

/* Patch idx of st against h, as runtime_apply() would have applied it. */
static int adopt_patch(struct rt_proc *p, const struct rt_state *st, uint32_t idx,
		       const struct hpx *h)
{
	const struct rt_patch *x = &st->patches[idx];
	struct hp_ctx *ctx = p->ctx;
	if (x->sequence != h->sequence || x->image_size != h->image_size ||
	    x->nfuncs != h->nfuncs || x->build_id_size != h->build_id_size ||
	    memcmp(x->build_id, h->build_id, h->build_id_size))
		return disagrees(p, x->patch_id, NULL, "its sequence, image size, functions or build-id are not the stored patch's");
	uint64_t *faddr = calloc(h->nfuncs ? h->nfuncs : 1, sizeof *faddr);
	uint64_t *symaddr = calloc(h->nsyms ? h->nsyms : 1, sizeof *symaddr);
	struct rt_tls *tls = calloc(h->nsyms ? h->nsyms : 1, sizeof *tls);
	uint8_t *want = malloc(h->image_size), *have = malloc(h->image_size);
	const struct rt_image *ti;
	uint64_t end;
	int err = 0;
	if (!faddr || !symaddr || !tls || !want || !have) {
		err = hp_nomem(ctx);
		goto out;
	}
	/* Found and checked as an apply finds them: the old bytes, through the
	 * bytes the record's bottom layer saved; each symbol where it is. */
	if ((err = resolve_patch(p, h, st, faddr, symaddr, tls, &ti)) < 0)
		goto out;
	uint32_t k = 0;
	for (uint32_t i = 0; i < st->nfuncs && !err; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (f->patch != idx)
			continue;
		const struct hpx_func *hf = &h->funcs[k];
		bool check_only = hf->flags & HPX_FUNC_CHECK_ONLY;
		if (f->addr != faddr[k] || f->old_size != hf->old_size ||
		    f->new_size != (check_only ? 0 : hf->new_size) ||
		    f->new_addr != (check_only ? 0 : x->image_addr + hf->new_offset) ||
		    strncmp(f->name, hf->name, sizeof f->name - 1)) {
			err = disagrees(p, x->patch_id, hf->name, "not where, or not what, the patch replaces");
			break;
		}
		/* Above another layer, it saved that layer's jump. */
		for (uint32_t j = 0; j < i; j++)
			if (st->funcs[j].addr == f->addr) {
				uint8_t jmp[5];
				jump_to(jmp, f->addr, st->funcs[j].new_addr);
				for (uint32_t l = j + 1; l < i; l++)
					if (st->funcs[l].addr == f->addr)
						jump_to(jmp, f->addr, st->funcs[l].new_addr);
				if (memcmp(f->saved, jmp, 5))
					err = disagrees(p, x->patch_id, hf->name,
							"the bytes its entry saved are not the jump of the layer below");
				break;
			}
		k++;
	}
	if (err)
		goto out;
	/* The image: that patch, linked there, mapped with its protections. An
	 * import reached through a lazily bound GOT slot may have been linked
	 * before the slot was bound (its value then was the file's, plus the
	 * bias: the PLT's way back into the dynamic linker): either value is
	 * taken in that field. */
	if ((err = link_image(ctx, h, x->image_addr, symaddr, tls, want, &end)) < 0 ||
	    (err = proc_read(p, x->image_addr, have, h->image_size)) < 0)
		goto out;
	if (memcmp(want, have, h->image_size)) {
		uint8_t *lazy = malloc(h->image_size);
		bool any = false;
		for (size_t i = 0; i < h->nsyms; i++) {
			const struct hpx_sym *y = &h->syms[i];
			const struct image_got *g = y->addr || y->kind == HPX_SYM_TLS ? NULL
						    : image_find_got(ti->img, y->name);
			const uint8_t *v = g && g->plt ? image_bytes(ti->img, g->slot, 8) : NULL;
			if (v && hp_load_le64(v)) {
				symaddr[i] = ti->bias + hp_load_le64(v);
				any = true;
			}
		}
		if (lazy && any &&
		    link_image(ctx, h, x->image_addr, symaddr, tls, lazy, &end) == 0) {
			for (size_t i = 0; i < h->nfixups; i++) {
				uint64_t o = h->fixups[i].offset, w = hpx_fix_width(h->fixups[i].type);
				if (h->fixups[i].target != HPX_TARGET_IMAGE && o + w <= h->image_size &&
				    !memcmp(lazy + o, have + o, w))
					memcpy(want + o, lazy + o, w);
			}
		}
		free(lazy);
	}
	if (memcmp(want, have, h->image_size) || image_hash(have, h->image_size) != x->image_hash) {
		err = disagrees(p, x->patch_id, NULL, "its image is not the patch linked at its address");
		goto out;
	}
	for (size_t i = 0; i < h->nsegments; i++) {
		const struct hpx_segment *sg = &h->segments[i];
		uint32_t prot = (sg->prot & HPX_PROT_R ? PROT_READ : 0) |
				(sg->prot & HPX_PROT_W ? PROT_WRITE : 0) |
				(sg->prot & HPX_PROT_X ? PROT_EXEC : 0);
		for (uint64_t a = x->image_addr + sg->offset; a < x->image_addr + sg->offset + sg->size;) {
			const struct rt_map *m = proc_map_at(p, a);
			if (!m || m->path[0] || m->prot != prot || m->shared) {
				err = disagrees(p, x->patch_id, NULL, "its image is not mapped as the patch's segments are");
				goto out;
			}
			a = m->end;
		}
	}
out:
	free(faddr);
	free(symaddr);
	free(tls);
	free(want);
	free(have);
	return err;
}

int runtime_adopt(struct hp_ctx *ctx, pid_t pid, const struct hpx *const *known, size_t nknown)
{
	struct rt_opts o = { 0 };
	struct session s;
	memset(&s, 0, sizeof s);
	s.ctx = ctx;
	s.lock = -1;
	s.o = &o;
	s.home.dir = -1;
	s.p.mem = s.p.pidfd = -1;
	s.st = calloc(1, sizeof *s.st);
	int err;
	if (!s.st) {
		err = hp_nomem(ctx);
		goto out;
	}
	struct rt_state *st = s.st;
	if ((err = home_open(ctx, &s.home)) < 0 || (err = proc_open(ctx, pid, &s.p)) < 0 ||
	    (err = home_lock(ctx, &s.home, pid, s.p.start, &s.lock)) < 0 ||
	    (err = state_read(&s.p, NULL, st)) < 0)
		goto out;
	if (!st->addr || !st->unsigned_slot || !st->npatches) {
		err = hp_err(ctx, HP_EMISMATCH, NULL, NULL,
			     "process %d: no unsigned record of hotpatch-load to sign", (int)pid);
		goto out;
	}
	if (st->op != RT_OP_NONE) {
		err = hp_err(ctx, HP_ERECORD, NULL, NULL,
			     "process %d: its unsigned record says an operation is under way; not signed",
			     (int)pid);
		goto out;
	}
	for (uint32_t i = 0; i < st->npatches && !err; i++) {
		const struct hpx *h = NULL;
		for (size_t k = 0; k < nknown && !h; k++)
			if (!memcmp(known[k]->patch_id, st->patches[i].patch_id, 16))
				h = known[k];
		err = h ? adopt_patch(&s.p, st, i, h)
			: disagrees(&s.p, st->patches[i].patch_id, NULL, "not a patch of the store");
	}
	if (err || (err = check_record(&s.p, st)) < 0)
		goto out;
	st->nhigh = 0;
	for (uint32_t i = 0; i < st->npatches; i++)
		state_raise_high(st, &st->patches[i]);
	err = state_write(&s.p, s.home.key, st);
out:
	s.o = NULL; /* nothing was placed: no stub to remove */
	session_close(&s);
	return err;
}

int runtime_status(struct hp_ctx *ctx, pid_t pid, struct rt_state *out, struct rt_result *r)
{
	memset(r, 0, sizeof *r);
	struct rt_home home;
	struct rt_proc p;
	memset(&p, 0, sizeof p);
	p.mem = p.pidfd = -1;
	int err;
	if ((err = home_open(ctx, &home)) < 0)
		goto out;
	/* The record and the maps it is checked against; the images are not needed. */
	if ((err = proc_open_maps(ctx, pid, &p)) < 0 || (err = state_read(&p, home.key, out)) < 0)
		goto out;
	if (out->op != RT_OP_NONE && !writer_alive(out)) {
		/* Left unfinished: take the process as a writer would, and finish it. */
		proc_close(&p);
		home_close(&home);
		struct rt_opts o = { 0 };
		struct session s;
		err = session_open(ctx, pid, NULL, &o, rt_now_ns(), &s, r);
		if (err == 0)
			memcpy(out, s.st, sizeof *out);
		if (err == 0 && out->op != RT_OP_NONE)
			err = hp_err(ctx, HP_ELOCKED, NULL, NULL,
				     "process %d: an operation is under way", (int)pid);
		if (err == 0)
			err = check_record(&s.p, out);
		session_close(&s);
		return err;
	}
	err = check_record(&p, out);
out:
	proc_close(&p);
	home_close(&home);
	return err;
}
