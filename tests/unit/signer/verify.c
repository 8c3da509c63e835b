/*
 * Unit tests for signer/sign.c, signer/trust.c and signer/verify.c: blocks
 * appended by both algorithms verify, change nothing they follow, and count
 * once per key; every flipped bit, every truncation, a block moved to another
 * container, and an algorithm that does not match the key are refused with
 * one diagnostic; trust stores load from a file or a directory.
 */
#include <sys/stat.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/unit/signer/fixture.h"

struct keys {
	EVP_PKEY *ed, *ec, *stranger;
	struct signer_key *ked, *kec, *kstranger;
	struct signer_trust *trust; /* ed and ec */
	char *dir;
};

static void keys_open(struct hp_ctx *ctx, struct keys *k)
{
	k->ed = fx_keygen("ED25519");
	k->ec = fx_keygen("P-256");
	k->stranger = fx_keygen("ED25519");
	char *p;
	k->ked = fx_open(ctx, p = fx_write_pem(k->ed, "ed.pem", false));
	free(p);
	k->kec = fx_open(ctx, p = fx_write_pem(k->ec, "ec.pem", false));
	free(p);
	k->kstranger = fx_open(ctx, p = fx_write_pem(k->stranger, "stranger.pem", false));
	free(p);
	size_t n = strlen(th_tmpdir()) + 16;
	k->dir = malloc(n);
	snprintf(k->dir, n, "%s/trust", th_tmpdir());
	mkdir(k->dir, 0755);
	free(fx_write_pem(k->ed, "trust/ed.pub.pem", true));
	free(fx_write_pem(k->ec, "trust/ec.pub.pem", true));
	free(fx_write_pem(k->stranger, "trust/stranger.txt", true)); /* not *.pem: ignored */
	assert_int_equal(signer_trust_load(ctx, k->dir, &k->trust), 0);
	assert_int_equal(signer_trust_count(k->trust), 2);
}

static void keys_close(struct keys *k)
{
	signer_key_free(k->ked);
	signer_key_free(k->kec);
	signer_key_free(k->kstranger);
	signer_trust_free(k->trust);
	EVP_PKEY_free(k->ed);
	EVP_PKEY_free(k->ec);
	EVP_PKEY_free(k->stranger);
	free(k->dir);
}

static void sign(struct hp_ctx *ctx, uint8_t **buf, size_t *len, struct signer_key *key)
{
	if (signer_append(ctx, key, "t.hpx", buf, len) < 0)
		fail_msg("signer_append: %s", th_last_diag(ctx));
}

/* signer_verify in a ctx of its own; returns its result and checks "one diagnostic". */
static int verify(const struct signer_trust *trust, const uint8_t *buf, size_t len, size_t require,
		  char *why, size_t why_size)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_verdict v;
	int err = signer_verify(&ctx, trust, "t.hpx", buf, len, require, &v);
	if (err < 0 && ctx.ndiags != 1)
		fail_msg("%zu diagnostics, expected 1; the last: %s", ctx.ndiags, th_last_diag(&ctx));
	if (err == 0 && ctx.ndiags != 0)
		fail_msg("accepted with a diagnostic: %s", th_last_diag(&ctx));
	if (why)
		snprintf(why, why_size, "%s", th_last_diag(&ctx));
	hp_ctx_fini(&ctx);
	return err;
}

static void test_signer_verify__two_blocks(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	size_t len, len0;
	uint8_t *buf = fx_container(&len, 1);
	uint8_t *orig = malloc(len);
	memcpy(orig, buf, len);
	len0 = len;
	sign(&ctx, &buf, &len, k.ked);
	assert_int_equal(len, len0 + 48 + 64);
	size_t len1 = len;
	sign(&ctx, &buf, &len, k.kec);
	assert_memory_equal(buf, orig, len0); /* nothing before a block changes */

	struct hpx env;
	assert_int_equal(hpx_read_envelope(&ctx, "t.hpx", buf, len, &env), 0);
	assert_int_equal(env.nsigs, 2);
	assert_int_equal(env.sigs[0].start, len0);
	assert_int_equal(env.sigs[1].start, len1);
	assert_memory_equal(env.sigs[0].key_id, signer_key_id(k.ked), 32);
	assert_int_equal(env.sigs[1].algorithm, HPX_SIG_ECDSA_P256);
	/* The whole container still reads. */
	struct hpx h;
	assert_int_equal(hpx_read(&ctx, "t.hpx", buf, len, &h), 0);

	struct signer_verdict v;
	assert_int_equal(signer_verify(&ctx, k.trust, "t.hpx", buf, len, 2, &v), 0);
	assert_int_equal(v.nblocks, 2);
	assert_int_equal(v.nkeys_ok, 2);
	assert_int_equal(v.nfailed, 0);
	assert_true(v.blocks[0].trusted && v.blocks[0].verified);
	assert_string_equal(v.blocks[0].key_name, "ed.pub.pem");
	assert_string_equal(v.blocks[1].key_name, "ec.pub.pem");
	char why[512];
	assert_int_equal(verify(k.trust, buf, len, 3, why, sizeof why), -HP_EVERIFY);
	assert_non_null(strstr(why, "signed by 2 distinct trusted keys, 3 required"));

	/* A stranger's block after them changes nothing; a key signing twice counts once. */
	sign(&ctx, &buf, &len, k.kstranger);
	sign(&ctx, &buf, &len, k.ked);
	assert_int_equal(signer_verify(&ctx, k.trust, "t.hpx", buf, len, 2, &v), 0);
	assert_int_equal(v.nblocks, 4);
	assert_int_equal(v.nkeys_ok, 2);
	assert_false(v.blocks[2].trusted);
	assert_false(v.blocks[2].verified);
	assert_null(v.blocks[2].key_name);
	assert_true(v.blocks[3].verified);

	/* Unsigned, and signed by strangers only. */
	assert_int_equal(verify(k.trust, orig, len0, 1, why, sizeof why), -HP_EVERIFY);
	assert_non_null(strstr(why, "t.hpx: the patch is not signed"));
	uint8_t *s = malloc(len0);
	memcpy(s, orig, len0);
	size_t slen = len0;
	sign(&ctx, &s, &slen, k.kstranger);
	assert_int_equal(verify(k.trust, s, slen, 1, why, sizeof why), -HP_EVERIFY);
	assert_non_null(strstr(why, "no signature by a trusted key (1 block"));
	/* signer_check reports without judging. */
	assert_int_equal(hpx_read_envelope(&ctx, "s", s, slen, &env), 0);
	size_t nd = ctx.ndiags;
	assert_int_equal(signer_check(&ctx, k.trust, s, slen, &env, &v), 0);
	assert_int_equal(ctx.ndiags, nd);
	assert_int_equal(v.nblocks, 1);
	assert_false(v.blocks[0].trusted);
	free(s);
	free(orig);
	free(buf);
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

/* Every single-bit flip anywhere, and every truncation, is refused. */
static void test_signer_verify__every_flip_and_cut(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	size_t len;
	uint8_t *buf = fx_container(&len, 1);
	sign(&ctx, &buf, &len, k.kec);
	sign(&ctx, &buf, &len, k.ked);
	assert_int_equal(verify(k.trust, buf, len, 2, NULL, 0), 0);
	uint8_t *copy = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, len);
			copy[i] ^= (uint8_t)(1 << bit);
			if (verify(k.trust, copy, len, 2, NULL, 0) == 0)
				fail_msg("bit %d of byte %zu of %zu flipped but accepted", bit, i, len);
		}
	}
	free(copy);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
		memcpy(cut, buf, n);
		if (verify(k.trust, cut, n, 2, NULL, 0) == 0)
			fail_msg("cut to %zu of %zu bytes but accepted", n, len);
		free(cut);
	}
	free(buf);
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

/* Where a flipped bit that was accepted lay, for one container. */
struct flips {
	size_t total, accepted;
	size_t key_id, sig;     /* accepted, in the key id or the signature of the last block */
	size_t key_id_n, sig_n; /* bits in those fields */
};

/*
 * Flip every bit of buf, one at a time, and verify with require 1; fail on
 * an accepted flip outside the key id and signature of the block at
 * free_start (0: none may be accepted), where the block of the untrusted key
 * lies when it is last and nothing covers it.
 */
static void flip_all(const struct signer_trust *trust, const uint8_t *buf, size_t len,
		     size_t free_start, struct flips *f)
{
	memset(f, 0, sizeof *f);
	uint8_t *copy = malloc(len);
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, len);
			copy[i] ^= (uint8_t)(1 << bit);
			f->total++;
			if (verify(trust, copy, len, 1, NULL, 0) != 0)
				continue;
			f->accepted++;
			if (free_start && i >= free_start + 16 && i < free_start + 48)
				f->key_id++;
			else if (free_start && i >= free_start + 48)
				f->sig++;
			else
				fail_msg("bit %d of byte %zu of %zu flipped but accepted (untrusted block at %zu)",
					 bit, i, len, free_start);
		}
	}
	if (free_start) {
		f->key_id_n = 32 * 8;
		f->sig_n = (len - free_start - 48) * 8;
	}
	free(copy);
}

/*
 * A container signed by a trusted key and an untrusted one, in both orders and
 * with either algorithm trusted: no flipped bit that matters to trust is
 * accepted. The untrusted block before the trusted one is covered by it: every
 * flip fails. After it, nothing covers it; its framing and the form of its
 * signature are still checked, so what can change unseen is its key id and
 * the bits of its signature that keep the form, which no decision uses
 * (formats/hpx-format.md, "Signature blocks").
 */
static void test_signer_verify__flips_trusted_and_untrusted(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	EVP_PKEY *sec = fx_keygen("P-256");
	char *p = fx_write_pem(sec, "stranger-ec.pem", false);
	struct signer_key *kstranger_ec = fx_open(&ctx, p);
	free(p);
	struct {
		struct signer_key *trusted, *untrusted;
		const char *what;
	} pairs[] = {
		{ k.ked, kstranger_ec, "ed25519 trusted, ecdsa-p256 untrusted" },
		{ k.kec, k.kstranger, "ecdsa-p256 trusted, ed25519 untrusted" },
	};
	for (size_t pi = 0; pi < 2; pi++) {
		for (int untrusted_last = 0; untrusted_last < 2; untrusted_last++) {
			size_t len;
			uint8_t *buf = fx_container(&len, 1);
			struct signer_key *first = untrusted_last ? pairs[pi].trusted : pairs[pi].untrusted;
			struct signer_key *second = untrusted_last ? pairs[pi].untrusted : pairs[pi].trusted;
			sign(&ctx, &buf, &len, first);
			size_t second_start = len;
			sign(&ctx, &buf, &len, second);
			struct signer_verdict v;
			assert_int_equal(signer_verify(&ctx, k.trust, "t.hpx", buf, len, 1, &v), 0);
			assert_int_equal(v.nkeys_ok, 1);
			assert_int_equal(v.blocks[0].covered_by, untrusted_last ? 0 : 2);
			assert_int_equal(v.blocks[1].covered_by, 0);
			struct flips f;
			flip_all(k.trust, buf, len, untrusted_last ? second_start : 0, &f);
			print_message("%s, untrusted %s: %zu of %zu flipped bits accepted: %zu of %zu in its key id, %zu of %zu in its signature\n",
				      pairs[pi].what, untrusted_last ? "last" : "first", f.accepted,
				      f.total, f.key_id, f.key_id_n, f.sig, f.sig_n);
			if (untrusted_last)
				assert_int_equal(f.key_id, f.key_id_n); /* nothing can tell */
			free(buf);
		}
	}
	/* Two trusted blocks where one is enough (--require 1): every flip fails, the
	 * key id of the last block too (it would have left that block ignored). */
	size_t len;
	uint8_t *buf = fx_container(&len, 1);
	sign(&ctx, &buf, &len, k.kec);
	sign(&ctx, &buf, &len, k.ked);
	struct flips f;
	flip_all(k.trust, buf, len, 0, &f);
	print_message("both trusted, --require 1: %zu of %zu flipped bits accepted\n", f.accepted,
		      f.total);
	free(buf);
	signer_key_free(kstranger_ec);
	EVP_PKEY_free(sec);
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

/*
 * A trusted block whose key id is changed to one the store does not hold is
 * not silently ignored: its signature is tried with each trusted key's id in
 * the message, and the key that made it is named. Before, with another
 * trusted block to meet --require, such an edit went unseen.
 */
static void test_signer_verify__relabeled_block(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	for (int alg = 0; alg < 2; alg++) {
		size_t len;
		uint8_t *buf = fx_container(&len, 1);
		sign(&ctx, &buf, &len, alg ? k.ked : k.kec);
		size_t at = len;
		sign(&ctx, &buf, &len, alg ? k.kec : k.ked);
		assert_int_equal(verify(k.trust, buf, len, 2, NULL, 0), 0);
		/* Relabel the last block: to a made-up id, and to the stranger's. */
		for (int to = 0; to < 2; to++) {
			if (to == 0)
				memset(buf + at + 16, 0x5a, 32);
			else
				memcpy(buf + at + 16, signer_key_id(k.kstranger), 32);
			char why[512];
			assert_int_equal(verify(k.trust, buf, len, 1, why, sizeof why), -HP_EVERIFY);
			assert_non_null(strstr(why, "signature 2 ("));
			assert_non_null(strstr(why, ", untrusted) is refused: it was made by the trusted key"));
			assert_non_null(strstr(why, alg ? "ec.pub.pem" : "ed.pub.pem"));
			assert_non_null(strstr(why, "its key id was changed"));
		}
		free(buf);
	}
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

/* More blocks than a verifier checks: refused, and hpsign will not write one more. */
static void test_signer_verify__too_many_blocks(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	size_t len;
	uint8_t *buf = fx_container(&len, 1);
	for (int i = 0; i < SIGNER_MAX_BLOCKS - 1; i++)
		sign(&ctx, &buf, &len, k.kstranger);
	size_t last = len;
	sign(&ctx, &buf, &len, k.ked);
	assert_int_equal(verify(k.trust, buf, len, 1, NULL, 0), 0);
	size_t nd = ctx.ndiags;
	assert_int_equal(signer_append(&ctx, k.ked, "t.hpx", &buf, &len), -HP_ERROR);
	assert_int_equal(ctx.ndiags, nd + 1);
	assert_non_null(strstr(th_last_diag(&ctx), "already 16 signature blocks"));
	/* A 17th block made by hand (a copy of the 16th) is refused before any is checked. */
	size_t block = len - last;
	uint8_t *more = realloc(buf, len + block);
	assert_non_null(more);
	buf = more;
	memcpy(buf + len, buf + last, block);
	char why[512];
	assert_int_equal(verify(k.trust, buf, len + block, 1, why, sizeof why), -HP_EVERIFY);
	assert_non_null(strstr(why, "17 signature blocks; a verifier checks 16 at most"));
	free(buf);
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

static void test_signer_verify__moved_and_mislabeled(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	size_t alen, blen;
	uint8_t *a = fx_container(&alen, 1), *b = fx_container(&blen, 2);
	size_t a0 = alen;
	sign(&ctx, &a, &alen, k.kec);
	/* a's block appended to b: b's bytes are not what it signed. */
	uint8_t *moved = malloc(blen + (alen - a0));
	memcpy(moved, b, blen);
	memcpy(moved + blen, a + a0, alen - a0);
	char why[512];
	assert_int_equal(verify(k.trust, moved, blen + (alen - a0), 1, why, sizeof why),
			 -HP_EVERIFY);
	assert_non_null(strstr(why, "signature 1 (ecdsa-p256, key "));
	assert_non_null(strstr(why, "in ec.pub.pem) does not verify"));
	free(moved);

	/* An Ed25519 block relabeled as ECDSA names the mismatch. */
	size_t b0 = blen;
	sign(&ctx, &b, &blen, k.ked);
	hp_store_le16(b + b0 + 8, HPX_SIG_ECDSA_P256);
	assert_int_equal(verify(k.trust, b, blen, 1, why, sizeof why), -HP_EVERIFY);
	assert_non_null(strstr(why, "it says ecdsa-p256 but the key ed.pub.pem is ed25519"));

	/* A failing trusted block is an error even when another trusted block verifies. */
	hp_store_le16(b + b0 + 8, HPX_SIG_ED25519);
	b[blen - 1] ^= 0x80;
	sign(&ctx, &b, &blen, k.kec);
	struct signer_verdict v;
	assert_int_equal(signer_verify(&ctx, k.trust, "t.hpx", b, blen, 1, &v), -HP_EVERIFY);
	assert_int_equal(v.nfailed, 1);
	assert_int_equal(v.nkeys_ok, 1);
	assert_true(v.blocks[1].verified);
	free(a);
	free(b);
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

/* hpsign's append refuses what a reader would refuse, and leaves the buffer alone. */
static void test_signer_verify__append_checks_envelope(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct keys k;
	keys_open(&ctx, &k);
	size_t len;
	uint8_t *buf = fx_container(&len, 1);
	uint8_t *grown = realloc(buf, len + 5);
	assert_non_null(grown);
	buf = grown;
	memcpy(buf + len, "junk!", 5);
	size_t glen = len + 5;
	uint8_t *before = buf;
	assert_true(signer_append(&ctx, k.ked, "j.hpx", &buf, &glen) < 0);
	assert_ptr_equal(buf, before);
	assert_int_equal(glen, len + 5);
	free(buf);
	keys_close(&k);
	hp_ctx_fini(&ctx);
}

static void test_signer_verify__trust_stores(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	EVP_PKEY *a = fx_keygen("ED25519"), *b = fx_keygen("P-256"), *r = fx_keygen("RSA");
	/* One file, two keys, the same key twice: two keys. */
	BIO *m = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(m, a);
	BIO_puts(m, "a comment between keys\n");
	PEM_write_bio_PUBKEY(m, b);
	PEM_write_bio_PUBKEY(m, a);
	char *data;
	long n = BIO_get_mem_data(m, &data);
	char *path = th_write_file("two.pem", data, (size_t)n);
	struct signer_trust *t = NULL;
	assert_int_equal(signer_trust_load(&ctx, path, &t), 0);
	assert_int_equal(signer_trust_count(t), 2);
	signer_trust_free(t);
	free(path);
	BIO_free(m);
	/* Refusals: an RSA key, a private key, nothing, a missing path, an empty directory. */
	char *rsa = fx_write_pem(r, "rsa.pub.pem", true);
	assert_int_equal(signer_trust_load(&ctx, rsa, &t), -HP_EUNSUPPORTED);
	assert_null(t);
	char *priv = fx_write_pem(b, "priv.pem", false);
	assert_int_equal(signer_trust_load(&ctx, priv, &t), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "holds a private key"));
	char *none = th_write_file("none.pem", "hello\n", 6);
	assert_int_equal(signer_trust_load(&ctx, none, &t), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "no PEM public key"));
	char *cut = th_write_file("cut.pem", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n", 44);
	assert_int_equal(signer_trust_load(&ctx, cut, &t), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "no END PUBLIC KEY line"));
	char *bad = th_write_file("bad.pem",
				  "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 58);
	assert_int_equal(signer_trust_load(&ctx, bad, &t), -HP_ECORRUPT);
	assert_non_null(strstr(th_last_diag(&ctx), "bad.pem: not a public key"));
	char *b64 = th_write_file("b64.pem",
				  "-----BEGIN PUBLIC KEY-----\nA*AA\n-----END PUBLIC KEY-----\n", 58);
	assert_int_equal(signer_trust_load(&ctx, b64, &t), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "b64.pem: not base64"));
	free(b64);
	/* In a file of several keys, the message says which. */
	m = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(m, a);
	BIO_puts(m, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
	n = BIO_get_mem_data(m, &data);
	char *second = th_write_file("second.pem", data, (size_t)n);
	size_t nd = ctx.ndiags;
	assert_int_equal(signer_trust_load(&ctx, second, &t), -HP_ECORRUPT);
	assert_int_equal(ctx.ndiags, nd + 1);
	assert_non_null(strstr(th_last_diag(&ctx), "second.pem (key 2): not a public key"));
	free(second);
	BIO_free(m);
	assert_int_equal(signer_trust_load(&ctx, "/nonexistent/trust", &t), -HP_ERROR);
	size_t dn = strlen(th_tmpdir()) + 16;
	char *dir = malloc(dn);
	snprintf(dir, dn, "%s/empty", th_tmpdir());
	mkdir(dir, 0755);
	assert_int_equal(signer_trust_load(&ctx, dir, &t), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "no *.pem public key file"));
	free(dir);
	free(rsa);
	free(priv);
	free(none);
	free(cut);
	free(bad);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(r);
	signer_trust_free(NULL);
	hp_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_verify__two_blocks),
		cmocka_unit_test(test_signer_verify__every_flip_and_cut),
		cmocka_unit_test(test_signer_verify__flips_trusted_and_untrusted),
		cmocka_unit_test(test_signer_verify__relabeled_block),
		cmocka_unit_test(test_signer_verify__too_many_blocks),
		cmocka_unit_test(test_signer_verify__moved_and_mislabeled),
		cmocka_unit_test(test_signer_verify__append_checks_envelope),
		cmocka_unit_test(test_signer_verify__trust_stores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
