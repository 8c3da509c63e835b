/*
 * patch.c: the stored patches applied to this process from inside it, with the
 * checks hpapply makes (runtime/resolve.c, apply.c) and the same record
 * (runtime/record.c), so that hpstatus, hpd and hpapply see these patches as
 * any other.
 *
 *   1. the record: found in /proc/self/maps, checked (its MAC when this process
 *      can read the key, no operation of another tool under way), and, for
 *      root's processes, the lock other tools take (PID-STARTTIME.lock)
 *   2. every patch planned while nothing is touched: each replaced function
 *      where hpbuild --target recorded it, inside the target's code, with its
 *      old bytes (the masked hash); each symbol the new code needs; any doubt
 *      and nothing at all is applied
 *   3. each patch in install order: its image mapped within rel32 reach of the
 *      target with its final protections (code r-x from the start), its bytes
 *      and then the 5-byte jump at each entry written through /proc/self/mem,
 *      which writes past page protections as hpapply's writes through
 *      /proc/PID/mem do: no page is ever writable and executable, nothing
 *      becomes executable later (MDWE allows it). Then the record, once,
 *      with every patch in (crash-safe as hpapply writes it: the slot not in
 *      use, then one store that switches). No intent is recorded first, as
 *      hpapply does: this process is the writer, and what it leaves half-done
 *      dies with it. A failure undoes every patch of this call.
 *
 * Threads: from the constructor, the program has run none of its own code;
 * from dlopen, the new library has not been handed to the program yet. Its
 * own constructors have run, though (docs/preload.md).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/preload/preload.h"

struct session {
	struct hp_ctx *ctx;
	const struct pl_env *env;
	int dir;                  /* the applier's directory (root's processes), or -1 */
	int lock;                 /* PID-STARTTIME.lock, held; or -1 */
	bool sign;                /* key holds this user's record key */
	uint8_t key[RT_KEY_SIZE];
	int mem;                  /* /proc/self/mem */
	uint64_t start;           /* this process's start time, clock ticks since boot */
	uint8_t *block;           /* the record's block; NULL until there is one */
	struct rt_state *st;
};

/* What one patch needs from the process, found while nothing is touched. */
struct plan {
	bool skip;                /* applied already */
	uint64_t *faddr;          /* each replaced function's entry */
	uint64_t *symaddr;        /* each symbol */
	struct rt_tls *tls;
};

static const char *image_name(const struct pl_image *img)
{
	return img->name[0] ? img->name : "the executable";
}

/* ----- the applier's directory: the key, the lock -------------------------------------- */

static uint64_t start_time(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long v = 0;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		       &v);
	return v;
}

/* The key the applier's tools keep in dir (runtime/home.c), made when there is none. */
static bool load_key(int dir, uint8_t key[RT_KEY_SIZE])
{
	for (int tries = 0; tries < 3; tries++) {
		int fd = openat(dir, "record.key", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			struct stat st;
			bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
				  st.st_uid == geteuid() && !(st.st_mode & 077) &&
				  st.st_size == RT_KEY_SIZE &&
				  read(fd, key, RT_KEY_SIZE) == RT_KEY_SIZE;
			close(fd);
			return ok;
		}
		if (errno != ENOENT)
			return false;
		uint8_t k[RT_KEY_SIZE];
		char tmp[64];
		if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k)
			return false;
		snprintf(tmp, sizeof tmp, "record.key.%d", (int)getpid());
		unlinkat(dir, tmp, 0);
		fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return false;
		bool ok = write(fd, k, sizeof k) == (ssize_t)sizeof k && fsync(fd) == 0;
		close(fd);
		if (ok && linkat(dir, tmp, dir, "record.key", 0) < 0 && errno != EEXIST)
			ok = false;
		unlinkat(dir, tmp, 0);
		explicit_bzero(k, sizeof k);
		if (!ok)
			return false;
	}
	return false;
}

/*
 * Root's processes sign their record with the key hpstatus, hpd and hpapply
 * use, and take the lock those tools take. Another user's process cannot read
 * root's key: its record is written unsigned (docs/preload.md).
 */
static int open_home(struct session *s)
{
	s->dir = s->lock = -1;
	if (geteuid() != 0)
		return 0;
	const char *path = s->env->run_dir;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return 0; /* a read-only /run: an unsigned record */
	s->dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (s->dir < 0 || fstat(s->dir, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077)) {
		if (s->dir >= 0)
			close(s->dir);
		s->dir = -1;
		return 0;
	}
	s->sign = load_key(s->dir, s->key);
	/* The lock of this process: another tool working on it goes first. */
	char name[64];
	snprintf(name, sizeof name, "%d-%llu.lock", (int)getpid(), (unsigned long long)s->start);
	for (int ms = 0; ms < 2000; ms++) {
		int fd = openat(s->dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return 0; /* a read-only directory: no tool can lock it either */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* Still the file of that name? Its holder removes it when done. */
			struct stat a, b;
			if (fstat(fd, &a) == 0 && fstatat(s->dir, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
			    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
				s->lock = fd;
				return 0;
			}
			close(fd);
			continue;
		}
		close(fd);
		struct timespec t = { 0, 1000000 };
		nanosleep(&t, NULL);
	}
	return hp_err(s->ctx, HP_ELOCKED, path, name,
		      "another hotpatch tool is working on this process");
}

static void close_home(struct session *s)
{
	if (s->lock >= 0) {
		char name[64];
		snprintf(name, sizeof name, "%d-%llu.lock", (int)getpid(),
			 (unsigned long long)s->start);
		unlinkat(s->dir, name, 0); /* while still held: a waiter re-checks the name */
		close(s->lock);
	}
	if (s->dir >= 0)
		close(s->dir);
	explicit_bzero(s->key, sizeof s->key);
}

/* ----- the record ----------------------------------------------------------------------- */

/*
 * The process's record, if it has one, into s->st: checked with this user's
 * key (root's processes), or, unsigned, as this library wrote it. 1: signed by
 * a tool while this process cannot sign (not root): not to be written here.
 */
static int record_read(struct session *s, const struct rt_map *maps, size_t nmaps)
{
	static const char name[] = "/memfd:" RT_STATE_NAME;
	struct rt_state *st = s->st;
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i < nmaps && !s->block; i++)
		if (!strncmp(maps[i].path, name, sizeof name - 1) &&
		    maps[i].end - maps[i].start >= RT_STATE_SIZE)
			s->block = (uint8_t *)(uintptr_t)maps[i].start;
	if (!s->block)
		return 0;
	size_t used = state_slot_size();
	uint8_t *b = malloc(used);
	if (!b)
		return hp_nomem(s->ctx);
	int err = 0;
	for (int tries = 0;; tries++) {
		uint64_t g = 0, g2;
		int kind = state_check_header(s->block, &g);
		if (kind > 0)
			break; /* made, never written: an empty record */
		if (kind < 0) {
			err = hp_err(s->ctx, HP_ERECORD, NULL, NULL,
				     "this process's hotpatch record is not one this version reads");
			break;
		}
		memcpy(b, s->block + state_slot_at(g), used);
		g2 = __atomic_load_n((uint64_t *)(void *)(s->block + 16), __ATOMIC_ACQUIRE);
		if (g2 != g) {
			if (tries < 100)
				continue;
			err = hp_err(s->ctx, HP_ELOCKED, NULL, NULL,
				     "this process's hotpatch record keeps changing under another tool");
			break;
		}
		if (!s->sign && !state_slot_unsigned(b)) {
			/* Signed by a tool (hpd signs what this library wrote): this process
			 * cannot sign it again. What is new waits for hpd; nothing to say. */
			err = 1;
			break;
		}
		if ((err = state_decode(s->ctx, getpid(), b, s->sign ? s->key : NULL, st)) < 0)
			break;
		st->generation = g;
		break;
	}
	free(b);
	st->addr = (uint64_t)(uintptr_t)s->block;
	if (err)
		return err;
	if (st->op != RT_OP_NONE)
		err = hp_err(s->ctx, HP_ELOCKED, NULL, NULL,
			     "an operation of another hotpatch tool on this process is under way");
	return err;
}

/* Write s->st into the slot not in use, then switch to it with one store. */
static int record_write(struct session *s)
{
	struct rt_state *st = s->st;
	if (!s->block) {
		int fd = memfd_create(RT_STATE_NAME, MFD_CLOEXEC);
		if (fd < 0)
			return hp_err(s->ctx, HP_ERROR, NULL, NULL, "memfd_create: %s", strerror(errno));
		void *p = MAP_FAILED;
		if (ftruncate(fd, RT_STATE_SIZE) == 0)
			p = mmap(NULL, RT_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		int e = errno;
		close(fd);
		if (p == MAP_FAILED)
			return hp_err(s->ctx, HP_ERROR, NULL, NULL, "the record: %s", strerror(e));
		s->block = p;
		st->addr = (uint64_t)(uintptr_t)p;
		st->generation = 0;
	}
	uint64_t next = st->generation + 1;
	st->writer_pid = (uint32_t)getpid();
	st->writer_start = s->start;
	/* In place: no reader looks at the slot not in use until the switch. */
	state_encode(st, s->sign ? s->key : NULL, s->block + state_slot_at(next));
	if (st->generation == 0) {
		/* A new block: no switch armed (runtime/apply.c), then the magic. */
		uint8_t h[RT_STATE_HEADER];
		hp_store_le32(s->block + RT_COMMIT_AT, 4);
		state_header(0, h);
		memcpy(s->block, h, 16);
	}
	__atomic_store_n((uint64_t *)(void *)(s->block + 16), next, __ATOMIC_RELEASE);
	st->generation = next;
	return 0;
}

/* ----- planning: every check, nothing touched ------------------------------------------- */

static int doubt(struct hp_ctx *ctx, const struct pl_patch *p, const char *sym, const char *what)
{
	char id[33];
	hp_hex(id, p->e.id, 16);
	return hp_err(ctx, HP_EMISMATCH, image_name(p->target), sym, "patch %s: %s", id, what);
}

static int plan_func(struct session *s, const struct pl_patch *p, const struct hpx_func *f,
		     uint64_t *out)
{
	const struct pl_image *ti = p->target;
	if (!f->addr)
		return doubt(s->ctx, p, f->name,
			     "no address recorded for it (a patch built without hpbuild --target)");
	uint64_t addr = ti->bias + f->addr;
	if (f->old_size < 5 && !(f->flags & HPX_FUNC_CHECK_ONLY))
		return doubt(s->ctx, p, f->name, "shorter than the 5-byte jump");
	if (addr < ti->bias || !pl_image_code(ti, addr, f->old_size))
		return doubt(s->ctx, p, f->name, "its recorded address is not in the image's code");
	uint8_t *bytes = malloc(f->old_size ? f->old_size : 1);
	if (!bytes)
		return hp_nomem(s->ctx);
	memcpy(bytes, (const void *)(uintptr_t)addr, f->old_size);
	/* An entry an earlier patch redirected: the bytes its bottom layer saved. */
	for (uint32_t i = 0; i < s->st->nfuncs; i++)
		if (s->st->funcs[i].addr == addr) {
			memcpy(bytes, s->st->funcs[i].saved, f->old_size < 5 ? f->old_size : 5);
			break;
		}
	uint8_t hash[32];
	hpx_masked_hash(bytes, f->old_size, p->h.masks + f->mask_first, f->mask_count, hash);
	free(bytes);
	if (memcmp(hash, f->old_hash, 32))
		return doubt(s->ctx, p, f->name,
			     "its code differs from the patch's old bytes; not the build it was made for");
	*out = addr;
	return 0;
}

/* A thread-local variable, reached as hpapply reaches it (runtime/resolve.c). */
static int plan_tls(struct session *s, const struct pl_patch *p, const struct hpx_sym *y,
		    struct rt_tls *t)
{
	const struct pl_image *ti = p->target;
	memset(t, 0, sizeof *t);
	int err;
	if (y->addr & HPX_ADDR_TLS) {
		uint64_t v = y->addr & ~HPX_ADDR_TLS;
		t->dtpoff = v;
		t->module = ti->tls_modid;
		t->has_dtp = ti->tls_modid != 0;
		if (ti->main && ti->has_tls) {
			/* The executable's block sits right below the thread pointer. */
			uint64_t align = ti->tls_align ? ti->tls_align : 1;
			uint64_t first = (0 - ti->tls_vaddr) & (align - 1);
			uint64_t block = (ti->tls_memsz - first + align - 1) / align * align + first;
			t->tpoff = (int64_t)(v - block);
			t->has_tpoff = true;
		}
	} else if (y->scope == HPX_SCOPE_GLOBAL) {
		uint64_t v, mod, off;
		if ((err = pl_image_got(s->ctx, ti, y->name, R_X86_64_TPOFF64, &v)) < 0)
			return err;
		if (err == 1) {
			t->tpoff = (int64_t)v;
			t->has_tpoff = true;
		}
		int a = pl_image_got(s->ctx, ti, y->name, R_X86_64_DTPMOD64, &mod);
		int b = a == 1 ? pl_image_got(s->ctx, ti, y->name, R_X86_64_DTPOFF64, &off) : 0;
		if (a < 0 || b < 0)
			return a < 0 ? a : b;
		if (a == 1 && b == 1) {
			t->module = mod;
			t->dtpoff = off;
			t->has_dtp = true;
		}
	}
	if (!t->has_tpoff && !t->has_dtp)
		return doubt(s->ctx, p, y->name,
			     "a thread-local variable the target neither defines nor imports");
	return 0;
}

static int plan_sym(struct session *s, const struct pl_patch *p, const struct hpx_sym *y,
		    uint64_t *out)
{
	const struct pl_image *ti = p->target;
	if (y->addr) { /* recorded by hpbuild --target: the target defines it */
		*out = ti->bias + y->addr;
		return 0;
	}
	if (y->scope == HPX_SCOPE_TARGET)
		return doubt(s->ctx, p, y->name, "no address recorded for it (hpbuild --target)");
	/* An import: where the target's own GOT slot points, IFUNC and version chosen
	 * by the dynamic linker; else what the program's global scope gives. */
	uint64_t v = 0;
	int err = pl_image_got(s->ctx, ti, y->name, 0, &v);
	if (err < 0)
		return err;
	if (err == 1 && v) {
		*out = v;
		return 0;
	}
	void *a = dlsym(RTLD_DEFAULT, y->name);
	if (!a)
		return doubt(s->ctx, p, y->name, "the patch needs it, but no image defines it");
	*out = (uint64_t)(uintptr_t)a;
	return 0;
}

static int plan(struct session *s, const struct pl_patch *p, struct plan *pl)
{
	const struct hpx *h = &p->h;
	const struct rt_state *st = s->st;
	memset(pl, 0, sizeof *pl);
	for (uint32_t i = 0; i < st->npatches; i++)
		if (!memcmp(st->patches[i].patch_id, h->patch_id, 16)) {
			pl->skip = true;
			return 0;
		}
	/* Never below a sequence applied before to this binary in this process. */
	const struct pl_image *ti = p->target;
	for (uint32_t i = 0; i < st->nhigh; i++)
		if (st->high[i].build_id_size == ti->build_id_size &&
		    !memcmp(st->high[i].build_id, ti->build_id, ti->build_id_size) &&
		    st->high[i].sequence > h->sequence)
			return doubt(s->ctx, p, NULL,
				     "below the sequence of a patch applied before to this binary here");
	pl->faddr = hp_arena_array(s->ctx, h->nfuncs ? h->nfuncs : 1, sizeof *pl->faddr);
	pl->symaddr = hp_arena_array(s->ctx, h->nsyms ? h->nsyms : 1, sizeof *pl->symaddr);
	pl->tls = hp_arena_array(s->ctx, h->nsyms ? h->nsyms : 1, sizeof *pl->tls);
	if (!pl->faddr || !pl->symaddr || !pl->tls)
		return hp_nomem(s->ctx);
	int err;
	for (size_t k = 0; k < h->nfuncs; k++)
		if ((err = plan_func(s, p, &h->funcs[k], &pl->faddr[k])) < 0)
			return err;
	for (size_t k = 0; k < h->nsyms; k++)
		if ((err = h->syms[k].kind == HPX_SYM_TLS
				   ? plan_tls(s, p, &h->syms[k], &pl->tls[k])
				   : plan_sym(s, p, &h->syms[k], &pl->symaddr[k])) < 0)
			return err;
	return 0;
}

/* ----- applying ---------------------------------------------------------------------------- */

/* What one applied patch changed, to undo it. */
struct applied {
	uint64_t base, size;      /* its image; size 0: none mapped */
	uint32_t func0, nfuncs;   /* its functions in the record */
	size_t nwritten;          /* entries written, in the record's order */
};

static void jump_to(uint8_t out[5], uint64_t at, uint64_t dest)
{
	out[0] = 0xe9;
	hp_store_le32(out + 1, (uint32_t)(int32_t)(int64_t)(dest - (at + 5)));
}

static int write_mem(struct session *s, uint64_t addr, const void *b, size_t n)
{
	ssize_t w = pwrite(s->mem, b, n, (off_t)addr);
	if (w != (ssize_t)n)
		return hp_err(s->ctx, HP_ERROR, "/proc/self/mem", NULL,
			      "cannot write %zu bytes at %#llx: %s", n, (unsigned long long)addr,
			      w < 0 ? strerror(errno) : "short write");
	return 0;
}

/* Undo a: the entries it wrote, its image. */
static void undo(struct session *s, const struct applied *a)
{
	const struct rt_state *st = s->st;
	size_t k = 0;
	for (uint32_t i = a->func0; i < a->func0 + a->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (f->new_size && k++ < a->nwritten)
			write_mem(s, f->addr, f->saved, 5);
	}
	if (a->size)
		munmap((void *)(uintptr_t)a->base, a->size);
}

/* Insert [start, end) into the sorted maps (the reservation just made). */
static int add_map(struct session *s, struct rt_map **maps, size_t *n, size_t *cap,
		   uint64_t start, uint64_t end)
{
	int err = hp_arena_grow(s->ctx, maps, cap, *n, sizeof **maps, 64);
	if (err < 0)
		return err;
	size_t i = 0;
	while (i < *n && (*maps)[i].start < start)
		i++;
	memmove(&(*maps)[i + 1], &(*maps)[i], (*n - i) * sizeof **maps);
	(*maps)[i] = (struct rt_map){ .start = start, .end = end, .prot = PROT_READ, .path = "" };
	++*n;
	return 0;
}

/* Map h's image within rel32 reach of the target, read-only: *base. */
static int reserve(struct session *s, const struct pl_patch *p, struct rt_map **maps, size_t *n,
		   size_t *cap, uint64_t *base)
{
	const struct pl_image *ti = p->target;
	uint64_t brk = (uint64_t)(uintptr_t)sbrk(0);
	for (unsigned skip = 0; skip < 16; skip++) {
		uint64_t a;
		if (maps_find_gap(*maps, *n, brk, ti->lo, ti->hi, p->h.image_size, skip, &a) < 0)
			break;
		void *m = mmap((void *)(uintptr_t)a, p->h.image_size, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (m == (void *)(uintptr_t)a) {
			*base = a;
			return add_map(s, maps, n, cap, a, a + p->h.image_size);
		}
		if (m != MAP_FAILED) /* a kernel without NOREPLACE put it elsewhere */
			munmap(m, p->h.image_size);
	}
	return doubt(s->ctx, p, NULL, "no free range within reach of the image for the patch's code");
}

/*
 * Apply p: its image mapped and written, its entries switched, and its line
 * added to s->st (written by the caller once every patch is in). *a says what
 * to undo, whatever the outcome.
 */
static int apply_one(struct session *s, const struct pl_patch *p, const struct plan *pl,
		     struct rt_map **maps, size_t *nmaps, size_t *capmaps, const char *exe,
		     struct applied *a)
{
	const struct hpx *h = &p->h;
	struct rt_state *st = s->st;
	memset(a, 0, sizeof *a);
	if (st->npatches >= RT_MAX_PATCHES || st->nfuncs + h->nfuncs > RT_MAX_FUNCS)
		return doubt(s->ctx, p, NULL, "the record is full");
	uint64_t base = 0;
	int err = reserve(s, p, maps, nmaps, capmaps, &base);
	if (err < 0)
		return err;
	a->base = base;
	a->size = h->image_size;
	/* Each segment with its final protections: code is never writable. */
	for (size_t i = 0; i < h->nsegments; i++) {
		const struct hpx_segment *sg = &h->segments[i];
		int prot = (sg->prot & HPX_PROT_R ? PROT_READ : 0) |
			   (sg->prot & HPX_PROT_W ? PROT_WRITE : 0) |
			   (sg->prot & HPX_PROT_X ? PROT_EXEC : 0);
		void *want = (void *)(uintptr_t)(base + sg->offset);
		if (mmap(want, sg->size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != want)
			return hp_err(s->ctx, HP_ERROR, NULL, NULL, "mmap of a segment of the patch: %s",
				      strerror(errno));
	}
	uint8_t *img = hp_arena_alloc(s->ctx, h->image_size);
	uint64_t write_end = 0;
	if (!img)
		return hp_nomem(s->ctx);
	if ((err = link_image(s->ctx, h, base, pl->symaddr, pl->tls, img, &write_end)) < 0)
		return err;

	/* Its line in the record: the patch, its image, what each entry holds now. */
	uint32_t idx = st->npatches, nf0 = st->nfuncs;
	struct rt_patch *x = &st->patches[idx];
	memset(x, 0, sizeof *x);
	memcpy(x->patch_id, h->patch_id, 16);
	x->sequence = h->sequence;
	x->applied_at = (uint64_t)time(NULL);
	memcpy(x->build_id, p->target->build_id, p->target->build_id_size);
	x->build_id_size = p->target->build_id_size;
	x->image_addr = base;
	x->image_size = h->image_size;
	x->nfuncs = (uint32_t)h->nfuncs;
	uint8_t d[32];
	hp_sha256(img, (size_t)h->image_size, d);
	x->image_hash = hp_load_le64(d);
	const char *path = p->target->name[0] ? p->target->name : exe;
	const char *slash = strrchr(path, '/');
	snprintf(x->target, sizeof x->target, "%.63s", slash ? slash + 1 : path);
	for (size_t k = 0; k < h->nfuncs; k++) {
		const struct hpx_func *hf = &h->funcs[k];
		struct rt_func *f = &st->funcs[nf0 + k];
		memset(f, 0, sizeof *f);
		f->addr = pl->faddr[k];
		f->old_size = hf->old_size;
		f->new_size = hf->flags & HPX_FUNC_CHECK_ONLY ? 0 : hf->new_size;
		f->new_addr = hf->flags & HPX_FUNC_CHECK_ONLY ? 0 : base + hf->new_offset;
		f->patch = idx;
		snprintf(f->name, sizeof f->name, "%s", hf->name);
		memcpy(f->saved, (const void *)(uintptr_t)f->addr, f->old_size < 8 ? f->old_size : 8);
	}
	a->func0 = nf0;
	a->nfuncs = (uint32_t)h->nfuncs;
	st->npatches = idx + 1;
	st->nfuncs = nf0 + (uint32_t)h->nfuncs;
	state_raise_high(st, x);

	/* The code, then the entries. */
	if ((err = write_mem(s, base, img, (size_t)write_end)) < 0)
		return err;
	for (uint32_t i = nf0; i < st->nfuncs; i++) {
		const struct rt_func *f = &st->funcs[i];
		if (!f->new_size)
			continue;
		int64_t rel = (int64_t)(f->new_addr - (f->addr + 5));
		if (rel < INT32_MIN || rel > INT32_MAX)
			return doubt(s->ctx, p, f->name, "its new code is out of reach of a jump");
		/* Still what was saved: no other tool wrote here meanwhile. */
		if (memcmp((const void *)(uintptr_t)f->addr, f->saved, 5))
			return doubt(s->ctx, p, f->name, "its entry changed while the patch was applied");
		uint8_t jmp[5];
		jump_to(jmp, f->addr, f->new_addr);
		if ((err = write_mem(s, f->addr, jmp, 5)) < 0)
			return err;
		a->nwritten++;
	}
	return 0;
}

int pl_apply(struct hp_ctx *ctx, const struct pl_env *env, const struct pl_patch *v, size_t n)
{
	struct session s;
	memset(&s, 0, sizeof s);
	s.ctx = ctx;
	s.env = env;
	s.dir = s.lock = s.mem = -1;
	s.start = start_time();
	s.st = calloc(1, sizeof *s.st);
	struct plan *pl = hp_arena_array(ctx, n ? n : 1, sizeof *pl);
	struct applied *done = hp_arena_array(ctx, n ? n : 1, sizeof *done);
	size_t ndone = 0, nmaps = 0, capmaps = 0;
	struct rt_map *maps = NULL;
	char exe[4096] = "";
	int err;
	if (!s.st || !pl || !done) {
		err = hp_nomem(ctx);
		goto out;
	}
	/* Everything that could stop the apply halfway is looked at first. */
	s.mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (s.mem < 0) {
		err = hp_err(ctx, HP_ERROR, "/proc/self/mem", NULL,
			     "cannot open: %s; this process cannot write its own code", strerror(errno));
		goto out;
	}
	if (!s.start) {
		err = hp_err(ctx, HP_ERROR, "/proc/self/stat", NULL, "cannot read the start time");
		goto out;
	}
	ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1); /* as hpapply names it */
	exe[l > 0 ? l : 0] = 0;
	if ((err = open_home(&s)) < 0 ||
	    (err = maps_read(ctx, "/proc/self/maps", &maps, &nmaps)) < 0 ||
	    (err = record_read(&s, maps, nmaps)) != 0) {
		if (err > 0)
			err = 0; /* a signed record this process cannot sign: left to hpd */
		goto out;
	}
	capmaps = nmaps;
	for (size_t i = 0; i < n; i++)
		if ((err = plan(&s, &v[i], &pl[i])) < 0)
			goto out;
	/* Then each in install order; the record once they are all in. */
	uint32_t np0 = s.st->npatches, nf0 = s.st->nfuncs, nh0 = s.st->nhigh;
	struct rt_high high0[RT_MAX_HIGH];
	memcpy(high0, s.st->high, sizeof high0);
	for (size_t i = 0; i < n && !err; i++) {
		if (pl[i].skip)
			continue;
		err = apply_one(&s, &v[i], &pl[i], &maps, &nmaps, &capmaps, exe, &done[ndone++]);
	}
	if (!err) {
		s.st->op = RT_OP_NONE;
		err = record_write(&s);
	}
	if (err < 0) {
		while (ndone)
			undo(&s, &done[--ndone]);
		s.st->npatches = np0;
		s.st->nfuncs = nf0;
		s.st->nhigh = nh0;
		memcpy(s.st->high, high0, sizeof high0);
	}
out:
	if (s.mem >= 0)
		close(s.mem);
	close_home(&s);
	free(s.st);
	return err;
}
