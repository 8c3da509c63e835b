/*
 * record.c: the bytes of the record kept in a patched process (state.c has
 * the layout and how the block is found, read and written in a process): a
 * slot encoded with its MAC, and checked and decoded, every field bounds-
 * checked. Pure: no process, no system call. hpapply (through state.c) and
 * the preload library (runtime/preload/, which writes the record of the
 * process it runs in) share it, so both write the same bytes.
 */
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
		static const uint8_t unsigned_mac[32];
		uint8_t mac[32];
		slot_mac(key, b, mac);
		if (memcmp(mac, b + MAC_AT, 32) && !memcmp(b + MAC_AT, unsigned_mac, 32))
			return hp_err(ctx, HP_ERECORD, NULL, NULL,
				      "process %d: its hotpatch record is unsigned: hotpatch-load wrote it inside the process, which could not read this user's key (docs/preload.md); not acted upon",
				      (int)pid);
		if (memcmp(mac, b + MAC_AT, 32))
			return hp_err(ctx, HP_ERECORD, NULL, NULL,
				      "process %d: its hotpatch record was not written by hpapply on this machine as this user (its MAC does not verify); not acted upon",
				      (int)pid);
	}
	s->npatches = np;
	s->nfuncs = nf;
	s->nhigh = nh;
	s->unsigned_slot = state_slot_unsigned(b);
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

void state_encode(const struct rt_state *s, const uint8_t *key, uint8_t *b)
{
	/* Only the bytes a reader and the MAC look at: the header and the entries
	 * in use, each cleared first. The rest of the slot is left as it is. */
	memset(b, 0, HIGH_AT);
	memset(b + HIGH_AT, 0, (size_t)s->nhigh * HIGH_SIZE);
	memset(b + PATCHES_AT, 0, (size_t)s->npatches * PATCH_SIZE);
	memset(b + FUNCS_AT, 0, (size_t)s->nfuncs * FUNC_SIZE);
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
	if (!key)
		return; /* unsigned: the MAC stays zero */
	uint8_t mac[32];
	slot_mac(key, b, mac);
	memcpy(b + MAC_AT, mac, 32);
}

/* ----- changes to a record ------------------------------------------------------------ */

/* Drop patch idx from the record; later patches move down one. */
void state_drop_patch(struct rt_state *st, uint32_t idx)
{
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
}

/* Raise the high-water mark of x's binary to x's sequence. */
void state_raise_high(struct rt_state *st, const struct rt_patch *x)
{
	struct rt_high *hw = NULL;
	for (uint32_t i = 0; i < st->nhigh && !hw; i++)
		if (st->high[i].build_id_size == x->build_id_size &&
		    !memcmp(st->high[i].build_id, x->build_id, x->build_id_size))
			hw = &st->high[i];
	if (!hw) {
		if (st->nhigh == RT_MAX_HIGH) /* the oldest binary's mark gives way */
			memmove(&st->high[0], &st->high[1], --st->nhigh * sizeof st->high[0]);
		hw = &st->high[st->nhigh++];
		memset(hw, 0, sizeof *hw);
		memcpy(hw->build_id, x->build_id, x->build_id_size);
		hw->build_id_size = x->build_id_size;
	}
	if (x->sequence > hw->sequence)
		hw->sequence = x->sequence;
}

bool state_slot_unsigned(const uint8_t *b)
{
	static const uint8_t zero[32];
	return !memcmp(b + MAC_AT, zero, 32);
}

/* ----- the block's header -------------------------------------------------------------- */

uint64_t state_slot_at(uint64_t generation)
{
	return SLOT0 + (generation & 1) * SLOT_STRIDE;
}

void state_header(uint64_t generation, uint8_t out[RT_STATE_HEADER])
{
	memcpy(out, magic, 8);
	hp_store_le32(out + 8, 2);
	hp_store_le32(out + 12, RT_STATE_SIZE);
	hp_store_le64(out + 16, generation);
}

int state_check_header(const uint8_t h[RT_STATE_HEADER], uint64_t *generation)
{
	static const uint8_t zero[RT_STATE_HEADER];
	if (!memcmp(h, zero, RT_STATE_HEADER))
		return 1;
	if (memcmp(h, magic, 8) || hp_load_le32(h + 8) != 2 || hp_load_le32(h + 12) != RT_STATE_SIZE)
		return -1;
	*generation = hp_load_le64(h + 16);
	return 0;
}
