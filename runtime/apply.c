/*
 * apply.c: runtime_apply() and runtime_revert().
 *
 * Everything slow happens while the process runs: resolving the functions and
 * symbols in its images, checking the old bytes, mapping the image next to the
 * target (a system call run briefly in one thread), writing the code, setting
 * the final protections. Only then is every thread stopped, for as short as
 * possible: the window holds the safety check (no thread's instruction pointer
 * in a function being replaced, no address inside one anywhere on its stack)
 * and the writes of the entry jumps. An unsafe window releases the threads,
 * waits (1 ms, doubling up to 50 ms) and tries again until the deadline.
 *
 * All or nothing: a failure before the window unmaps what was mapped; a failure
 * inside it restores every entry already written before the threads run again.
 *
 * The stack check is conservative: every 8-byte word from the stack pointer to
 * the end of its mapping that holds an address inside a function being
 * replaced counts as a return address into it. A stale word can delay a patch,
 * never let a thread return into code that changed under it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

#define MAX_STACK_SCAN (8u << 20) /* bytes of one thread's stack read at most */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void hex16(char out[33], const uint8_t id[16])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* ----- one tool at a time per process ----------------------------------------- */

static int lock_process(struct hp_ctx *ctx, pid_t pid, int *fd)
{
	char path[128];
	const char *dir = access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp";
	snprintf(path, sizeof path, "%s/hotpatch-%d.lock", dir, (int)pid);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot open: %s", strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		return hp_err(ctx, HP_EBUSY, NULL, NULL,
			      "process %d: another hpapply is working on it", (int)pid);
	}
	return 0;
}

static void unlock_process(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ----- hot ranges and the safety check --------------------------------------- */

struct hot {
	uint64_t lo, hi;        /* [lo, hi) */
	const char *what;       /* for the report */
};

struct hots {
	struct hot *v;
	size_t n, cap;
	uint64_t min, max;      /* the span of all ranges, for a quick reject */
};

static int add_hot(struct hp_ctx *ctx, struct hots *h, uint64_t lo, uint64_t size,
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

/* ----- running system calls in the process ------------------------------------ */

/* Run one system call in the main thread, stopping only that thread briefly. */
static int remote(struct rt_proc *p, uint64_t insn, long nr, const long args[6], long *ret)
{
	struct rt_thread t;
	int err = thread_stop_one(p->ctx, p->pid, &t);
	if (err < 0)
		return err;
	err = thread_syscall(p->ctx, &t, insn, nr, args, ret);
	thread_release_one(&t);
	return err;
}

static void remote_unmap(struct rt_proc *p, uint64_t insn, uint64_t addr, uint64_t size)
{
	long args[6] = { (long)addr, (long)size }, ret;
	size_t mark = p->ctx->ndiags;
	if (remote(p, insn, SYS_munmap, args, &ret) < 0 || ret < 0) {
		hp_diag_rollback(p->ctx, mark);
		hp_warn(p->ctx, NULL, NULL,
			"process %d: could not unmap %#" PRIx64 "+%#" PRIx64 " (left mapped, unused)",
			(int)p->pid, addr, size);
	}
}

/* Create the state block, with scratch as room for its name. */
static int state_create_remote(struct rt_proc *p, uint64_t insn, uint64_t scratch, uint64_t *addr)
{
	struct rt_thread t;
	int err = thread_stop_one(p->ctx, p->pid, &t);
	if (err < 0)
		return err;
	err = state_create(p, &t, insn, scratch, addr);
	thread_release_one(&t);
	return err;
}

/* ----- finding things in the process ------------------------------------------- */

/* Why a name is not found in an image without .symtab, and what works instead. */
#define STRIPPED_HINT \
	" (it is stripped: build the patch with hpbuild --target on the unstripped binary, which records where each function is)"

static const struct rt_image *find_target(struct rt_proc *p, const struct hpx *h)
{
	for (size_t i = 0; i < p->nimages; i++) {
		const struct image *img = p->images[i].img;
		if (h->build_id_size && img->build_id_size == h->build_id_size &&
		    !memcmp(img->build_id, h->build_id, h->build_id_size))
			return &p->images[i];
	}
	return NULL;
}

/*
 * The function of the target that f names, checked against its old bytes. The
 * entry bytes of a function already redirected by earlier patches are taken
 * from the state record (the lowest layer saved the original ones).
 */
static int locate_func(struct rt_proc *p, const struct rt_image *ti, const struct hpx *h,
		       const struct hpx_func *f, const struct rt_state *st, uint64_t *out)
{
	const struct image_sym *c[8];
	/* Where hpbuild --target found it (the image matched by build-id): a stripped
	 * copy of the binary has no .symtab to search. The old bytes decide as ever. */
	struct image_sym at = { .name = f->name, .type = STT_FUNC, .value = f->addr,
				.size = f->old_size };
	size_t n = 1;
	if (f->addr)
		c[0] = &at;
	else
		n = image_find(ti->img, f->name, f->file, f->ordinal, c, 8);
	if (n == 0)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name, "not found in the target%s",
			      ti->img->has_symtab ? "" : STRIPPED_HINT);
	uint8_t *bytes = malloc(f->old_size ? f->old_size : 1);
	if (!bytes)
		return hp_nomem(p->ctx);
	size_t matches = 0;
	bool sized = false;
	for (size_t k = 0; k < n && k < 8; k++) {
		if (c[k]->size != f->old_size || c[k]->type != STT_FUNC)
			continue;
		sized = true;
		uint64_t addr = ti->bias + c[k]->value;
		if (proc_read(p, addr, bytes, f->old_size) < 0) {
			free(bytes);
			return -HP_ERROR;
		}
		for (uint32_t i = 0; i < st->nfuncs; i++)
			if (st->funcs[i].addr == addr) {
				memcpy(bytes, st->funcs[i].saved, 5); /* the bottom layer's */
				break;
			}
		uint8_t hash[32];
		hpx_masked_hash(bytes, f->old_size, h->masks + f->mask_first, f->mask_count, hash);
		if (!memcmp(hash, f->old_hash, 32)) {
			*out = addr;
			matches++;
		}
	}
	free(bytes);
	if (!sized)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name,
			      "is %llu bytes in the process, the patch expects %llu; not the build it was made for",
			      (unsigned long long)c[0]->size, (unsigned long long)f->old_size);
	if (matches == 0)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name,
			      "its code in the process differs from the patch's old bytes; not the build it was made for");
	if (matches > 1)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name,
			      "%zu identical candidates; cannot tell which one to replace", matches);
	return 0;
}

/*
 * A symbol the patch's code refers to. Defined in the patched object: in the
 * target image. Imported: where the target image's own GOT slot for it points
 * (that is where its calls go, IFUNCs and symbol versions already chosen by the
 * dynamic linker; a lazy slot points back into the PLT, which still resolves);
 * else the first image defining it, the executable first.
 */
/*
 * A thread-local variable the patch's code reaches, in each of the ways code
 * reaches one: its offset from the thread pointer (the executable's code:
 * local-exec and initial-exec), or its module id and offset in that module's
 * block (shared-library code: __tls_get_addr). Both are the same in every
 * thread, so the new code reaches the calling thread's own variable.
 */
struct rt_tls {
	bool has_tpoff, has_dtp;
	int64_t tpoff;
	uint64_t module, dtpoff;
};

static int read_slot(struct rt_proc *p, const struct rt_image *ti, const struct image_got *g,
		     uint64_t *out)
{
	uint8_t v[8];
	if (proc_read(p, ti->bias + g->slot, v, 8) < 0)
		return -HP_ERROR;
	*out = hp_load_le64(v);
	return 0;
}

/* The module id the dynamic linker gave the target: 1 for the executable, else
 * what it wrote into one of the target's own module slots. */
static int own_module(struct rt_proc *p, const struct rt_image *ti, uint64_t *out, bool *found)
{
	*found = false;
	if (ti->main) {
		*out = 1;
		*found = true;
		return 0;
	}
	const struct image_got *g = image_find_tls_got(ti->img, "", R_X86_64_DTPMOD64);
	for (size_t i = 0; !g && i < ti->img->ngots; i++) {
		const struct image_got *x = &ti->img->gots[i];
		const struct image_sym *c[1];
		if (x->tls == R_X86_64_DTPMOD64 && image_find(ti->img, x->name, "", 0, c, 1) &&
		    c[0]->type == STT_TLS)
			g = x; /* a variable the target defines: its module is the target's */
	}
	if (!g)
		return 0;
	int err = read_slot(p, ti, g, out);
	*found = err == 0;
	return err;
}

static int resolve_tls(struct rt_proc *p, const struct rt_image *ti, const struct hpx_sym *s,
		       struct rt_tls *out)
{
	memset(out, 0, sizeof *out);
	uint64_t st_value = 0;
	bool defined = false;
	if (s->addr & HPX_ADDR_TLS) { /* recorded by hpbuild --target */
		st_value = s->addr & ~HPX_ADDR_TLS;
		defined = true;
	} else {
		const struct image_sym *c[2];
		size_t n = image_find(ti->img, s->name, s->file, s->ordinal, c, 2);
		if (n > 1)
			return hp_err(p->ctx, HP_EMISMATCH, ti->path, s->name,
				      "several thread-local variables of that name; cannot tell which");
		if (n == 1 && c[0]->type == STT_TLS) {
			st_value = c[0]->value;
			defined = true;
		}
	}
	int err;
	if (defined) {
		out->dtpoff = st_value;
		if ((err = own_module(p, ti, &out->module, &out->has_dtp)) < 0)
			return err;
		out->has_tpoff = ti->main && image_tpoff(ti->img, st_value, &out->tpoff);
	} else if (s->scope == HPX_SCOPE_GLOBAL) {
		/* Another image's: where the dynamic linker told the target it is. */
		const struct image_got *tp = image_find_tls_got(ti->img, s->name, R_X86_64_TPOFF64);
		const struct image_got *mod = image_find_tls_got(ti->img, s->name, R_X86_64_DTPMOD64);
		const struct image_got *off = image_find_tls_got(ti->img, s->name, R_X86_64_DTPOFF64);
		uint64_t v;
		if (tp) {
			if ((err = read_slot(p, ti, tp, &v)) < 0)
				return err;
			out->tpoff = (int64_t)v;
			out->has_tpoff = true;
		}
		if (mod && off) {
			if ((err = read_slot(p, ti, mod, &out->module)) < 0 ||
			    (err = read_slot(p, ti, off, &out->dtpoff)) < 0)
				return err;
			out->has_dtp = true;
		}
	}
	if (!out->has_tpoff && !out->has_dtp)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, s->name,
			      "the patch reaches this thread-local variable, but the target neither defines it nor imports it%s",
			      ti->img->has_symtab ? "" : STRIPPED_HINT);
	return 0;
}

static int resolve_sym(struct rt_proc *p, const struct rt_image *ti, const struct hpx_sym *s,
		       uint64_t *out)
{
	const struct image_sym *c[2];
	if (s->addr) { /* recorded by hpbuild --target: defined in the target itself */
		*out = ti->bias + s->addr;
		return 0;
	}
	if (s->scope == HPX_SCOPE_TARGET) {
		size_t n = image_find(ti->img, s->name, s->file, s->ordinal, c, 2);
		if (n != 1)
			return hp_err(p->ctx, HP_EMISMATCH, ti->path, s->name, "%s%s",
				      n ? "several symbols of that name; cannot tell which"
					: "the patch refers to it, but the target has no such symbol",
				      n || ti->img->has_symtab ? "" : STRIPPED_HINT);
		*out = ti->bias + c[0]->value;
		return 0;
	}
	if (image_find(ti->img, s->name, "", 0, c, 1) && c[0]->type != STT_GNU_IFUNC) {
		*out = ti->bias + c[0]->value;
		return 0;
	}
	const struct image_got *g = image_find_got(ti->img, s->name);
	if (g) {
		uint8_t v[8];
		if (proc_read(p, ti->bias + g->slot, v, 8) < 0)
			return -HP_ERROR;
		*out = hp_load_le64(v);
		if (*out)
			return 0;
	}
	for (size_t i = 0; i < p->nimages; i++) {
		const struct rt_image *ri = &p->images[i];
		if (ri == ti || !image_find(ri->img, s->name, "", 0, c, 1))
			continue;
		if (c[0]->type == STT_GNU_IFUNC)
			return hp_err(p->ctx, HP_EMISMATCH, ri->path, s->name,
				      "is an IFUNC the target does not import; its implementation cannot be chosen from outside");
		*out = ri->bias + c[0]->value;
		return 0;
	}
	return hp_err(p->ctx, HP_EMISMATCH, NULL, s->name,
		      "the patch needs it, but no image in process %d defines it", (int)p->pid);
}

/* ----- the image, linked at its final address ------------------------------------ */

static int link_image(struct hp_ctx *ctx, const struct hpx *h, uint64_t base, const uint64_t *sym,
		      const struct rt_tls *tls, uint8_t *img, uint64_t *write_end)
{
	memset(img, 0, h->image_size);
	memcpy(img, h->image, h->image_file_size);
	uint64_t end = h->image_file_size;
	for (size_t i = 0; i < h->nfixups; i++) {
		const struct hpx_fixup *x = &h->fixups[i];
		uint64_t T = x->target == HPX_TARGET_IMAGE ? base : sym[x->target];
		uint64_t P = base + x->offset;
		int64_t v = (int64_t)(T + (uint64_t)x->addend);
		int64_t rel = (int64_t)(T + (uint64_t)x->addend - P);
		const char *name = x->target == HPX_TARGET_IMAGE ? "the image" : h->syms[x->target].name;
		switch (x->type) {
		case HPX_FIX_ABS64:
			hp_store_le64(img + x->offset, (uint64_t)v);
			break;
		case HPX_FIX_ABS32:
			if ((uint64_t)v > UINT32_MAX)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      "address %#" PRIx64 " does not fit the 32-bit field at +%#" PRIx64,
					      (uint64_t)v, x->offset);
			hp_store_le32(img + x->offset, (uint32_t)v);
			break;
		case HPX_FIX_ABS32S:
			if (v < INT32_MIN || v > INT32_MAX)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      "address %#" PRIx64 " does not fit the 32-bit field at +%#" PRIx64,
					      (uint64_t)v, x->offset);
			hp_store_le32(img + x->offset, (uint32_t)(int32_t)v);
			break;
		case HPX_FIX_BRANCH32:
			if ((rel < INT32_MIN || rel > INT32_MAX) &&
			    h->syms[x->target].stub != HPX_NO_STUB)
				rel = (int64_t)(base + h->syms[x->target].stub + (uint64_t)x->addend - P);
			/* fall through */
		case HPX_FIX_PC32:
			if (rel < INT32_MIN || rel > INT32_MAX)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      "at %#" PRIx64 ", out of reach of a 32-bit displacement from the patch",
					      T);
			hp_store_le32(img + x->offset, (uint32_t)(int32_t)rel);
			break;
		case HPX_FIX_PC64:
			hp_store_le64(img + x->offset, (uint64_t)rel);
			break;
		case HPX_FIX_TPOFF32:
		case HPX_FIX_TPOFF64:
		case HPX_FIX_DTPMOD64:
		case HPX_FIX_DTPOFF64:
		case HPX_FIX_DTPOFF32: {
			/* The reader allows these only with a thread-local symbol. */
			const struct rt_tls *t = &tls[x->target];
			bool tp = x->type == HPX_FIX_TPOFF32 || x->type == HPX_FIX_TPOFF64;
			if (tp ? !t->has_tpoff : !t->has_dtp)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      tp ? "reached at a fixed offset from the thread pointer, as an executable's code reaches its own, but it is not the executable's"
						 : "reached through __tls_get_addr, but the target gives no module id for it");
			int64_t w = x->type == HPX_FIX_DTPMOD64 ? (int64_t)t->module
				    : tp			  ? t->tpoff + x->addend
								  : (int64_t)t->dtpoff + x->addend;
			if (x->type == HPX_FIX_TPOFF32 || x->type == HPX_FIX_DTPOFF32) {
				if (w < INT32_MIN || w > INT32_MAX)
					return hp_err(ctx, HP_EMISMATCH, NULL, name,
						      "thread-local offset %" PRId64 " does not fit the 32-bit field at +%#" PRIx64,
						      w, x->offset);
				hp_store_le32(img + x->offset, (uint32_t)(int32_t)w);
			} else {
				hp_store_le64(img + x->offset, (uint64_t)w);
			}
			break;
		}
		}
		uint64_t e = x->offset + hpx_fix_width(x->type);
		end = e > end ? e : end;
	}
	*write_end = end;
	return 0;
}

/* ----- apply -------------------------------------------------------------------- */

struct redirect {
	uint64_t addr;          /* old entry */
	uint64_t new_addr;      /* 0 for a checked-only cold part */
	uint8_t saved[8];       /* what was there before the jump */
	bool written;
};

/* Write (or, undo, restore) the entry jumps. On a failure, restore what was written. */
static int write_jumps(struct rt_proc *p, struct redirect *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!r[i].new_addr)
			continue;
		if (proc_read(p, r[i].addr, r[i].saved, 8) < 0)
			goto undo;
		uint8_t jmp[5] = { 0xe9 };
		hp_store_le32(jmp + 1, (uint32_t)(int32_t)(int64_t)(r[i].new_addr - (r[i].addr + 5)));
		if (proc_write(p, r[i].addr, jmp, 5) < 0)
			goto undo;
		r[i].written = true;
	}
	return 0;
undo:
	for (size_t i = 0; i < n; i++)
		if (r[i].written) {
			proc_write(p, r[i].addr, r[i].saved, 5);
			r[i].written = false;
		}
	return -HP_ERROR;
}

/*
 * Open stop windows until one is safe and body succeeds in it, or the deadline
 * passes. body runs with every thread stopped.
 */
struct window_ops {
	int (*body)(struct rt_proc *p, void *arg);
	void *arg;
};

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

static int run_windows(struct rt_proc *p, const struct hots *hot, const struct rt_opts *o,
		       uint64_t t0, const struct window_ops *ops, struct rt_result *out)
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
	bool rt = realtime_enter(&policy, &old);
	for (;;) {
		out->attempts++;
		if ((err = threads_seize(p->ctx, p->pid, &t)) < 0)
			break;
		uint64_t w0 = now_ns();
		if ((err = threads_stop(p->ctx, p->pid, &t)) < 0)
			break;
		bool ok = safe(p, &t, hot, stack, &why);
		if (ok)
			err = ops->body(p, ops->arg);
		threads_release(&t);
		uint64_t pause = now_ns() - w0;
		out->threads = (unsigned)t.n;
		if (pause > out->pause_ns)
			out->pause_ns = pause;
		if (ok || err)
			break;
		out->blocker = why;
		if (now_ns() + backoff > deadline) {
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
	threads_free(&t);
	free(stack);
	return err;
}

struct apply_window {
	struct redirect *r;
	size_t n;
};

static int apply_body(struct rt_proc *p, void *arg)
{
	struct apply_window *a = arg;
	return write_jumps(p, a->r, a->n);
}

int runtime_apply(struct hp_ctx *ctx, pid_t pid, const struct hpx *h, const struct rt_opts *o,
		  struct rt_result *out)
{
	memset(out, 0, sizeof *out);
	uint64_t t0 = now_ns();
	struct rt_proc p;
	struct rt_state *st = calloc(1, sizeof *st);
	uint64_t *symaddr = calloc(h->nsyms ? h->nsyms : 1, sizeof *symaddr);
	struct rt_tls *tls = calloc(h->nsyms ? h->nsyms : 1, sizeof *tls);
	struct redirect *r = calloc(h->nfuncs ? h->nfuncs : 1, sizeof *r);
	uint8_t *img = malloc(h->image_size);
	int lock = -1, err;
	uint64_t base = 0, insn = 0;
	bool mapped = false, created_state = false;
	if (!st || !symaddr || !tls || !r || !img) {
		err = hp_nomem(ctx);
		goto out_free;
	}
	if ((err = proc_open(ctx, pid, &p)) < 0)
		goto out_close;
	if ((err = lock_process(ctx, pid, &lock)) < 0 || (err = state_read(&p, st)) < 0)
		goto out_close;

	/* Already there, or older than what is there. */
	char id[33];
	hex16(id, h->patch_id);
	for (uint32_t i = 0; i < st->npatches; i++) {
		const struct rt_patch *x = &st->patches[i];
		if (!memcmp(x->patch_id, h->patch_id, 16)) {
			err = hp_err(ctx, HP_EALREADY, NULL, NULL,
				     "process %d: patch %s is already applied", (int)pid, id);
			goto out_close;
		}
		if (x->build_id_size == h->build_id_size &&
		    !memcmp(x->build_id, h->build_id, h->build_id_size) && x->sequence > h->sequence) {
			err = hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				     "process %d: sequence %llu is older than the applied %llu; refusing a rollback",
				     (int)pid, (unsigned long long)h->sequence,
				     (unsigned long long)x->sequence);
			goto out_close;
		}
	}
	if (st->npatches >= RT_MAX_PATCHES || st->nfuncs + h->nfuncs > RT_MAX_FUNCS) {
		err = hp_err(ctx, HP_ERROR, NULL, NULL,
			     "process %d: the state block is full (%u patches, %u functions)",
			     (int)pid, st->npatches, st->nfuncs);
		goto out_close;
	}

	/* The target image, and in it every replaced function with its old bytes. */
	const struct rt_image *ti = NULL;
	if (h->build_id_size) {
		ti = find_target(&p, h);
		if (!ti) {
			char bid[129] = "";
			for (uint32_t i = 0; i < h->build_id_size; i++)
				snprintf(bid + 2 * i, 3, "%02x", h->build_id[i]);
			err = hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				     "process %d maps no image with build-id %s (%s)", (int)pid, bid,
				     h->target_name);
			goto out_close;
		}
	} else {
		/* Not bound to a build-id: the image where every function is found. */
		for (size_t i = 0; i < p.nimages && !ti; i++) {
			size_t mark = ctx->ndiags;
			bool all = true;
			for (size_t k = 0; k < h->nfuncs && all; k++)
				all = locate_func(&p, &p.images[i], h, &h->funcs[k], st, &r[k].addr) == 0;
			hp_diag_rollback(ctx, mark);
			if (all)
				ti = &p.images[i];
		}
		/* None holds them all: report against the one naming the most of them. */
		size_t best = 0;
		for (size_t i = 0; i < p.nimages && !ti; i++) {
			size_t named = 0;
			for (size_t k = 0; k < h->nfuncs; k++) {
				const struct image_sym *c[1];
				named += image_find(p.images[i].img, h->funcs[k].name, h->funcs[k].file,
						    h->funcs[k].ordinal, c, 1) > 0;
			}
			if (named > best) {
				best = named;
				ti = &p.images[i];
			}
		}
		if (!ti) {
			/* A stripped executable is the likely reason; libraries usually are. */
			const char *stripped = NULL;
			for (size_t i = 0; i < p.nimages && !stripped; i++)
				if (p.images[i].main && !p.images[i].img->has_symtab)
					stripped = p.images[i].path;
			err = hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				     "process %d: no image defines the functions the patch replaces (%s ...)%s%s%s",
				     (int)pid, h->nfuncs ? h->funcs[0].name : "",
				     stripped ? "; " : "", stripped ? stripped : "",
				     stripped ? STRIPPED_HINT : "");
			goto out_close;
		}
	}
	int bad = 0;
	for (size_t k = 0; k < h->nfuncs; k++)
		if ((err = locate_func(&p, ti, h, &h->funcs[k], st, &r[k].addr)) < 0)
			bad = err;
	for (size_t k = 0; k < h->nsyms; k++)
		if ((err = h->syms[k].kind == HPX_SYM_TLS
				   ? resolve_tls(&p, ti, &h->syms[k], &tls[k])
				   : resolve_sym(&p, ti, &h->syms[k], &symaddr[k])) < 0)
			bad = err;
	if ((err = bad) < 0)
		goto out_close;

	/* Map the image within rel32 reach of the target, link it there, write it. */
	if ((err = proc_find_syscall(&p, &insn)) < 0)
		goto out_close;
	uint64_t write_end = 0;
	for (unsigned skip = 0;; skip++) {
		if ((err = proc_find_gap(&p, ti->lo, ti->hi, h->image_size, skip, &base)) < 0)
			goto out_close;
		long args[6] = { (long)base, (long)h->image_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0 };
		long ret;
		if ((err = remote(&p, insn, SYS_mmap, args, &ret)) < 0)
			goto out_close;
		if ((uint64_t)ret == base) {
			mapped = true;
			break;
		}
		if (ret > 0 && ret != (long)base) /* an old kernel without NOREPLACE: not ours */
			remote_unmap(&p, insn, (uint64_t)ret, h->image_size);
		if (skip > 16) {
			err = hp_err(ctx, HP_ERROR, NULL, NULL,
				     "process %d: cannot map %llu bytes near %s: %s", (int)pid,
				     (unsigned long long)h->image_size, ti->path,
				     ret < 0 ? strerror((int)-ret) : "address taken");
			goto out_close;
		}
	}
	if (!st->addr) {
		if ((err = state_create_remote(&p, insn, base, &st->addr)) < 0)
			goto out_unmap;
		created_state = true;
		if ((err = proc_read_maps(&p)) < 0)
			goto out_unmap;
	}
	if ((err = link_image(ctx, h, base, symaddr, tls, img, &write_end)) < 0 ||
	    (err = proc_write(&p, base, img, (size_t)write_end)) < 0)
		goto out_unmap;
	long pr[6] = { (long)base, (long)h->image_size, PROT_READ }, ret;
	if ((err = remote(&p, insn, SYS_mprotect, pr, &ret)) < 0)
		goto out_unmap;
	for (size_t i = 0; i < h->nsegments && ret == 0; i++) {
		const struct hpx_segment *s = &h->segments[i];
		long a[6] = { (long)(base + s->offset), (long)s->size,
			      (s->prot & HPX_PROT_R ? PROT_READ : 0) |
				      (s->prot & HPX_PROT_W ? PROT_WRITE : 0) |
				      (s->prot & HPX_PROT_X ? PROT_EXEC : 0) };
		if ((err = remote(&p, insn, SYS_mprotect, a, &ret)) < 0)
			goto out_unmap;
	}
	if (ret != 0) {
		err = hp_err(ctx, HP_ERROR, NULL, NULL, "process %d: mprotect: %s", (int)pid,
			     strerror((int)-ret));
		goto out_unmap;
	}

	/* What must be idle: the functions replaced, and the code that runs in their
	 * place now when an earlier patch replaced them already. */
	struct hots hot = { 0 };
	for (size_t k = 0; k < h->nfuncs; k++) {
		const struct hpx_func *f = &h->funcs[k];
		if ((err = add_hot(ctx, &hot, r[k].addr, f->old_size, f->name)) < 0)
			goto out_unmap;
		r[k].new_addr = f->flags & HPX_FUNC_CHECK_ONLY ? 0 : base + f->new_offset;
		for (uint32_t i = 0; i < st->nfuncs; i++)
			if (st->funcs[i].addr == r[k].addr && st->funcs[i].new_size &&
			    (err = add_hot(ctx, &hot, st->funcs[i].new_addr, st->funcs[i].new_size,
					   f->name)) < 0)
				goto out_unmap;
	}
	if ((err = proc_read_maps(&p)) < 0)
		goto out_unmap;
	struct apply_window aw = { r, h->nfuncs };
	struct window_ops ops = { apply_body, &aw };
	if ((err = run_windows(&p, &hot, o, t0, &ops, out)) < 0)
		goto out_unmap;

	/* Record it. */
	struct rt_patch *x = &st->patches[st->npatches];
	memset(x, 0, sizeof *x);
	memcpy(x->patch_id, h->patch_id, 16);
	x->sequence = h->sequence;
	x->applied_at = (uint64_t)time(NULL);
	memcpy(x->build_id, ti->img->build_id, ti->img->build_id_size);
	x->build_id_size = ti->img->build_id_size;
	x->image_addr = base;
	x->image_size = h->image_size;
	x->nfuncs = (uint32_t)h->nfuncs;
	const char *slash = strrchr(ti->path, '/');
	snprintf(x->target, sizeof x->target, "%s", slash ? slash + 1 : ti->path);
	for (size_t k = 0; k < h->nfuncs; k++) {
		struct rt_func *f = &st->funcs[st->nfuncs++];
		memset(f, 0, sizeof *f);
		f->addr = r[k].addr;
		f->old_size = h->funcs[k].old_size;
		f->new_addr = r[k].new_addr;
		f->new_size = r[k].new_addr ? h->funcs[k].new_size : 0;
		memcpy(f->saved, r[k].saved, 8);
		f->patch = st->npatches;
		snprintf(f->name, sizeof f->name, "%s", h->funcs[k].name);
	}
	st->npatches++;
	if ((err = state_write(&p, st)) < 0)
		hp_warn(ctx, NULL, NULL, "process %d: patch %s applied, but its record could not be written",
			(int)pid, id);
	err = 0;
	out->image_addr = base;
	memcpy(out->patch_id, h->patch_id, 16);
	out->sequence = h->sequence;
	out->has_patch = true;
	goto out_close;

out_unmap:
	/* Leave the process as it was: no image, and no state block we created. */
	if (mapped)
		remote_unmap(&p, insn, base, h->image_size);
	if (created_state)
		remote_unmap(&p, insn, st->addr, RT_STATE_SIZE);
out_close:
	proc_close(&p);
	unlock_process(lock);
out_free:
	free(st);
	free(symaddr);
	free(tls);
	free(r);
	free(img);
	out->wall_ns = now_ns() - t0;
	return err;
}

/* ----- revert ------------------------------------------------------------------- */

struct revert_window {
	const struct rt_state *st;
	uint32_t patch;
	int mismatch;            /* an entry no longer holds the jump we wrote */
};

static int revert_body(struct rt_proc *p, void *arg)
{
	struct revert_window *w = arg;
	const struct rt_state *st = w->st;
	/* First check every entry still holds our jump; then restore them all. */
	for (uint32_t i = 0; i < st->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (f->patch != w->patch || !f->new_size)
			continue;
		uint8_t cur[5], jmp[5] = { 0xe9 };
		hp_store_le32(jmp + 1, (uint32_t)(int32_t)(int64_t)(f->new_addr - (f->addr + 5)));
		if (proc_read(p, f->addr, cur, 5) < 0)
			return -HP_ERROR;
		if (memcmp(cur, jmp, 5)) {
			w->mismatch = 1;
			return hp_err(p->ctx, HP_EMISMATCH, NULL, f->name,
				      "its entry no longer holds the patch's jump; something else changed it");
		}
	}
	for (uint32_t i = 0; i < st->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (f->patch == w->patch && f->new_size && proc_write(p, f->addr, f->saved, 5) < 0)
			return hp_err(p->ctx, HP_ERROR, NULL, f->name,
				      "could not restore its entry; the process is left with a mix of patched and unpatched entries");
	}
	return 0;
}

int runtime_revert(struct hp_ctx *ctx, pid_t pid, const uint8_t *patch_id,
		   const struct rt_opts *o, struct rt_result *out)
{
	memset(out, 0, sizeof *out);
	uint64_t t0 = now_ns();
	struct rt_proc p;
	struct rt_state *st = calloc(1, sizeof *st);
	int lock = -1, err;
	if (!st) {
		err = hp_nomem(ctx);
		goto out;
	}
	if ((err = proc_open(ctx, pid, &p)) < 0)
		goto out_close;
	if ((err = lock_process(ctx, pid, &lock)) < 0 || (err = state_read(&p, st)) < 0)
		goto out_close;
	if (!st->npatches) {
		err = hp_err(ctx, HP_EMISMATCH, NULL, NULL, "process %d: no patch is applied", (int)pid);
		goto out_close;
	}
	uint32_t idx = st->npatches - 1;
	if (patch_id) {
		for (idx = 0; idx < st->npatches; idx++)
			if (!memcmp(st->patches[idx].patch_id, patch_id, 16))
				break;
		if (idx == st->npatches) {
			char id[33];
			hex16(id, patch_id);
			err = hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				     "process %d: patch %s is not applied", (int)pid, id);
			goto out_close;
		}
	}
	const struct rt_patch *x = &st->patches[idx];
	char id[33];
	hex16(id, x->patch_id);
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
				hex16(top, st->patches[st->funcs[k].patch].patch_id);
				err = hp_err(ctx, HP_EMISMATCH, NULL, f->name,
					     "patch %s is below patch %s here; revert that one first", id,
					     top);
				goto out_close;
			}
	}
	struct hots hot = { 0 };
	if ((err = add_hot(ctx, &hot, x->image_addr, x->image_size, "the patch's code")) < 0)
		goto out_close;
	uint64_t insn;
	if ((err = proc_find_syscall(&p, &insn)) < 0)
		goto out_close;
	struct revert_window w = { st, idx, 0 };
	struct window_ops ops = { revert_body, &w };
	if ((err = run_windows(&p, &hot, o, t0, &ops, out)) < 0)
		goto out_close;
	remote_unmap(&p, insn, x->image_addr, x->image_size);
	out->image_addr = x->image_addr;

	/* Drop its records; later patches move down one. */
	uint32_t k = 0;
	for (uint32_t i = 0; i < st->nfuncs; i++) {
		if (st->funcs[i].patch == idx)
			continue;
		st->funcs[k] = st->funcs[i];
		if (st->funcs[k].patch > idx)
			st->funcs[k].patch--;
		k++;
	}
	st->nfuncs = k;
	memmove(&st->patches[idx], &st->patches[idx + 1],
		(st->npatches - idx - 1) * sizeof st->patches[0]);
	st->npatches--;
	if (state_write(&p, st) < 0)
		hp_warn(ctx, NULL, NULL, "process %d: patch %s reverted, but its record could not be updated",
			(int)pid, id);
	err = 0;
out_close:
	proc_close(&p);
	unlock_process(lock);
out:
	free(st);
	out->wall_ns = now_ns() - t0;
	return err;
}

/* ----- status --------------------------------------------------------------------- */

int runtime_status(struct hp_ctx *ctx, pid_t pid, struct rt_state *out)
{
	struct rt_proc p;
	memset(&p, 0, sizeof p);
	p.ctx = ctx;
	p.pid = pid;
	p.mem = -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	p.mem = open(path, O_RDONLY | O_CLOEXEC);
	int err = proc_read_maps(&p);
	if (err == 0)
		err = state_read(&p, out);
	if (p.mem >= 0)
		close(p.mem);
	return err;
}
