/*
 * Unit tests for formats/hpx.c: a container written and read back keeps every
 * field; the same input gives the same bytes; truncated, bit-flipped and
 * malformed files are refused with one diagnostic and never crash.
 */
#include <stdlib.h>
#include <time.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/unit/helpers.h"

static uint8_t image[4096 + 64];
static struct hpx_object objects[] = { { "net/parse.o", "parse.c" }, { "util.o", "util.c" } };
static struct hpx_range masks[] = { { 3, 4 }, { 10, 7 }, { 1, 4 } };
static struct hpx_func funcs[] = {
	{ "parse_len", "", 0, 0, 64, { 1, 2, 3 }, 0, 2, 0, 80, 0 },
	{ "helper", "util.c", 1, 1, 32, { 9 }, 2, 1, 96, 16, 0 },
	{ "parse_len.cold", "parse.c", 0, 0, 12, { 7 }, 3, 0, 0, 0, HPX_FUNC_CHECK_ONLY },
};
static struct hpx_sym syms[] = {
	{ "printf", "", 0, HPX_SYM_OTHER, HPX_SCOPE_GLOBAL, 0, 128 },
	{ "count.0", "parse.c", 2, HPX_SYM_OBJECT, HPX_SCOPE_TARGET, 4, HPX_NO_STUB },
};
static struct hpx_segment segments[] = { { 0, 4096, HPX_PROT_R | HPX_PROT_X },
					 { 4096, 4096, HPX_PROT_R } };
static struct hpx_fixup fixups[] = {
	{ 20, HPX_FIX_BRANCH32, 0, -4 },
	{ 40, HPX_FIX_PC32, 1, -4 },
	{ 4096, HPX_FIX_ABS64, 0, 0 },
	{ 4104, HPX_FIX_ABS64, HPX_TARGET_IMAGE, 96 },
};

static struct hpx sample(void)
{
	for (size_t i = 0; i < sizeof image; i++)
		image[i] = (uint8_t)(i * 7);
	struct hpx h = { 0 };
	h.sequence = 3;
	h.created = 1700000000;
	h.tool_version = "hpbuild test";
	h.target_name = "server";
	h.build_id_size = 20;
	for (int i = 0; i < 20; i++)
		h.build_id[i] = (uint8_t)(0xa0 + i);
	h.image_size = 8192;
	h.objects = objects;
	h.nobjects = 2;
	h.funcs = funcs;
	h.nfuncs = 3;
	h.masks = masks;
	h.nmasks = 3;
	h.syms = syms;
	h.nsyms = 2;
	h.segments = segments;
	h.nsegments = 2;
	h.image = image;
	h.image_file_size = sizeof image;
	h.fixups = fixups;
	h.nfixups = 4;
	return h;
}

static void write_sample(struct hp_ctx *ctx, uint8_t **buf, size_t *len)
{
	struct hpx h = sample();
	int err = hpx_write(ctx, &h, buf, len);
	if (err < 0)
		fail_msg("hpx_write: %s", th_last_diag(ctx));
}

static void test_formats_hpx__round_trip(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	size_t len;
	write_sample(&ctx, &buf, &len);
	struct hpx h = sample(), r;
	uint8_t *again;
	size_t len2;
	assert_int_equal(hpx_write(&ctx, &h, &again, &len2), 0);
	assert_int_equal(hpx_read(&ctx, "t.hpx", buf, len, &r), 0);

	assert_memory_equal(r.patch_id, h.patch_id, 16);
	assert_int_equal(r.sequence, 3);
	assert_int_equal(r.created, 1700000000);
	assert_string_equal(r.tool_version, "hpbuild test");
	assert_string_equal(r.target_name, "server");
	assert_int_equal(r.build_id_size, 20);
	assert_memory_equal(r.build_id, h.build_id, 64);
	assert_int_equal(r.image_size, 8192);
	assert_int_equal(r.nobjects, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(r.objects[i].path, objects[i].path);
		assert_string_equal(r.objects[i].cu, objects[i].cu);
	}
	assert_int_equal(r.nfuncs, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct hpx_func *a = &r.funcs[i], *b = &funcs[i];
		assert_string_equal(a->name, b->name);
		assert_string_equal(a->file, b->file);
		assert_int_equal(a->ordinal, b->ordinal);
		assert_int_equal(a->object, b->object);
		assert_int_equal(a->old_size, b->old_size);
		assert_memory_equal(a->old_hash, b->old_hash, 32);
		assert_int_equal(a->mask_first, b->mask_first);
		assert_int_equal(a->mask_count, b->mask_count);
		assert_int_equal(a->new_offset, b->new_offset);
		assert_int_equal(a->new_size, b->new_size);
		assert_int_equal(a->flags, b->flags);
	}
	assert_int_equal(r.nmasks, 3);
	assert_memory_equal(r.masks, masks, sizeof masks);
	assert_int_equal(r.nsyms, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(r.syms[i].name, syms[i].name);
		assert_string_equal(r.syms[i].file, syms[i].file);
		assert_int_equal(r.syms[i].ordinal, syms[i].ordinal);
		assert_int_equal(r.syms[i].kind, syms[i].kind);
		assert_int_equal(r.syms[i].scope, syms[i].scope);
		assert_int_equal(r.syms[i].size, syms[i].size);
		assert_int_equal(r.syms[i].stub, syms[i].stub);
	}
	assert_int_equal(r.nsegments, 2);
	assert_memory_equal(r.segments, segments, sizeof segments);
	assert_int_equal(r.image_file_size, sizeof image);
	assert_memory_equal(r.image, image, sizeof image);
	assert_int_equal(r.nfixups, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(r.fixups[i].offset, fixups[i].offset);
		assert_int_equal(r.fixups[i].type, fixups[i].type);
		assert_int_equal(r.fixups[i].target, fixups[i].target);
		assert_int_equal(r.fixups[i].addend, fixups[i].addend);
	}
	assert_int_equal(r.nsigs, 0);
	assert_int_equal(r.body_end, len);

	/* Deterministic: the same input, the same bytes. */
	assert_int_equal(len, len2);
	assert_memory_equal(buf, again, len);
	free(buf);
	free(again);
	hp_ctx_fini(&ctx);
}

/* Read buf and expect a refusal with exactly one diagnostic naming the file. */
static int refused(const uint8_t *buf, size_t len)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hpx r;
	int err = hpx_read(&ctx, "bad.hpx", buf, len, &r);
	if (err < 0) {
		assert_int_equal(ctx.ndiags, 1);
		assert_non_null(strstr(th_last_diag(&ctx), "bad.hpx: "));
	}
	hp_ctx_fini(&ctx);
	return err;
}

static void test_formats_hpx__every_truncation(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	size_t len;
	write_sample(&ctx, &buf, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
		memcpy(copy, buf, n);
		if (refused(copy, n) == 0)
			fail_msg("truncated to %zu of %zu bytes but accepted", n, len);
		free(copy);
	}
	free(buf);
	hp_ctx_fini(&ctx);
}

/* Every single-bit flip anywhere in an unsigned container is refused. */
static void test_formats_hpx__every_bit_flip(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	size_t len;
	write_sample(&ctx, &buf, &len);
	uint8_t *copy = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, len);
			copy[i] ^= (uint8_t)(1 << bit);
			if (refused(copy, len) == 0)
				fail_msg("bit %d of byte %zu of %zu flipped but accepted", bit, i, len);
		}
	}
	free(copy);
	free(buf);
	hp_ctx_fini(&ctx);
}

static void put_block(uint8_t *p, uint16_t alg, uint16_t sig_size)
{
	memcpy(p, "HSG1", 4);
	hp_store_le32(p + 4, 48u + sig_size);
	hp_store_le16(p + 8, alg);
	hp_store_le16(p + 10, sig_size);
	hp_store_le32(p + 12, 0);
	memset(p + 16, 0x5a, 32);
	memset(p + 48, 0x33, sig_size);
}

static void test_formats_hpx__signature_blocks(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	size_t len;
	write_sample(&ctx, &buf, &len);
	uint8_t *f = malloc(len + 300);
	memcpy(f, buf, len);
	put_block(f + len, HPX_SIG_ED25519, 64);
	put_block(f + len + 112, HPX_SIG_ECDSA_P256, 71);
	size_t flen = len + 112 + 119;

	struct hpx r;
	assert_int_equal(hpx_read_envelope(&ctx, "s.hpx", f, flen, &r), 0);
	assert_int_equal(r.nsigs, 2);
	assert_int_equal(r.sigs[0].start, len);
	assert_int_equal(r.sigs[0].algorithm, HPX_SIG_ED25519);
	assert_int_equal(r.sigs[0].sig_size, 64);
	assert_int_equal(r.sigs[1].start, len + 112);
	assert_int_equal(r.sigs[1].sig_size, 71);
	assert_int_equal(r.sigs[1].sig[0], 0x33);
	assert_int_equal(hpx_read(&ctx, "s.hpx", f, flen, &r), 0);
	assert_int_equal(r.nfuncs, 3);

	/* A signature block that lies about its length, an unknown algorithm,
	 * a truncated block, trailing bytes: each refused. */
	for (int k = 0; k < 4; k++) {
		uint8_t *g = malloc(flen + 8);
		memcpy(g, f, flen);
		size_t glen = flen;
		switch (k) {
		case 0:
			hp_store_le32(g + len + 4, 500);
			break;
		case 1:
			hp_store_le16(g + len + 8, 9);
			break;
		case 2:
			glen = flen - 1;
			break;
		case 3:
			memcpy(g + flen, "garbage!", 8);
			glen = flen + 8;
			break;
		}
		assert_true(refused(g, glen) < 0);
		free(g);
	}
	free(f);
	free(buf);
	hp_ctx_fini(&ctx);
}

/* The message a signature covers binds the algorithm, the key and the prefix. */
static void test_formats_hpx__signature_message(void **state)
{
	(void)state;
	uint8_t file[100], key[32], m1[HPX_SIG_MESSAGE_SIZE], m2[HPX_SIG_MESSAGE_SIZE];
	memset(file, 1, sizeof file);
	memset(key, 2, sizeof key);
	hpx_sig_message(file, 100, HPX_SIG_ED25519, key, m1);
	assert_memory_equal(m1, "hotpatch-sig-v1", 16);
	assert_int_equal(hp_load_le16(m1 + 16), HPX_SIG_ED25519);
	assert_memory_equal(m1 + 24, key, 32);
	uint8_t d[32];
	hp_sha256(file, 100, d);
	assert_memory_equal(m1 + 56, d, 32);
	hpx_sig_message(file, 100, HPX_SIG_ECDSA_P256, key, m2);
	assert_memory_not_equal(m1, m2, sizeof m1);
	hpx_sig_message(file, 99, HPX_SIG_ED25519, key, m2);
	assert_memory_not_equal(m1, m2, sizeof m1);
}

/* Semantic checks: each broken rule is refused with its reason. */
static void expect_write_read_refusal(struct hpx h, const char *what)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	size_t len;
	assert_int_equal(hpx_write(&ctx, &h, &buf, &len), 0);
	struct hpx r;
	int err = hpx_read(&ctx, "bad.hpx", buf, len, &r);
	assert_true(err < 0);
	if (!strstr(th_last_diag(&ctx), what))
		fail_msg("diagnostic '%s' does not mention '%s'", th_last_diag(&ctx), what);
	free(buf);
	hp_ctx_fini(&ctx);
}

static void test_formats_hpx__semantic_checks(void **state)
{
	(void)state;
	struct hpx h = sample();
	struct hpx_segment wx[] = { { 0, 4096, HPX_PROT_R | HPX_PROT_W | HPX_PROT_X } };
	h.segments = wx;
	h.nsegments = 1;
	expect_write_read_refusal(h, "writable and executable");

	h = sample();
	struct hpx_func small[] = { { "tiny", "", 0, 0, 4, { 0 }, 0, 0, 0, 16, 0 } };
	h.funcs = small;
	h.nfuncs = 1;
	expect_write_read_refusal(h, "cannot take a 5-byte jump");

	h = sample();
	struct hpx_fixup overlap[] = { { 20, HPX_FIX_PC32, 0, 0 }, { 22, HPX_FIX_PC32, 0, 0 } };
	h.fixups = overlap;
	h.nfixups = 2;
	expect_write_read_refusal(h, "overlap");

	h = sample();
	struct hpx_fixup far[] = { { 8190, HPX_FIX_ABS64, 0, 0 } };
	h.fixups = far;
	h.nfixups = 1;
	expect_write_read_refusal(h, "outside the image");

	h = sample();
	struct hpx_range bad_masks[] = { { 60, 8 } };
	struct hpx_func f1[] = { { "f", "", 0, 0, 64, { 0 }, 0, 1, 0, 16, 0 } };
	h.masks = bad_masks;
	h.nmasks = 1;
	h.funcs = f1;
	h.nfuncs = 1;
	expect_write_read_refusal(h, "past its end");

	h = sample();
	struct hpx_func cold_code[] = {
		{ "f.cold", "", 0, 0, 12, { 0 }, 0, 0, 0, 16, HPX_FUNC_CHECK_ONLY }
	};
	h.funcs = cold_code;
	h.nfuncs = 1;
	expect_write_read_refusal(h, "checked only, yet it has new code 0+0x10");

	/* Thread-pointer offsets are of thread-local symbols, and only those. */
	h = sample();
	struct hpx_fixup tp_of_object[] = { { 20, HPX_FIX_TPOFF32, 1, 0 } };
	h.fixups = tp_of_object;
	h.nfixups = 1;
	expect_write_read_refusal(h, "fixup 0: TPOFF32 of count.0, which is not a thread-local symbol");
	h = sample();
	struct hpx_sym tls_syms[] = {
		{ "printf", "", 0, HPX_SYM_OTHER, HPX_SCOPE_GLOBAL, 0, 128, 0 },
		{ "depth", "parse.c", 0, HPX_SYM_TLS, HPX_SCOPE_TARGET, 4, HPX_NO_STUB, 0 },
	};
	struct hpx_fixup pc_of_tls[] = { { 20, HPX_FIX_PC32, 1, -4 } };
	h.syms = tls_syms;
	h.fixups = pc_of_tls;
	h.nfixups = 1;
	expect_write_read_refusal(h, "fixup 0: PC32 of depth, which is a thread-local symbol");
	struct hpx_fixup tp_of_image[] = { { 4096, HPX_FIX_TPOFF64, HPX_TARGET_IMAGE, 0 } };
	h.fixups = tp_of_image;
	expect_write_read_refusal(h, "fixup 0: TPOFF64 of the image, which is not a thread-local symbol");

	h = sample();
	struct hpx_func outside[] = { { "f", "", 0, 0, 64, { 0 }, 0, 0, 4096, 16, 0 } };
	h.funcs = outside;
	h.nfuncs = 1;
	expect_write_read_refusal(h, "not in an executable segment");
}

/* A thread-local symbol and its five kinds of fixups survive the round trip;
 * its ADDRS value is its offset in the TLS segment, tagged (0 is common). */
static void test_formats_hpx__thread_local(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hpx h = sample();
	struct hpx_sym tls_syms[] = {
		{ "printf", "", 0, HPX_SYM_OTHER, HPX_SCOPE_GLOBAL, 0, 128, 0 },
		{ "depth", "parse.c", 0, HPX_SYM_TLS, HPX_SCOPE_TARGET, 4, HPX_NO_STUB,
		  HPX_ADDR_TLS | 0 }, /* at offset 0 of the TLS segment: still recorded */
	};
	struct hpx_fixup tls_fixups[] = {
		{ 20, HPX_FIX_BRANCH32, 0, -4 },   { 40, HPX_FIX_TPOFF32, 1, 0 },
		{ 60, HPX_FIX_DTPOFF32, 1, 4 },    { 4096, HPX_FIX_TPOFF64, 1, 8 },
		{ 4104, HPX_FIX_DTPMOD64, 1, 0 }, { 4112, HPX_FIX_DTPOFF64, 1, 0 },
	};
	h.syms = tls_syms;
	h.fixups = tls_fixups;
	h.nfixups = 6;
	uint8_t *buf;
	size_t len;
	struct hpx r;
	assert_int_equal(hpx_write(&ctx, &h, &buf, &len), 0);
	assert_int_equal(hpx_read(&ctx, "t.hpx", buf, len, &r), 0);
	assert_int_equal(r.syms[1].kind, HPX_SYM_TLS);
	assert_int_equal(r.syms[1].addr, HPX_ADDR_TLS);
	static const uint32_t types[] = { HPX_FIX_BRANCH32, HPX_FIX_TPOFF32,  HPX_FIX_DTPOFF32,
					  HPX_FIX_TPOFF64,  HPX_FIX_DTPMOD64, HPX_FIX_DTPOFF64 };
	static const char *const names[] = { "BRANCH32", "TPOFF32",  "DTPOFF32",
					     "TPOFF64",	 "DTPMOD64", "DTPOFF64" };
	static const unsigned widths[] = { 4, 4, 4, 8, 8, 8 };
	for (int i = 0; i < 6; i++) {
		assert_int_equal(r.fixups[i].type, types[i]);
		assert_int_equal(r.fixups[i].addend, tls_fixups[i].addend);
		assert_string_equal(hpx_fix_name(types[i]), names[i]);
		assert_int_equal(hpx_fix_width(types[i]), widths[i]);
	}
	free(buf);
	hp_ctx_fini(&ctx);
}

/* ADDRS: written only when recorded, read back per function and symbol, and only
 * for a patch bound to a build-id. */
static void test_formats_hpx__addresses(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *plain, *with;
	size_t plain_len, with_len;
	write_sample(&ctx, &plain, &plain_len);
	struct hpx r;
	assert_int_equal(hpx_read(&ctx, "t.hpx", plain, plain_len, &r), 0);
	for (size_t i = 0; i < r.nfuncs; i++)
		assert_int_equal(r.funcs[i].addr, 0);
	for (size_t i = 0; i < r.nsyms; i++)
		assert_int_equal(r.syms[i].addr, 0);

	struct hpx h = sample();
	struct hpx_func f[3];
	struct hpx_sym s[2];
	memcpy(f, funcs, sizeof f);
	memcpy(s, syms, sizeof s);
	f[0].addr = 0x1130;
	f[1].addr = 0xffffffff80001000ull;
	f[2].addr = 0x2f00;
	s[1].addr = 0x4010; /* s[0], an import, stays unrecorded */
	h.funcs = f;
	h.syms = s;
	assert_int_equal(hpx_write(&ctx, &h, &with, &with_len), 0);
	assert_int_equal(hpx_read(&ctx, "t.hpx", with, with_len, &r), 0);
	assert_int_equal(r.funcs[0].addr, 0x1130);
	assert_int_equal(r.funcs[1].addr, 0xffffffff80001000ull);
	assert_int_equal(r.funcs[2].addr, 0x2f00);
	assert_int_equal(r.syms[0].addr, 0);
	assert_int_equal(r.syms[1].addr, 0x4010);
	assert_true(with_len > plain_len); /* one more section */
	assert_memory_not_equal(with + 24, plain + 24, 16); /* so another patch id */

	/* Addresses mean nothing without the build-id of the binary they are in. */
	h.build_id_size = 0;
	memset(h.build_id, 0, sizeof h.build_id);
	uint8_t *bad = NULL;
	size_t bad_len;
	assert_int_equal(hpx_write(&ctx, &h, &bad, &bad_len), -HP_ERROR);
	assert_null(bad);
	assert_non_null(strstr(th_last_diag(&ctx), "bound to no build-id"));
	free(plain);
	free(with);
	hp_ctx_fini(&ctx);
}

/* No two functions share MASKS records: checking masks costs one pass over them. */
static void test_formats_hpx__shared_masks_refused(void **state)
{
	(void)state;
	struct hpx h = sample();
	struct hpx_func share[] = { { "f", "", 0, 0, 64, { 0 }, 0, 2, 0, 16, 0 },
				    { "g", "", 0, 0, 64, { 0 }, 0, 2, 16, 16, 0 } };
	h.funcs = share;
	h.nfuncs = 2;
	expect_write_read_refusal(h, "function g: masks start at 0, not 2");
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * Many functions, each in its own segment: finding each function's segment is
 * a binary search, so 60,000 of each read in well under a second (a linear
 * scan per function took 1.8 billion steps).
 */
static void test_formats_hpx__many_segments_read_fast(void **state)
{
	(void)state;
	enum { N = 60000 };
	struct hpx h = sample();
	struct hpx_func *many = calloc(N, sizeof *many);
	struct hpx_segment *segs = calloc(N, sizeof *segs);
	assert_true(many && segs);
	for (size_t i = 0; i < N; i++) {
		many[i] = (struct hpx_func){ "f", "", 0, 0, 64, { 0 }, 0, 0, i * 4096, 16, 0 };
		segs[i] = (struct hpx_segment){ i * 4096, 4096, HPX_PROT_R | HPX_PROT_X };
	}
	h.funcs = many;
	h.nfuncs = N;
	h.nmasks = 0;
	h.segments = segs;
	h.nsegments = N;
	h.image_size = (uint64_t)N * 4096;
	h.fixups = NULL;
	h.nfixups = 0;
	h.syms = NULL;
	h.nsyms = 0;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	size_t len;
	assert_int_equal(hpx_write(&ctx, &h, &buf, &len), 0);
	struct hpx r;
	double t0 = now();
	int err = hpx_read(&ctx, "many.hpx", buf, len, &r);
	double dt = now() - t0;
	if (err < 0)
		fail_msg("hpx_read: %s", th_last_diag(&ctx));
	assert_int_equal(r.nfuncs, N);
	if (dt > 1.0)
		fail_msg("reading %d functions and segments took %.2f s", N, dt);
	free(buf);
	free(many);
	free(segs);
	hp_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_hpx__round_trip),
		cmocka_unit_test(test_formats_hpx__every_truncation),
		cmocka_unit_test(test_formats_hpx__every_bit_flip),
		cmocka_unit_test(test_formats_hpx__signature_blocks),
		cmocka_unit_test(test_formats_hpx__signature_message),
		cmocka_unit_test(test_formats_hpx__semantic_checks),
		cmocka_unit_test(test_formats_hpx__addresses),
		cmocka_unit_test(test_formats_hpx__thread_local),
		cmocka_unit_test(test_formats_hpx__shared_masks_refused),
		cmocka_unit_test(test_formats_hpx__many_segments_read_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
