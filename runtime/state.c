/*
 * state.c: the record of applied patches, kept inside the patched process.
 *
 * A private mapping of a memfd named "hotpatch-state": /proc/PID/maps shows it
 * as "/memfd:hotpatch-state (deleted)", so hpstatus finds and reads it with
 * process_vm_readv, without stopping anything. It dies with the process and is
 * copied into a forked child, which inherits the patched code too.
 *
 * Crash-safe: the block holds two slots and a generation counter whose low bit
 * names the slot in use. A writer fills the other slot, then stores the next
 * generation in one 8-byte write: a writer killed at any instant leaves the
 * slot in use whole, and nothing to repair. A reader takes the generation, the
 * slot, and the generation again, and retries when they differ.
 *
 * Untrusted: the process's owner can write anything into its own memory, or
 * make a mapping of that name. Every field is bounds-checked before use, and
 * every slot carries an HMAC-SHA256 under a key only the writing user can read
 * (runtime/home.c): a record whose MAC does not verify was not written by
 * hpapply here, and is reported, never acted upon.
 *
 * Layout (little-endian; RT_STATE_SIZE bytes):
 *   0     magic "HPSTATE2"   8  version:u32 = 2   12  size:u32
 *   16    generation:u64 (slot in use = generation & 1)
 *   4096  slot 0;  4096 + SLOT_STRIDE  slot 1;  RT_COMMIT_AT the commit area
 *         (apply.c: the word and the entries the process switches itself).
 *   A slot:
 *     0   npatches:u32 nfuncs:u32 op:u32 op_patch:u32 writer_pid:u32 nhigh:u32
 *     24  writer_start:u64 op_time:u64
 *     64  mac[32]: HMAC-SHA256 of the slot's used bytes with mac zeroed
 *     256 high[16], 80 bytes each: build_id[64] build_id_size:u32 reserved:u32
 *           sequence:u64
 *     1536  patches[64], 192 bytes each:
 *         patch_id[16] sequence:u64 applied_at:u64 build_id[64] build_id_size:u32
 *         nfuncs:u32 image_addr:u64 image_size:u64 target[64] image_hash:u64
 *     13824 funcs[1024], 96 bytes each:
 *         addr:u64 old_size:u64 new_addr:u64 new_size:u64 saved[8] patch:u32
 *         reserved:u32 name[44] reserved:u32
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "formats/base.h"
#include "runtime/runtime_internal.h"

static const char magic[8] = { 'H', 'P', 'S', 'T', 'A', 'T', 'E', '2' };

#define SLOT0 4096
#define HIGH_AT 256
#define HIGH_SIZE 80
#define PATCHES_AT (HIGH_AT + RT_MAX_HIGH * HIGH_SIZE)
#define PATCH_SIZE 192
#define FUNCS_AT (PATCHES_AT + RT_MAX_PATCHES * PATCH_SIZE)
#define FUNC_SIZE 96
#define SLOT_USED (FUNCS_AT + RT_MAX_FUNCS * FUNC_SIZE)
#define SLOT_STRIDE ((SLOT_USED + 4095) & ~4095)
#define MAC_AT 64
_Static_assert(SLOT0 + 2 * SLOT_STRIDE <= RT_COMMIT_AT, "state block too small");
_Static_assert(RT_COMMIT_MAX >= RT_MAX_FUNCS, "commit area too small");

size_t state_slot_size(void)
{
	return SLOT_USED;
}

/* ----- HMAC-SHA256 (RFC 2104) over the parts of a slot in use --------------------- */

static void hmac_parts(const uint8_t key[RT_KEY_SIZE], const uint8_t *const *part,
		       const size_t *len, size_t nparts, uint8_t out[32])
{
	uint8_t pad[64], inner[32];
	struct hp_sha256 s;
	memset(pad, 0x36, sizeof pad);
	for (size_t i = 0; i < RT_KEY_SIZE; i++)
		pad[i] ^= key[i];
	hp_sha256_init(&s);
	hp_sha256_update(&s, pad, sizeof pad);
	for (size_t i = 0; i < nparts; i++)
		hp_sha256_update(&s, part[i], len[i]);
	hp_sha256_final(&s, inner);
	memset(pad, 0x5c, sizeof pad);
	for (size_t i = 0; i < RT_KEY_SIZE; i++)
		pad[i] ^= key[i];
	hp_sha256_init(&s);
	hp_sha256_update(&s, pad, sizeof pad);
	hp_sha256_update(&s, inner, sizeof inner);
	hp_sha256_final(&s, out);
}

/* The MAC of slot b, whose counts are already checked. */
static void slot_mac(const uint8_t key[RT_KEY_SIZE], const uint8_t *b, uint8_t out[32])
{
	static const uint8_t zero[32];
	uint32_t np = hp_load_le32(b), nf = hp_load_le32(b + 4), nh = hp_load_le32(b + 20);
	const uint8_t *part[] = { b, zero, b + MAC_AT + 32, b + HIGH_AT, b + PATCHES_AT, b + FUNCS_AT };
	size_t len[] = { MAC_AT, 32, HIGH_AT - MAC_AT - 32, (size_t)nh * HIGH_SIZE,
			 (size_t)np * PATCH_SIZE, (size_t)nf * FUNC_SIZE };
	hmac_parts(key, part, len, 6, out);
}

/* ----- decoding: every field checked -------------------------------------------------- */

static int damaged(struct hp_ctx *ctx, pid_t pid, const char *what)
{
	return hp_err(ctx, HP_ERECORD, NULL, NULL,
		      "process %d: its hotpatch record is damaged (%s); not acted upon", (int)pid, what);
}

int state_decode(struct hp_ctx *ctx, pid_t pid, const uint8_t *b, const uint8_t *key,
		 struct rt_state *s)
{
	uint32_t np = hp_load_le32(b), nf = hp_load_le32(b + 4);
	s->op = hp_load_le32(b + 8);
	s->op_patch = hp_load_le32(b + 12);
	s->writer_pid = hp_load_le32(b + 16);
	uint32_t nh = hp_load_le32(b + 20);
	s->writer_start = hp_load_le64(b + 24);
	s->op_time = hp_load_le64(b + 32);
	if (np > RT_MAX_PATCHES || nf > RT_MAX_FUNCS || nh > RT_MAX_HIGH)
		return damaged(ctx, pid, "counts out of range");
	if (s->op > RT_OP_REVERT || (s->op && s->op_patch >= np))
		return damaged(ctx, pid, "an operation on no patch");
	if (key) {
		uint8_t mac[32];
		slot_mac(key, b, mac);
		if (memcmp(mac, b + MAC_AT, 32))
			return hp_err(ctx, HP_ERECORD, NULL, NULL,
				      "process %d: its hotpatch record was not written by hpapply on this machine as this user (its MAC does not verify); not acted upon",
				      (int)pid);
	}
	s->npatches = np;
	s->nfuncs = nf;
	s->nhigh = nh;
	for (uint32_t i = 0; i < nh; i++) {
		const uint8_t *q = b + HIGH_AT + i * HIGH_SIZE;
		struct rt_high *x = &s->high[i];
		memcpy(x->build_id, q, 64);
		x->build_id_size = hp_load_le32(q + 64);
		x->sequence = hp_load_le64(q + 72);
		if (x->build_id_size > 64)
			return damaged(ctx, pid, "a build-id longer than 64 bytes");
	}
	uint32_t count[RT_MAX_PATCHES] = { 0 };
	for (uint32_t i = 0; i < nf; i++) {
		const uint8_t *q = b + FUNCS_AT + i * FUNC_SIZE;
		struct rt_func *f = &s->funcs[i];
		f->addr = hp_load_le64(q);
		f->old_size = hp_load_le64(q + 8);
		f->new_addr = hp_load_le64(q + 16);
		f->new_size = hp_load_le64(q + 24);
		memcpy(f->saved, q + 32, 8);
		f->patch = hp_load_le32(q + 40);
		memcpy(f->name, q + 48, 44);
		f->name[43] = 0;
		if (f->patch >= np)
			return damaged(ctx, pid, "a function of no patch");
		if (f->addr + f->old_size < f->addr || f->new_addr + f->new_size < f->new_addr)
			return damaged(ctx, pid, "an address range that wraps");
		count[f->patch]++;
	}
	for (uint32_t i = 0; i < np; i++) {
		const uint8_t *q = b + PATCHES_AT + i * PATCH_SIZE;
		struct rt_patch *x = &s->patches[i];
		memcpy(x->patch_id, q, 16);
		x->sequence = hp_load_le64(q + 16);
		x->applied_at = hp_load_le64(q + 24);
		memcpy(x->build_id, q + 32, 64);
		x->build_id_size = hp_load_le32(q + 96);
		x->nfuncs = hp_load_le32(q + 100);
		x->image_addr = hp_load_le64(q + 104);
		x->image_size = hp_load_le64(q + 112);
		memcpy(x->target, q + 120, 64);
		x->target[63] = 0;
		x->image_hash = hp_load_le64(q + 184);
		if (x->build_id_size > 64)
			return damaged(ctx, pid, "a build-id longer than 64 bytes");
		if (x->nfuncs != count[i])
			return damaged(ctx, pid, "a patch's function count");
		if (!x->image_size || x->image_addr + x->image_size < x->image_addr ||
		    x->image_size > (1ull << 32))
			return damaged(ctx, pid, "an image range");
		for (uint32_t k = 0; k < nf; k++) {
			const struct rt_func *f = &s->funcs[k];
			if (f->patch == i && f->new_size &&
			    (f->new_addr < x->image_addr ||
			     f->new_addr + f->new_size > x->image_addr + x->image_size))
				return damaged(ctx, pid, "new code outside its patch's image");
		}
	}
	return 0;
}

static void encode(const struct rt_state *s, const uint8_t *key, uint8_t *b)
{
	memset(b, 0, SLOT_USED);
	hp_store_le32(b, s->npatches);
	hp_store_le32(b + 4, s->nfuncs);
	hp_store_le32(b + 8, s->op);
	hp_store_le32(b + 12, s->op_patch);
	hp_store_le32(b + 16, s->writer_pid);
	hp_store_le32(b + 20, s->nhigh);
	hp_store_le64(b + 24, s->writer_start);
	hp_store_le64(b + 32, s->op_time);
	for (uint32_t i = 0; i < s->nhigh; i++) {
		uint8_t *q = b + HIGH_AT + i * HIGH_SIZE;
		memcpy(q, s->high[i].build_id, 64);
		hp_store_le32(q + 64, s->high[i].build_id_size);
		hp_store_le64(q + 72, s->high[i].sequence);
	}
	for (uint32_t i = 0; i < s->npatches; i++) {
		uint8_t *q = b + PATCHES_AT + i * PATCH_SIZE;
		const struct rt_patch *x = &s->patches[i];
		memcpy(q, x->patch_id, 16);
		hp_store_le64(q + 16, x->sequence);
		hp_store_le64(q + 24, x->applied_at);
		memcpy(q + 32, x->build_id, 64);
		hp_store_le32(q + 96, x->build_id_size);
		hp_store_le32(q + 100, x->nfuncs);
		hp_store_le64(q + 104, x->image_addr);
		hp_store_le64(q + 112, x->image_size);
		strncpy((char *)q + 120, x->target, 63);
		hp_store_le64(q + 184, x->image_hash);
	}
	for (uint32_t i = 0; i < s->nfuncs; i++) {
		uint8_t *q = b + FUNCS_AT + i * FUNC_SIZE;
		const struct rt_func *f = &s->funcs[i];
		hp_store_le64(q, f->addr);
		hp_store_le64(q + 8, f->old_size);
		hp_store_le64(q + 16, f->new_addr);
		hp_store_le64(q + 24, f->new_size);
		memcpy(q + 32, f->saved, 8);
		hp_store_le32(q + 40, f->patch);
		strncpy((char *)q + 48, f->name, 43);
	}
	uint8_t mac[32];
	slot_mac(key, b, mac);
	memcpy(b + MAC_AT, mac, 32);
}

/* ----- reading and writing the block in the process ----------------------------------- */

static uint64_t find_block(const struct rt_proc *p)
{
	static const char name[] = "/memfd:" RT_STATE_NAME;
	for (size_t i = 0; i < p->nmaps; i++)
		if (!strncmp(p->maps[i].path, name, sizeof name - 1) &&
		    p->maps[i].end - p->maps[i].start >= RT_STATE_SIZE)
			return p->maps[i].start;
	return 0;
}

int state_read(struct rt_proc *p, const uint8_t *key, struct rt_state *s)
{
	memset(s, 0, sizeof *s);
	s->addr = find_block(p);
	if (!s->addr)
		return 0;
	uint8_t *b = malloc(SLOT_USED);
	if (!b)
		return hp_nomem(p->ctx);
	int err = 0;
	for (int tries = 0;; tries++) {
		uint8_t h[24], g2[8];
		if ((err = proc_read(p, s->addr, h, sizeof h)) < 0)
			break;
		static const uint8_t zero[24];
		if (!memcmp(h, zero, sizeof h))
			break; /* made, never written (its maker died): an empty record */
		if (memcmp(h, magic, 8) || hp_load_le32(h + 8) != 2 ||
		    hp_load_le32(h + 12) != RT_STATE_SIZE) {
			err = hp_err(p->ctx, HP_ERECORD, NULL, NULL,
				     "process %d: its hotpatch record is not one this version reads; not acted upon",
				     (int)p->pid);
			break;
		}
		uint64_t g = hp_load_le64(h + 16);
		if ((err = proc_read(p, s->addr + SLOT0 + (g & 1) * SLOT_STRIDE, b, SLOT_USED)) < 0 ||
		    (err = proc_read(p, s->addr + 16, g2, 8)) < 0)
			break;
		if (hp_load_le64(g2) == g) {
			uint64_t addr = s->addr;
			err = state_decode(p->ctx, p->pid, b, key, s);
			s->addr = addr;
			s->generation = g;
			break;
		}
		if (tries > 100) {
			err = hp_err(p->ctx, HP_ELOCKED, NULL, NULL,
				     "process %d: its hotpatch record keeps changing under another tool",
				     (int)p->pid);
			break;
		}
	}
	free(b);
	return err;
}

int state_write(struct rt_proc *p, const uint8_t *key, struct rt_state *s)
{
	uint8_t *b = malloc(SLOT_USED);
	if (!b)
		return hp_nomem(p->ctx);
	uint64_t next = s->generation + 1;
	s->writer_pid = (uint32_t)getpid();
	if (proc_start_time(getpid(), &s->writer_start) < 0)
		s->writer_start = 0;
	encode(s, key, b);
	uint8_t h[24];
	memcpy(h, magic, 8);
	hp_store_le32(h + 8, 2);
	hp_store_le32(h + 12, RT_STATE_SIZE);
	hp_store_le64(h + 16, s->generation);
	/* The slot not in use, then the header that switches to it: one write. */
	int err = proc_write(p, s->addr + SLOT0 + (next & 1) * SLOT_STRIDE, b, SLOT_USED);
	if (!err && s->generation == 0) {
		/* A new block: no switch armed (apply.c), then the magic, still at 0. */
		uint8_t off[4];
		hp_store_le32(off, 4);
		err = proc_write(p, s->addr + RT_COMMIT_AT, off, 4);
		if (!err)
			err = proc_write(p, s->addr, h, 16);
	}
	if (!err) {
		hp_store_le64(h + 16, next);
		err = proc_write(p, s->addr + 16, h + 16, 8);
	}
	if (!err)
		s->generation = next;
	free(b);
	return err;
}

size_t state_create_calls(struct rt_call c[4])
{
	c[0] = (struct rt_call){ SYS_memfd_create, { 0, 1 /* MFD_CLOEXEC */ }, RT_ARG_DATA(0) };
	c[1] = (struct rt_call){ SYS_ftruncate, { 0, RT_STATE_SIZE }, RT_ARG_RESULT_OF(0, 0) };
	c[2] = (struct rt_call){ SYS_mmap, { 0, RT_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0, 0 },
				 RT_ARG_RESULT_OF(4, 0) };
	c[3] = (struct rt_call){ SYS_close, { 0 }, RT_ARG_RESULT_OF(0, 0) };
	return 4;
}

int state_create(struct rt_proc *p, uint64_t *addr)
{
	/* All four calls in one run of the stub: a tracer killed between them
	 * leaves no open descriptor behind. */
	static const char name[] = RT_STATE_NAME;
	struct rt_call c[4];
	state_create_calls(c);
	int err = proc_calls(p, c, 4, name, sizeof name);
	if (err < 0)
		return err;
	if (c[0].ret < 0)
		return hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: memfd_create: %s",
			      (int)p->pid, strerror((int)-c[0].ret));
	if (c[2].ret < 0 && c[2].ret > -4096)
		return hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: mmap of the state block: %s",
			      (int)p->pid, strerror((int)-c[2].ret));
	*addr = (uint64_t)c[2].ret;
	if (c[1].ret < 0)
		return hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: ftruncate: %s", (int)p->pid,
			      strerror((int)-c[1].ret)); /* the caller unmaps *addr */
	return 0;
}
