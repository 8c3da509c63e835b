/*
 * state.c: the record of applied patches, kept inside the patched process.
 *
 * A private mapping of a memfd named "hotpatch-state": /proc/PID/maps shows it
 * as "/memfd:hotpatch-state (deleted)", so hpstatus finds and reads it with
 * process_vm_readv, without stopping anything. It dies with the process and is
 * copied into a forked child, which inherits the patched code too. Writers bump
 * a generation counter to an odd value before writing and to the next even one
 * after, so a reader can tell a torn read and retry.
 *
 * Layout (little-endian; RT_STATE_SIZE bytes):
 *   0   magic "HPSTATE1"        8    version:u32 = 1     12  size:u32
 *   16  generation:u64           24   npatches:u32        28  nfuncs:u32
 *   32  reserved[32]
 *   64  patches[64], 192 bytes each:
 *         patch_id[16] sequence:u64 applied_at:u64 build_id[64] build_id_size:u32
 *         nfuncs:u32 image_addr:u64 image_size:u64 target[64] reserved[8]
 *   12352  funcs[1024], 96 bytes each:
 *         addr:u64 old_size:u64 new_addr:u64 new_size:u64 saved[8] patch:u32
 *         reserved:u32 name[44] reserved:u32
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "runtime/runtime_internal.h"

static const char magic[8] = { 'H', 'P', 'S', 'T', 'A', 'T', 'E', '1' };

#define HDR 64
#define PATCH_SIZE 192
#define FUNC_SIZE 96
#define FUNCS_AT (HDR + RT_MAX_PATCHES * PATCH_SIZE)
_Static_assert(FUNCS_AT + RT_MAX_FUNCS * FUNC_SIZE <= RT_STATE_SIZE, "state block too small");

static uint64_t find_block(const struct rt_proc *p)
{
	static const char name[] = "/memfd:" RT_STATE_NAME;
	for (size_t i = 0; i < p->nmaps; i++)
		if (!strncmp(p->maps[i].path, name, sizeof name - 1) &&
		    p->maps[i].end - p->maps[i].start >= RT_STATE_SIZE)
			return p->maps[i].start;
	return 0;
}

static void decode(const uint8_t *b, struct rt_state *s)
{
	s->generation = hp_load_le64(b + 16);
	s->npatches = hp_load_le32(b + 24);
	s->nfuncs = hp_load_le32(b + 28);
	for (uint32_t i = 0; i < s->npatches; i++) {
		const uint8_t *q = b + HDR + i * PATCH_SIZE;
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
	}
	for (uint32_t i = 0; i < s->nfuncs; i++) {
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
	}
}

static void encode(const struct rt_state *s, uint8_t *b)
{
	memset(b, 0, RT_STATE_SIZE);
	memcpy(b, magic, 8);
	hp_store_le32(b + 8, 1);
	hp_store_le32(b + 12, RT_STATE_SIZE);
	hp_store_le64(b + 16, s->generation);
	hp_store_le32(b + 24, s->npatches);
	hp_store_le32(b + 28, s->nfuncs);
	for (uint32_t i = 0; i < s->npatches; i++) {
		uint8_t *q = b + HDR + i * PATCH_SIZE;
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
}

int state_read(struct rt_proc *p, struct rt_state *s)
{
	memset(s, 0, sizeof *s);
	s->addr = find_block(p);
	if (!s->addr)
		return 0;
	uint8_t *b = malloc(RT_STATE_SIZE);
	if (!b)
		return hp_nomem(p->ctx);
	int err = 0;
	for (int tries = 0;; tries++) {
		uint8_t gen[8];
		if ((err = proc_read(p, s->addr, b, RT_STATE_SIZE)) < 0 ||
		    (err = proc_read(p, s->addr + 16, gen, 8)) < 0)
			break;
		if (memcmp(b, magic, 8) || hp_load_le32(b + 8) != 1) {
			err = hp_err(p->ctx, HP_ECORRUPT, NULL, NULL,
				     "process %d: its hotpatch state block is not one this version reads",
				     (int)p->pid);
			break;
		}
		uint64_t g = hp_load_le64(b + 16);
		if (!(g & 1) && g == hp_load_le64(gen)) {
			if (hp_load_le32(b + 24) > RT_MAX_PATCHES || hp_load_le32(b + 28) > RT_MAX_FUNCS) {
				err = hp_err(p->ctx, HP_ECORRUPT, NULL, NULL,
					     "process %d: its hotpatch state block is damaged",
					     (int)p->pid);
				break;
			}
			uint64_t addr = s->addr;
			decode(b, s);
			s->addr = addr;
			break;
		}
		if (tries > 100) {
			err = hp_err(p->ctx, HP_EBUSY, NULL, NULL,
				     "process %d: its hotpatch state is being changed by another tool",
				     (int)p->pid);
			break;
		}
	}
	free(b);
	return err;
}

int state_write(struct rt_proc *p, struct rt_state *s)
{
	uint8_t *b = malloc(RT_STATE_SIZE);
	if (!b)
		return hp_nomem(p->ctx);
	uint8_t gen[8];
	s->generation |= 1; /* odd: being written */
	hp_store_le64(gen, s->generation);
	int err = proc_write(p, s->addr + 16, gen, 8);
	s->generation++;    /* even: done */
	encode(s, b);
	if (!err)
		err = proc_write(p, s->addr + 32, b + 32, RT_STATE_SIZE - 32);
	if (!err)
		err = proc_write(p, s->addr, b, 32);
	free(b);
	return err;
}

int state_create(struct rt_proc *p, struct rt_thread *t, uint64_t insn, uint64_t scratch,
		 uint64_t *addr)
{
	static const char name[] = RT_STATE_NAME;
	int err = proc_write(p, scratch, name, sizeof name);
	if (err < 0)
		return err;
	long fd, ret;
	long a1[6] = { (long)scratch, 1 /* MFD_CLOEXEC */ };
	if ((err = thread_syscall(p->ctx, t, insn, SYS_memfd_create, a1, &fd)) < 0)
		return err;
	if (fd < 0)
		return hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: memfd_create: %s",
			      (int)p->pid, strerror((int)-fd));
	long a2[6] = { fd, RT_STATE_SIZE };
	if ((err = thread_syscall(p->ctx, t, insn, SYS_ftruncate, a2, &ret)) < 0)
		goto close;
	if (ret < 0) {
		err = hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: ftruncate: %s", (int)p->pid,
			     strerror((int)-ret));
		goto close;
	}
	long a3[6] = { 0, RT_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0 };
	if ((err = thread_syscall(p->ctx, t, insn, SYS_mmap, a3, &ret)) < 0)
		goto close;
	if (ret < 0 && ret > -4096) {
		err = hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: mmap of the state block: %s",
			     (int)p->pid, strerror((int)-ret));
		goto close;
	}
	*addr = (uint64_t)ret;
close:;
	long a4[6] = { fd };
	long ignored;
	thread_syscall(p->ctx, t, insn, SYS_close, a4, &ignored);
	if (err)
		return err;
	/* An empty record. */
	struct rt_state *s = calloc(1, sizeof *s);
	if (!s)
		return hp_nomem(p->ctx);
	s->addr = *addr;
	err = state_write(p, s);
	free(s);
	return err;
}
