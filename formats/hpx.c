/*
 * hpx.c: the .hpx container, writer and reader. formats/hpx-format.md is the
 * specification; every field written or checked here is described there, and
 * the comments above the readers repeat the layout they parse.
 *
 * The reader is the security boundary of the applier: the file may come from
 * anywhere. It reads every byte through a bounds-checked cursor, checks every
 * count against the bytes present before allocating, and rejects reserved
 * fields that are not zero. Its output points into the caller's buffer or into
 * the ctx arena.
 */
#include <stdlib.h>
#include <zstd.h>

#include "formats/base.h"
#include "formats/hpx.h"

static const uint8_t hpx_magic[8] = { 0x89, 'H', 'P', 'X', '\r', '\n', 0x1a, '\n' };
static const uint8_t sig_magic[4] = { 'H', 'S', 'G', '1' };
static const char sig_context[16] = "hotpatch-sig-v1"; /* with its NUL: 16 bytes */

enum sec_type {
	SEC_STRINGS = 1,
	SEC_PATCH,
	SEC_OBJECTS,
	SEC_FUNCS,
	SEC_MASKS,
	SEC_SYMBOLS,
	SEC_SEGMENTS,
	SEC_IMAGE,
	SEC_FIXUPS,
	SEC_ADDRS,                  /* optional: only a patch bound to a build-id has it */
	SEC_COUNT = SEC_ADDRS,
	SEC_REQUIRED = SEC_FIXUPS, /* types 1..SEC_REQUIRED are in every patch */
};

static const uint32_t entsize_of[SEC_COUNT + 1] = {
	[SEC_STRINGS] = 1,  [SEC_PATCH] = 88,   [SEC_OBJECTS] = 16,  [SEC_FUNCS] = 88,
	[SEC_MASKS] = 8,    [SEC_SYMBOLS] = 32, [SEC_SEGMENTS] = 24, [SEC_IMAGE] = 1,
	[SEC_FIXUPS] = 24,  [SEC_ADDRS] = 8,
};

#define SECTION_HEADER_SIZE 24
#define TABLE_HEADER_SIZE 8

const char *hpx_fix_name(uint32_t type)
{
	static const char *const names[] = { "?",	  "ABS64",    "ABS32",	  "ABS32S",
					     "PC32",	  "BRANCH32", "PC64",	  "TPOFF32",
					     "TPOFF64",	  "DTPMOD64", "DTPOFF64", "DTPOFF32" };
	return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

void hpx_sig_message(const uint8_t *file, uint64_t start, uint16_t algorithm,
		     const uint8_t key_id[32], uint8_t out[HPX_SIG_MESSAGE_SIZE])
{
	memcpy(out, sig_context, 16);
	hp_store_le16(out + 16, algorithm);
	memset(out + 18, 0, 6);
	memcpy(out + 24, key_id, 32);
	hp_sha256(file, start, out + 56);
}

/*
 * The header's check field: SHA-256 over the first 56 header bytes and the
 * body, so that an unsigned file damaged in transit is refused even where the
 * damage would not change what the body decompresses to.
 */
static void check_of(const uint8_t *file, size_t body_end, uint8_t out[32])
{
	struct hp_sha256 s;
	hp_sha256_init(&s);
	hp_sha256_update(&s, file, 56);
	hp_sha256_update(&s, file + HPX_HEADER_SIZE, body_end - HPX_HEADER_SIZE);
	hp_sha256_final(&s, out);
}

/* ===================================================================== */
/* Writer                                                                */
/* ===================================================================== */

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (data)
		memcpy(b->p + b->len, data, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t x[2];
	hp_store_le16(x, v);
	buf_put(b, x, 2);
}
static void put32(struct buf *b, uint32_t v)
{
	uint8_t x[4];
	hp_store_le32(x, v);
	buf_put(b, x, 4);
}
static void put64(struct buf *b, uint64_t v)
{
	uint8_t x[8];
	hp_store_le64(x, v);
	buf_put(b, x, 8);
}

/* A string table that stores each string once. */
struct strtab {
	struct buf b;
	struct hp_map seen; /* string -> offset + 1 */
};

static uint32_t str(struct hp_ctx *ctx, struct strtab *st, const char *s)
{
	if (!s || !*s)
		return 0;
	void *v = hp_map_get(&st->seen, s);
	if (v)
		return (uint32_t)((uintptr_t)v - 1);
	uint32_t off = (uint32_t)st->b.len;
	buf_put(&st->b, s, strlen(s) + 1);
	if (hp_map_put(ctx, &st->seen, s, (void *)(uintptr_t)(off + 1), NULL) < 0)
		st->b.oom = true;
	return off;
}

int hpx_write(struct hp_ctx *ctx, struct hpx *h, uint8_t **out, size_t *len)
{
	struct strtab st = { 0 };
	struct buf sec[SEC_COUNT + 1] = { 0 };
	struct buf payload = { 0 }, file = { 0 };
	int err = 0;
	*out = NULL;
	*len = 0;
	if ((err = hp_map_init(ctx, &st.seen, 64)) < 0)
		return err;
	buf_put(&st.b, "", 1);

	/* PATCH */
	put32(&sec[SEC_PATCH], str(ctx, &st, h->tool_version));
	put32(&sec[SEC_PATCH], str(ctx, &st, h->target_name));
	put32(&sec[SEC_PATCH], h->build_id_size);
	put32(&sec[SEC_PATCH], 0);
	buf_put(&sec[SEC_PATCH], h->build_id, 64);
	put64(&sec[SEC_PATCH], h->image_size);
	/* OBJECTS */
	for (size_t i = 0; i < h->nobjects; i++) {
		put32(&sec[SEC_OBJECTS], str(ctx, &st, h->objects[i].path));
		put32(&sec[SEC_OBJECTS], str(ctx, &st, h->objects[i].cu));
		put64(&sec[SEC_OBJECTS], 0);
	}
	/* FUNCS */
	for (size_t i = 0; i < h->nfuncs; i++) {
		const struct hpx_func *f = &h->funcs[i];
		struct buf *b = &sec[SEC_FUNCS];
		put32(b, str(ctx, &st, f->name));
		put32(b, str(ctx, &st, f->file));
		put32(b, f->ordinal);
		put32(b, f->object);
		put64(b, f->old_size);
		buf_put(b, f->old_hash, 32);
		put32(b, f->mask_first);
		put32(b, f->mask_count);
		put64(b, f->new_offset);
		put64(b, f->new_size);
		put32(b, f->flags);
		put32(b, 0);
	}
	/* MASKS */
	for (size_t i = 0; i < h->nmasks; i++) {
		put32(&sec[SEC_MASKS], h->masks[i].offset);
		put32(&sec[SEC_MASKS], h->masks[i].length);
	}
	/* SYMBOLS */
	for (size_t i = 0; i < h->nsyms; i++) {
		const struct hpx_sym *s = &h->syms[i];
		struct buf *b = &sec[SEC_SYMBOLS];
		put32(b, str(ctx, &st, s->name));
		put32(b, str(ctx, &st, s->file));
		put32(b, s->ordinal);
		buf_put(b, &s->kind, 1);
		buf_put(b, &s->scope, 1);
		put16(b, 0);
		put64(b, s->size);
		put32(b, s->stub);
		put32(b, 0);
	}
	/* SEGMENTS */
	for (size_t i = 0; i < h->nsegments; i++) {
		put64(&sec[SEC_SEGMENTS], h->segments[i].offset);
		put64(&sec[SEC_SEGMENTS], h->segments[i].size);
		put32(&sec[SEC_SEGMENTS], h->segments[i].prot);
		put32(&sec[SEC_SEGMENTS], 0);
	}
	/* IMAGE */
	buf_put(&sec[SEC_IMAGE], h->image, h->image_file_size);
	/* FIXUPS */
	for (size_t i = 0; i < h->nfixups; i++) {
		put64(&sec[SEC_FIXUPS], h->fixups[i].offset);
		put32(&sec[SEC_FIXUPS], h->fixups[i].type);
		put32(&sec[SEC_FIXUPS], h->fixups[i].target);
		put64(&sec[SEC_FIXUPS], (uint64_t)h->fixups[i].addend);
	}
	/* ADDRS: where the bound target has each function and symbol, when recorded */
	bool addrs = false;
	for (size_t i = 0; i < h->nfuncs; i++)
		addrs |= h->funcs[i].addr != 0;
	for (size_t i = 0; i < h->nsyms; i++)
		addrs |= h->syms[i].addr != 0;
	if (addrs && !h->build_id_size) {
		err = hp_err(ctx, HP_ERROR, NULL, NULL,
			     "addresses recorded for a patch bound to no build-id; internal error");
		goto out;
	}
	for (size_t i = 0; addrs && i < h->nfuncs; i++)
		put64(&sec[SEC_ADDRS], h->funcs[i].addr);
	for (size_t i = 0; addrs && i < h->nsyms; i++)
		put64(&sec[SEC_ADDRS], h->syms[i].addr);
	int nsec = addrs ? SEC_ADDRS : SEC_REQUIRED;
	sec[SEC_STRINGS] = st.b;
	st.b = (struct buf){ 0 };

	/* The payload: the section table, then each section, 8-aligned. */
	put32(&payload, (uint32_t)nsec);
	put32(&payload, 0);
	uint64_t off = TABLE_HEADER_SIZE + SECTION_HEADER_SIZE * (uint64_t)nsec;
	for (int t = 1; t <= nsec; t++) {
		put32(&payload, (uint32_t)t);
		put32(&payload, entsize_of[t]);
		put64(&payload, off);
		put64(&payload, sec[t].len);
		off += (sec[t].len + 7) & ~(uint64_t)7;
	}
	for (int t = 1; t <= nsec; t++) {
		buf_put(&payload, sec[t].p, sec[t].len);
		buf_put(&payload, NULL, ((sec[t].len + 7) & ~(size_t)7) - sec[t].len);
	}
	for (int t = 0; t <= SEC_COUNT; t++)
		if (sec[t].oom)
			payload.oom = true;
	if (payload.oom || st.b.oom) {
		err = hp_nomem(ctx);
		goto out;
	}
	if (payload.len > HPX_MAX_PAYLOAD) {
		err = hp_err(ctx, HP_EUNSUPPORTED, NULL, NULL,
			     "patch payload of %zu bytes exceeds the format's limit of %u",
			     payload.len, HPX_MAX_PAYLOAD);
		goto out;
	}
	uint8_t digest[32];
	hp_sha256(payload.p, payload.len, digest);
	memcpy(h->patch_id, digest, 16);

	/* Header, body header, zstd frame. */
	size_t bound = ZSTD_compressBound(payload.len);
	buf_put(&file, NULL, HPX_HEADER_SIZE + HPX_BODY_HEADER_SIZE + bound);
	if (file.oom) {
		err = hp_nomem(ctx);
		goto out;
	}
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	if (!cctx) {
		err = hp_nomem(ctx);
		goto out;
	}
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	size_t zn = ZSTD_compress2(cctx, file.p + HPX_HEADER_SIZE + HPX_BODY_HEADER_SIZE, bound,
				   payload.p, payload.len);
	ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(zn)) {
		err = hp_err(ctx, HP_ERROR, NULL, NULL, "zstd: %s", ZSTD_getErrorName(zn));
		goto out;
	}
	uint8_t *p = file.p;
	memcpy(p, hpx_magic, 8);
	hp_store_le16(p + 8, HPX_VERSION);
	hp_store_le16(p + 10, HPX_HEADER_SIZE);
	hp_store_le32(p + 12, 0);
	hp_store_le64(p + 16, HPX_BODY_HEADER_SIZE + zn);
	memcpy(p + 24, h->patch_id, 16);
	hp_store_le64(p + 40, h->sequence);
	hp_store_le64(p + 48, h->created);
	p += HPX_HEADER_SIZE;
	hp_store_le64(p, payload.len);
	hp_store_le32(p + 8, 1);
	hp_store_le32(p + 12, 0);
	*len = HPX_HEADER_SIZE + HPX_BODY_HEADER_SIZE + zn;
	uint8_t check[32];
	check_of(file.p, *len, check);
	memcpy(file.p + 56, check, 8);
	*out = file.p;
	file.p = NULL;
out:
	for (int t = 0; t <= SEC_COUNT; t++)
		free(sec[t].p);
	free(st.b.p);
	free(payload.p);
	free(file.p);
	return err;
}

/* ===================================================================== */
/* Reader                                                                */
/* ===================================================================== */

/* Errors name the file and say what is wrong with it. */
#define BAD(...) hp_err(ctx, HP_ECORRUPT, name, NULL, __VA_ARGS__)

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * The fixed header (64 bytes):
 *   magic[8] version:u16 header_size:u16 flags:u32 body_size:u64
 *   patch_id[16] sequence:u64 created:u64 check[8]
 * then signature blocks from 64 + body_size to the end:
 *   "HSG1" block_size:u32 algorithm:u16 sig_size:u16 reserved:u32 key_id[32] sig[sig_size]
 */
int hpx_read_envelope(struct hp_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
		      struct hpx *out)
{
	memset(out, 0, sizeof *out);
	if (len < HPX_HEADER_SIZE)
		return BAD("%zu bytes is shorter than the %d-byte header; the file is truncated", len,
			   HPX_HEADER_SIZE);
	if (memcmp(buf, hpx_magic, 8))
		return BAD("not a hotpatch container (bad magic)");
	uint16_t version = hp_load_le16(buf + 8);
	if (version != HPX_VERSION)
		return hp_err(ctx, HP_EUNSUPPORTED, name, NULL,
			      "container version %u; this reader knows version %d", version,
			      HPX_VERSION);
	if (hp_load_le16(buf + 10) != HPX_HEADER_SIZE)
		return BAD("header size %u is not %d", hp_load_le16(buf + 10), HPX_HEADER_SIZE);
	if (hp_load_le32(buf + 12) != 0)
		return BAD("reserved header flags are not zero");
	uint64_t body_size = hp_load_le64(buf + 16);
	if (body_size < HPX_BODY_HEADER_SIZE || body_size > len - HPX_HEADER_SIZE)
		return BAD("body size %llu does not fit in the file's %zu bytes; the file is truncated or corrupt",
			   (unsigned long long)body_size, len);
	memcpy(out->patch_id, buf + 24, 16);
	out->sequence = hp_load_le64(buf + 40);
	out->created = hp_load_le64(buf + 48);
	if (out->sequence == 0)
		return BAD("sequence number is 0");
	out->body_end = HPX_HEADER_SIZE + body_size;
	uint8_t check[32];
	check_of(buf, (size_t)out->body_end, check);
	if (memcmp(check, buf + 56, 8))
		return BAD("header check does not match the header and body; the file is damaged");

	/* Count the blocks, checking each, then record them. */
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t at = out->body_end;
		size_t k = 0;
		while (at < len) {
			struct hp_cursor c = { buf, len, (size_t)at };
			const uint8_t *h;
			if (hp_cur_take(&c, HPX_SIG_HEADER_SIZE, &h) < 0)
				return BAD("signature block at offset %llu is truncated (%llu bytes left)",
					   (unsigned long long)at, (unsigned long long)(len - at));
			if (memcmp(h, sig_magic, 4))
				return BAD("trailing bytes at offset %llu are not a signature block",
					   (unsigned long long)at);
			uint32_t block_size = hp_load_le32(h + 4);
			uint16_t alg = hp_load_le16(h + 8), sig_size = hp_load_le16(h + 10);
			if (sig_size == 0 || sig_size > HPX_SIG_MAX ||
			    block_size != HPX_SIG_HEADER_SIZE + (uint32_t)sig_size)
				return BAD("signature block at offset %llu: size %u does not match a %u-byte signature",
					   (unsigned long long)at, block_size, sig_size);
			if (alg != HPX_SIG_ED25519 && alg != HPX_SIG_ECDSA_P256)
				return hp_err(ctx, HP_EUNSUPPORTED, name, NULL,
					      "signature block at offset %llu: unknown algorithm %u",
					      (unsigned long long)at, alg);
			if (hp_load_le32(h + 12) != 0)
				return BAD("signature block at offset %llu: reserved field is not zero",
					   (unsigned long long)at);
			const uint8_t *sig;
			if (hp_cur_take(&c, sig_size, &sig) < 0)
				return BAD("signature block at offset %llu is truncated: %u signature bytes, %llu left",
					   (unsigned long long)at, sig_size,
					   (unsigned long long)(len - at - HPX_SIG_HEADER_SIZE));
			if (pass == 1) {
				struct hpx_sig *s = &out->sigs[k];
				s->start = at;
				s->algorithm = alg;
				memcpy(s->key_id, h + 16, 32);
				s->sig = sig;
				s->sig_size = sig_size;
			}
			k++;
			at += block_size;
		}
		if (pass == 0) {
			n = k;
			if (n) {
				out->sigs = hp_arena_array(ctx, n, sizeof *out->sigs);
				if (!out->sigs)
					return hp_nomem(ctx);
			}
		}
	}
	out->nsigs = n;
	return 0;
}

/* Decompress the body into the arena; *payload gets exactly payload_size bytes. */
static int read_body(struct hp_ctx *ctx, const char *name, const uint8_t *buf, uint64_t body_end,
		     const uint8_t **payload, size_t *payload_size)
{
	const uint8_t *body = buf + HPX_HEADER_SIZE;
	size_t body_size = (size_t)(body_end - HPX_HEADER_SIZE);
	uint64_t psize = hp_load_le64(body);
	if (psize == 0 || psize > HPX_MAX_PAYLOAD)
		return BAD("payload size %llu is outside 1..%u", (unsigned long long)psize,
			   HPX_MAX_PAYLOAD);
	if (hp_load_le32(body + 8) != 1)
		return hp_err(ctx, HP_EUNSUPPORTED, name, NULL, "unknown compression %u",
			      hp_load_le32(body + 8));
	if (hp_load_le32(body + 12) != 0)
		return BAD("reserved body field is not zero");
	const uint8_t *frame = body + HPX_BODY_HEADER_SIZE;
	size_t flen = body_size - HPX_BODY_HEADER_SIZE;
	/* The frame header descriptor (RFC 8878 3.1.1.1.1): the unused and reserved
	 * bits are zero, a checksum is present, no dictionary. zstd itself ignores
	 * the unused bit, so a flip there would go unnoticed. */
	if (flen < 5 || (frame[4] & 0x1b) != 0 || !(frame[4] & 0x04))
		return BAD("compressed payload's frame header is not one hotpatch writes (unused bits, no checksum or a dictionary)");
	unsigned long long declared = ZSTD_getFrameContentSize(frame, flen);
	if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN)
		return BAD("compressed payload is not a zstd frame with a content size");
	if (declared != psize)
		return BAD("compressed payload declares %llu bytes, the body says %llu", declared,
			   (unsigned long long)psize);
	size_t csize = ZSTD_findFrameCompressedSize(frame, flen);
	if (ZSTD_isError(csize))
		return BAD("compressed payload is truncated or corrupt (%s)",
			   ZSTD_getErrorName(csize));
	if (csize != flen)
		return BAD("%zu bytes follow the compressed payload inside the body", flen - csize);
	uint8_t *p = hp_arena_alloc(ctx, (size_t)psize);
	if (!p)
		return hp_nomem(ctx);
	size_t got = ZSTD_decompress(p, (size_t)psize, frame, flen);
	if (ZSTD_isError(got))
		return BAD("compressed payload does not decompress (%s)", ZSTD_getErrorName(got));
	if (got != psize)
		return BAD("payload decompressed to %zu bytes, not %llu", got,
			   (unsigned long long)psize);
	*payload = p;
	*payload_size = (size_t)psize;
	return 0;
}

struct psec {
	const uint8_t *p; /* NULL when absent */
	size_t size, n;   /* bytes, records */
};

struct reader {
	struct hp_ctx *ctx;
	const char *name;
	const uint8_t *strings;
	size_t nstrings;
};

/* A string reference: inside STRINGS and, since STRINGS ends with NUL, terminated. */
static int get_str(struct reader *r, uint32_t off, const char *what, const char **out)
{
	if (off >= r->nstrings)
		return hp_err(r->ctx, HP_ECORRUPT, r->name, NULL,
			      "%s: string offset %u outside the string table (%zu bytes)", what, off,
			      r->nstrings);
	*out = (const char *)r->strings + off;
	return 0;
}

/*
 * Payload: count:u32 reserved:u32, then count headers
 *   type:u32 entsize:u32 offset:u64 size:u64
 */
static int read_table(struct hp_ctx *ctx, const char *name, const uint8_t *pl, size_t plen,
		      struct psec sec[SEC_COUNT + 1])
{
	if (plen < TABLE_HEADER_SIZE)
		return BAD("payload too short for its section table");
	uint32_t count = hp_load_le32(pl);
	if (count == 0 || count > 16)
		return BAD("section count %u is outside 1..16", count);
	if (hp_load_le32(pl + 4) != 0)
		return BAD("reserved payload field is not zero");
	uint64_t table_end = TABLE_HEADER_SIZE + (uint64_t)SECTION_HEADER_SIZE * count;
	if (table_end > plen)
		return BAD("section table (%u entries) runs past the payload", count);
	uint64_t ranges[16][2];
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *h = pl + TABLE_HEADER_SIZE + SECTION_HEADER_SIZE * i;
		uint32_t type = hp_load_le32(h), ent = hp_load_le32(h + 4);
		uint64_t off = hp_load_le64(h + 8), size = hp_load_le64(h + 16);
		if (type == 0 || type > SEC_COUNT)
			return hp_err(ctx, HP_EUNSUPPORTED, name, NULL, "unknown section type %u",
				      type);
		if (sec[type].p)
			return BAD("section type %u appears twice", type);
		if (ent != entsize_of[type])
			return BAD("section type %u: record size %u, expected %u", type, ent,
				   entsize_of[type]);
		if (off % 8 || off < table_end || !hp_range_ok(off, size, plen))
			return BAD("section type %u: bytes %llu..+%llu lie outside the payload or overlap its table",
				   type, (unsigned long long)off, (unsigned long long)size);
		if (size % ent)
			return BAD("section type %u: size %llu is not a whole number of %u-byte records",
				   type, (unsigned long long)size, ent);
		for (uint32_t k = 0; k < i; k++)
			if (off < ranges[k][1] && ranges[k][0] < off + size)
				return BAD("section type %u overlaps another section", type);
		ranges[i][0] = off;
		ranges[i][1] = off + size;
		sec[type].p = pl + off;
		sec[type].size = (size_t)size;
		sec[type].n = (size_t)(size / ent);
	}
	for (int t = 1; t <= SEC_REQUIRED; t++)
		if (!sec[t].p)
			return BAD("required section type %d is missing", t);
	return 0;
}

/*
 * Whether [off, off + n) lies in one segment with at least prot. Segments are
 * sorted and disjoint (checked before any caller), so a binary search finds the
 * last one starting at or before off: a file of many functions and many
 * segments costs n log n, not n * m.
 */
static bool segment_has(const struct hpx *h, uint64_t off, uint64_t n, uint32_t prot)
{
	size_t lo = 0, hi = h->nsegments;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->segments[mid].offset <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const struct hpx_segment *s = &h->segments[lo - 1];
	return n <= s->size && off - s->offset <= s->size - n && (s->prot & prot) == prot;
}

static int cmp_fixup_off(const void *a, const void *b)
{
	const struct hpx_fixup *x = *(struct hpx_fixup *const *)a, *y = *(struct hpx_fixup *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

unsigned hpx_fix_width(uint32_t type)
{
	switch (type) {
	case HPX_FIX_ABS64:
	case HPX_FIX_PC64:
	case HPX_FIX_TPOFF64:
	case HPX_FIX_DTPMOD64:
	case HPX_FIX_DTPOFF64:
		return 8;
	case HPX_FIX_ABS32:
	case HPX_FIX_ABS32S:
	case HPX_FIX_PC32:
	case HPX_FIX_BRANCH32:
	case HPX_FIX_TPOFF32:
	case HPX_FIX_DTPOFF32:
		return 4;
	}
	return 0;
}

int hpx_read(struct hp_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
	     struct hpx *h)
{
	int err = hpx_read_envelope(ctx, name, buf, len, h);
	if (err < 0)
		return err;
	const uint8_t *pl = NULL;
	size_t plen = 0;
	if ((err = read_body(ctx, name, buf, h->body_end, &pl, &plen)) < 0)
		return err;
	uint8_t digest[32];
	hp_sha256(pl, plen, digest);
	if (memcmp(digest, h->patch_id, 16))
		return BAD("patch id does not match the payload");

	struct psec sec[SEC_COUNT + 1] = { 0 };
	if ((err = read_table(ctx, name, pl, plen, sec)) < 0)
		return err;
	struct reader r = { ctx, name, sec[SEC_STRINGS].p, sec[SEC_STRINGS].size };
	if (r.nstrings == 0 || r.strings[0] != 0 || r.strings[r.nstrings - 1] != 0)
		return BAD("string table does not start and end with NUL");

	/* PATCH: tool_version target_name build_id_size flags build_id[64] image_size */
	if (sec[SEC_PATCH].n != 1)
		return BAD("%zu PATCH records, expected 1", sec[SEC_PATCH].n);
	const uint8_t *p = sec[SEC_PATCH].p;
	if ((err = get_str(&r, hp_load_le32(p), "tool version", &h->tool_version)) < 0 ||
	    (err = get_str(&r, hp_load_le32(p + 4), "target name", &h->target_name)) < 0)
		return err;
	h->build_id_size = hp_load_le32(p + 8);
	if (h->build_id_size > 64)
		return BAD("build-id size %u is over 64", h->build_id_size);
	if (hp_load_le32(p + 12) != 0)
		return BAD("reserved PATCH flags are not zero");
	memcpy(h->build_id, p + 16, 64);
	if (!all_zero(h->build_id + h->build_id_size, 64 - h->build_id_size))
		return BAD("build-id padding is not zero");
	h->image_size = hp_load_le64(p + 80);
	if (h->image_size == 0 || h->image_size > HPX_MAX_IMAGE || h->image_size % HPX_PAGE)
		return BAD("image size %llu is not a page multiple in 1 page..1 GiB",
			   (unsigned long long)h->image_size);
	h->image = sec[SEC_IMAGE].p;
	h->image_file_size = sec[SEC_IMAGE].size;
	if (h->image_file_size > h->image_size)
		return BAD("image bytes (%llu) exceed the image size (%llu)",
			   (unsigned long long)h->image_file_size,
			   (unsigned long long)h->image_size);

	/* OBJECTS: path cu reserved:u64 */
	h->nobjects = sec[SEC_OBJECTS].n;
	h->objects = hp_arena_array(ctx, h->nobjects, sizeof *h->objects);
	if (!h->objects)
		return hp_nomem(ctx);
	for (size_t i = 0; i < h->nobjects; i++) {
		p = sec[SEC_OBJECTS].p + 16 * i;
		if ((err = get_str(&r, hp_load_le32(p), "object path", &h->objects[i].path)) < 0 ||
		    (err = get_str(&r, hp_load_le32(p + 4), "object unit", &h->objects[i].cu)) < 0)
			return err;
		if (hp_load_le64(p + 8))
			return BAD("object %zu: reserved field is not zero", i);
	}

	/* SEGMENTS: offset:u64 size:u64 prot:u32 reserved:u32; sorted, disjoint, in the image */
	h->nsegments = sec[SEC_SEGMENTS].n;
	h->segments = hp_arena_array(ctx, h->nsegments, sizeof *h->segments);
	if (!h->segments)
		return hp_nomem(ctx);
	uint64_t seg_end = 0;
	for (size_t i = 0; i < h->nsegments; i++) {
		struct hpx_segment *s = &h->segments[i];
		p = sec[SEC_SEGMENTS].p + 24 * i;
		s->offset = hp_load_le64(p);
		s->size = hp_load_le64(p + 8);
		s->prot = hp_load_le32(p + 16);
		if (hp_load_le32(p + 20))
			return BAD("segment %zu: reserved field is not zero", i);
		if (s->offset % HPX_PAGE || s->size % HPX_PAGE || s->size == 0 ||
		    s->offset < seg_end || !hp_range_ok(s->offset, s->size, h->image_size))
			return BAD("segment %zu (%#llx+%#llx) is unaligned, empty, unsorted or outside the image",
				   i, (unsigned long long)s->offset, (unsigned long long)s->size);
		if (s->prot & ~7u || !s->prot)
			return BAD("segment %zu: protection %#x is not a combination of read, write, execute",
				   i, s->prot);
		if ((s->prot & HPX_PROT_W) && (s->prot & HPX_PROT_X))
			return BAD("segment %zu is writable and executable", i);
		seg_end = s->offset + s->size;
	}

	/* MASKS: offset:u32 length:u32 */
	h->nmasks = sec[SEC_MASKS].n;
	h->masks = hp_arena_array(ctx, h->nmasks, sizeof *h->masks);
	if (!h->masks)
		return hp_nomem(ctx);
	for (size_t i = 0; i < h->nmasks; i++) {
		h->masks[i].offset = hp_load_le32(sec[SEC_MASKS].p + 8 * i);
		h->masks[i].length = hp_load_le32(sec[SEC_MASKS].p + 8 * i + 4);
	}

	/* FUNCS: name file ordinal object old_size old_hash[32] mask_first mask_count
	 *        new_offset new_size flags reserved */
	h->nfuncs = sec[SEC_FUNCS].n;
	h->funcs = hp_arena_array(ctx, h->nfuncs, sizeof *h->funcs);
	if (!h->funcs)
		return hp_nomem(ctx);
	uint64_t next_mask = 0; /* each function's masks follow the previous one's */
	for (size_t i = 0; i < h->nfuncs; i++) {
		struct hpx_func *f = &h->funcs[i];
		p = sec[SEC_FUNCS].p + 88 * i;
		if ((err = get_str(&r, hp_load_le32(p), "function name", &f->name)) < 0 ||
		    (err = get_str(&r, hp_load_le32(p + 4), "function file", &f->file)) < 0)
			return err;
		if (!*f->name)
			return BAD("function %zu has no name", i);
		f->ordinal = hp_load_le32(p + 8);
		f->object = hp_load_le32(p + 12);
		f->old_size = hp_load_le64(p + 16);
		memcpy(f->old_hash, p + 24, 32);
		f->mask_first = hp_load_le32(p + 56);
		f->mask_count = hp_load_le32(p + 60);
		f->new_offset = hp_load_le64(p + 64);
		f->new_size = hp_load_le64(p + 72);
		f->flags = hp_load_le32(p + 80);
		if (hp_load_le32(p + 84) || (f->flags & ~HPX_FUNC_CHECK_ONLY))
			return BAD("function %s: reserved bits are not zero", f->name);
		if (f->object >= h->nobjects)
			return BAD("function %s: object %u does not exist", f->name, f->object);
		if (f->old_size > UINT32_MAX || (!(f->flags & HPX_FUNC_CHECK_ONLY) && f->old_size < 5))
			return BAD("function %s: old size %llu cannot take a 5-byte jump", f->name,
				   (unsigned long long)f->old_size);
		if ((f->flags & HPX_FUNC_CHECK_ONLY) && (f->new_offset || f->new_size))
			return BAD("function %s: checked only, yet it has new code %#llx+%#llx",
				   f->name, (unsigned long long)f->new_offset,
				   (unsigned long long)f->new_size);
		if (!(f->flags & HPX_FUNC_CHECK_ONLY) &&
		    (f->new_size == 0 || !segment_has(h, f->new_offset, f->new_size, HPX_PROT_X)))
			return BAD("function %s: new code %#llx+%#llx is not in an executable segment",
				   f->name, (unsigned long long)f->new_offset,
				   (unsigned long long)f->new_size);
		if (f->mask_first > h->nmasks || f->mask_count > h->nmasks - f->mask_first)
			return BAD("function %s: masks %u+%u outside the %zu masks", f->name,
				   f->mask_first, f->mask_count, h->nmasks);
		/* No record is shared, so checking every function's masks costs at most
		 * one pass over MASKS, however many functions name them. */
		if (f->mask_first != next_mask)
			return BAD("function %s: masks start at %u, not %llu where the previous function's end",
				   f->name, f->mask_first, (unsigned long long)next_mask);
		next_mask += f->mask_count;
		uint64_t end = 0;
		for (uint32_t k = 0; k < f->mask_count; k++) {
			const struct hpx_range *m = &h->masks[f->mask_first + k];
			if (m->length == 0 || m->offset < end ||
			    !hp_range_ok(m->offset, m->length, f->old_size))
				return BAD("function %s: mask %u (%u+%u) is empty, unsorted or past its end",
					   f->name, k, m->offset, m->length);
			end = (uint64_t)m->offset + m->length;
		}
	}

	/* SYMBOLS: name file ordinal kind:u8 scope:u8 reserved:u16 size:u64 stub:u32 reserved:u32 */
	h->nsyms = sec[SEC_SYMBOLS].n;
	h->syms = hp_arena_array(ctx, h->nsyms, sizeof *h->syms);
	if (!h->syms)
		return hp_nomem(ctx);
	for (size_t i = 0; i < h->nsyms; i++) {
		struct hpx_sym *s = &h->syms[i];
		p = sec[SEC_SYMBOLS].p + 32 * i;
		if ((err = get_str(&r, hp_load_le32(p), "symbol name", &s->name)) < 0 ||
		    (err = get_str(&r, hp_load_le32(p + 4), "symbol file", &s->file)) < 0)
			return err;
		if (!*s->name)
			return BAD("symbol %zu has no name", i);
		s->ordinal = hp_load_le32(p + 8);
		s->kind = p[12];
		s->scope = p[13];
		s->size = hp_load_le64(p + 16);
		s->stub = hp_load_le32(p + 24);
		if (hp_load_le16(p + 14) || hp_load_le32(p + 28))
			return BAD("symbol %s: reserved fields are not zero", s->name);
		if (s->kind < HPX_SYM_FUNC || s->kind > HPX_SYM_TLS || s->scope < HPX_SCOPE_TARGET ||
		    s->scope > HPX_SCOPE_GLOBAL)
			return BAD("symbol %s: kind %u or scope %u unknown", s->name, s->kind,
				   s->scope);
		if (s->stub != HPX_NO_STUB && !segment_has(h, s->stub, 16, HPX_PROT_X))
			return BAD("symbol %s: stub %#x is not in an executable segment", s->name,
				   s->stub);
	}

	/* FIXUPS: offset:u64 type:u32 target:u32 addend:i64; inside the image, disjoint */
	h->nfixups = sec[SEC_FIXUPS].n;
	h->fixups = hp_arena_array(ctx, h->nfixups, sizeof *h->fixups);
	struct hpx_fixup **order = hp_arena_array(ctx, h->nfixups, sizeof *order);
	if (!h->fixups || !order)
		return hp_nomem(ctx);
	for (size_t i = 0; i < h->nfixups; i++) {
		struct hpx_fixup *f = &h->fixups[i];
		p = sec[SEC_FIXUPS].p + 24 * i;
		f->offset = hp_load_le64(p);
		f->type = hp_load_le32(p + 8);
		f->target = hp_load_le32(p + 12);
		f->addend = (int64_t)hp_load_le64(p + 16);
		unsigned w = hpx_fix_width(f->type);
		if (!w)
			return hp_err(ctx, HP_EUNSUPPORTED, name, NULL, "fixup %zu: unknown type %u",
				      i, f->type);
		if (!hp_range_ok(f->offset, w, h->image_size))
			return BAD("fixup %zu at %#llx lies outside the image", i,
				   (unsigned long long)f->offset);
		if (f->target != HPX_TARGET_IMAGE && f->target >= h->nsyms)
			return BAD("fixup %zu: symbol %u does not exist", i, f->target);
		if (f->type == HPX_FIX_BRANCH32 && f->target == HPX_TARGET_IMAGE)
			return BAD("fixup %zu: a branch into the image needs no fixup", i);
		/* The thread-local fixups are of a thread-local symbol, and only those. */
		bool tp = HPX_FIX_IS_TLS(f->type);
		if (tp != (f->target != HPX_TARGET_IMAGE && h->syms[f->target].kind == HPX_SYM_TLS))
			return BAD("fixup %zu: %s of %s, which is %s thread-local symbol", i,
				   hpx_fix_name(f->type),
				   f->target == HPX_TARGET_IMAGE ? "the image" : h->syms[f->target].name,
				   tp ? "not a" : "a");
		order[i] = f;
	}
	/* ADDRS: u64 per function, then per symbol; only in a patch bound to a build-id */
	if (sec[SEC_ADDRS].p) {
		if (!h->build_id_size)
			return BAD("addresses recorded, but the patch is bound to no build-id");
		if (sec[SEC_ADDRS].n != h->nfuncs + h->nsyms)
			return BAD("%zu addresses for %zu functions and %zu symbols", sec[SEC_ADDRS].n,
				   h->nfuncs, h->nsyms);
		for (size_t i = 0; i < h->nfuncs; i++)
			h->funcs[i].addr = hp_load_le64(sec[SEC_ADDRS].p + 8 * i);
		for (size_t i = 0; i < h->nsyms; i++)
			h->syms[i].addr = hp_load_le64(sec[SEC_ADDRS].p + 8 * (h->nfuncs + i));
	}
	qsort(order, h->nfixups, sizeof *order, cmp_fixup_off);
	for (size_t i = 1; i < h->nfixups; i++)
		if (order[i - 1]->offset + hpx_fix_width(order[i - 1]->type) > order[i]->offset)
			return BAD("fixups at %#llx and %#llx overlap",
				   (unsigned long long)order[i - 1]->offset,
				   (unsigned long long)order[i]->offset);
	return 0;
}

void hpx_masked_hash(const uint8_t *p, uint64_t n, const struct hpx_range *masks, size_t nmasks,
		     uint8_t out[32])
{
	static const uint8_t zeros[256];
	struct hp_sha256 s;
	hp_sha256_init(&s);
	uint64_t at = 0;
	for (size_t i = 0; i < nmasks; i++) {
		hp_sha256_update(&s, p + at, masks[i].offset - at);
		for (uint64_t left = masks[i].length; left;) {
			uint64_t k = left < sizeof zeros ? left : sizeof zeros;
			hp_sha256_update(&s, zeros, (size_t)k);
			left -= k;
		}
		at = (uint64_t)masks[i].offset + masks[i].length;
	}
	hp_sha256_update(&s, p + at, n - at);
	hp_sha256_final(&s, out);
}
