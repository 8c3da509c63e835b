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
	size_t used = state_slot_size();
	uint8_t *b = malloc(used);
	if (!b)
		return hp_nomem(p->ctx);
	int err = 0;
	for (int tries = 0;; tries++) {
		uint8_t h[RT_STATE_HEADER], g2[8];
		uint64_t g = 0;
		if ((err = proc_read(p, s->addr, h, sizeof h)) < 0)
			break;
		int kind = state_check_header(h, &g);
		if (kind > 0)
			break; /* made, never written (its maker died): an empty record */
		if (kind < 0) {
			err = hp_err(p->ctx, HP_ERECORD, NULL, NULL,
				     "process %d: its hotpatch record is not one this version reads; not acted upon",
				     (int)p->pid);
			break;
		}
		if ((err = proc_read(p, s->addr + state_slot_at(g), b, used)) < 0 ||
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
	size_t used = state_slot_size();
	uint8_t *b = calloc(1, used); /* zero past the entries in use: nothing of ours goes over */
	if (!b)
		return hp_nomem(p->ctx);
	uint64_t next = s->generation + 1;
	s->writer_pid = (uint32_t)getpid();
	if (proc_start_time(getpid(), &s->writer_start) < 0)
		s->writer_start = 0;
	state_encode(s, key, b);
	uint8_t h[RT_STATE_HEADER];
	state_header(s->generation, h);
	/* The slot not in use, then the header that switches to it: one write. */
	int err = proc_write(p, s->addr + state_slot_at(next), b, used);
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
