/*
 * Unit tests for signer/sigform.c: r||s becomes the minimal DER OpenSSL also
 * writes, with s made low (n - s, computed here with OpenSSL's BIGNUMs, a
 * second implementation); every form other than the one accepted (high S,
 * r or s out of range, a needless zero, a long-form length, a negative
 * INTEGER, bytes after the DER; an Ed25519 signature of another size or with
 * S >= L) is refused; PEM keys sign low-S every time.
 */
#include <openssl/ecdsa.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/unit/signer/fixture.h"

static const char p256_n_hex[] = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

static BIGNUM *bn_hex(const char *hex)
{
	BIGNUM *b = NULL;
	assert_true(BN_hex2bn(&b, hex) > 0);
	return b;
}

/* The 32-byte big-endian form of b. */
static void bn_32(const BIGNUM *b, uint8_t out[32])
{
	assert_int_equal(BN_bn2binpad(b, out, 32), 32);
}

/* r||s as a token returns it, to DER: what OpenSSL makes of (r, low s), for all shapes of r and s. */
static void test_signer_sigform__raw_to_der(void **state)
{
	(void)state;
	BIGNUM *n = bn_hex(p256_n_hex), *half = BN_new();
	assert_non_null(half);
	assert_int_equal(BN_rshift1(half, n), 1);
	static const uint8_t firsts[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
	size_t nhigh = 0;
	for (size_t a = 0; a < sizeof firsts; a++) {
		for (size_t b = 0; b < sizeof firsts; b++) {
			uint8_t rs[64];
			for (int i = 0; i < 64; i++)
				rs[i] = (uint8_t)(i * 7 + 1);
			rs[0] = firsts[a];
			rs[32] = firsts[b];
			if (firsts[a] == 0)
				rs[1] = 0; /* two leading zero bytes in r */
			/* What s must become: itself when low, else n - s. */
			BIGNUM *s = BN_bin2bn(rs + 32, 32, NULL);
			assert_non_null(s);
			uint8_t want[64];
			memcpy(want, rs, 32);
			if (BN_cmp(s, half) > 0) {
				assert_int_equal(BN_sub(s, n, s), 1);
				nhigh++;
			}
			bn_32(s, want + 32);
			BN_free(s);

			uint8_t der[SIGNER_ECDSA_P256_DER_MAX];
			size_t len = 0;
			assert_int_equal(signer_ecdsa_raw_to_der(rs, 64, der, &len), 0);
			assert_null(signer_sig_form_why(HPX_SIG_ECDSA_P256, der, len));
			const unsigned char *p = der;
			ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
			assert_non_null(sig);
			assert_ptr_equal(p, der + len);
			uint8_t back[64];
			bn_32(ECDSA_SIG_get0_r(sig), back);
			bn_32(ECDSA_SIG_get0_s(sig), back + 32);
			assert_memory_equal(back, want, 64);
			/* Minimal: OpenSSL encodes the same value to the same bytes. */
			unsigned char *again = NULL;
			assert_int_equal(i2d_ECDSA_SIG(sig, &again), (int)len);
			assert_memory_equal(again, der, len);
			OPENSSL_free(again);
			ECDSA_SIG_free(sig);
			/* And back to r||s. */
			assert_int_equal(signer_ecdsa_der_to_raw(der, len, back), 0);
			assert_memory_equal(back, want, 64);
		}
	}
	assert_true(nhigh > 0);
	/* Not 64 bytes; r or s 0 or n. */
	uint8_t rs[64], der[SIGNER_ECDSA_P256_DER_MAX];
	size_t len;
	memset(rs, 1, sizeof rs);
	assert_int_equal(signer_ecdsa_raw_to_der(rs, 63, der, &len), -HP_ECORRUPT);
	memset(rs, 0, 32);
	assert_int_equal(signer_ecdsa_raw_to_der(rs, 64, der, &len), -HP_ECORRUPT);
	memset(rs, 1, 32);
	bn_32(n, rs + 32);
	assert_int_equal(signer_ecdsa_raw_to_der(rs, 64, der, &len), -HP_ECORRUPT);
	BN_free(n);
	BN_free(half);
}

/* A DER signature of r and s as given, each INTEGER with pad extra zero bytes. */
static size_t der_of(uint8_t *out, const BIGNUM *r, const BIGNUM *s, int pad_r)
{
	uint8_t ints[2][40];
	size_t lens[2];
	const BIGNUM *v[2] = { r, s };
	for (int i = 0; i < 2; i++) {
		uint8_t raw[32];
		int k = BN_bn2bin(v[i], raw);
		size_t at = 0;
		ints[i][at++] = 0x02;
		int pad = (k == 0 || raw[0] & 0x80) + (i == 0 ? pad_r : 0);
		ints[i][at++] = (uint8_t)(k + pad);
		for (int j = 0; j < pad; j++)
			ints[i][at++] = 0;
		memcpy(ints[i] + at, raw, (size_t)k);
		lens[i] = at + (size_t)k;
	}
	out[0] = 0x30;
	out[1] = (uint8_t)(lens[0] + lens[1]);
	memcpy(out + 2, ints[0], lens[0]);
	memcpy(out + 2 + lens[0], ints[1], lens[1]);
	return 2 + lens[0] + lens[1];
}

static void expect_why(const uint8_t *sig, size_t n, const char *part)
{
	const char *why = signer_sig_form_why(HPX_SIG_ECDSA_P256, sig, n);
	if (!why)
		fail_msg("accepted, expected \"%s\"", part);
	if (!strstr(why, part))
		fail_msg("\"%s\", expected \"%s\"", why, part);
}

/* Every other form of a P-256 signature is refused, with the reason. */
static void test_signer_sigform__ecdsa_forms(void **state)
{
	(void)state;
	BIGNUM *n = bn_hex(p256_n_hex), *half = BN_new(), *r = bn_hex("1234"),
	       *s = BN_new(), *one = bn_hex("1"), *zero = BN_new();
	assert_true(half && s && zero);
	BN_rshift1(half, n);
	BN_zero(zero);
	uint8_t der[80];
	size_t len;
	/* s = n/2 is the highest low s; n/2 + 1 the lowest high one. */
	len = der_of(der, r, half, 0);
	assert_null(signer_sig_form_why(HPX_SIG_ECDSA_P256, der, len));
	BN_add(s, half, one);
	len = der_of(der, r, s, 0);
	expect_why(der, len, "ECDSA signature with high S; not canonical");
	BN_sub(s, n, one);
	len = der_of(der, r, s, 0);
	expect_why(der, len, "high S");
	/* Out of range. */
	len = der_of(der, zero, half, 0);
	expect_why(der, len, "r or s out of range");
	len = der_of(der, r, zero, 0);
	expect_why(der, len, "r or s out of range");
	len = der_of(der, n, one, 0);
	expect_why(der, len, "r or s out of range");
	len = der_of(der, r, n, 0);
	expect_why(der, len, "r or s out of range");
	/* Other encodings of a good (r, s). */
	len = der_of(der, r, one, 1);
	expect_why(der, len, "not in minimal DER");
	len = der_of(der, r, one, 0);
	assert_null(signer_sig_form_why(HPX_SIG_ECDSA_P256, der, len));
	der[len] = 0;
	expect_why(der, len + 1, "bytes after the DER ECDSA signature");
	/* The SEQUENCE with a long-form length (0x81 LEN): the same values, not minimal. */
	uint8_t longer[82] = { 0x30, 0x81 };
	memcpy(longer + 2, der + 1, len - 1);
	expect_why(longer, len + 1, "not a DER ECDSA signature");
	/* A negative INTEGER, a third INTEGER, a SEQUENCE that runs past the end, nothing. */
	len = der_of(der, r, one, 0);
	der[4] = 0x92; /* r = 0x9234: its top bit set, no zero before it */
	expect_why(der, len, "not a DER ECDSA signature");
	len = der_of(der, r, one, 0);
	uint8_t third[80];
	memcpy(third, der, len);
	third[1] += 3;
	third[len] = 0x02;
	third[len + 1] = 1;
	third[len + 2] = 1;
	expect_why(third, len + 3, "not a DER ECDSA signature");
	der[1] += 1;
	expect_why(der, len, "not a DER ECDSA signature");
	expect_why(der, 0, "not a DER ECDSA signature");
	expect_why(der, 1, "not a DER ECDSA signature");
	BN_free(n);
	BN_free(half);
	BN_free(r);
	BN_free(s);
	BN_free(one);
	BN_free(zero);
}

/* Ed25519: 64 bytes, S below L. */
static void test_signer_sigform__ed25519_forms(void **state)
{
	(void)state;
	/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
	static const uint8_t l[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
				       0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
				       [31] = 0x10 };
	uint8_t sig[65];
	memset(sig, 0xaa, 32);
	memcpy(sig + 32, l, 32);
	assert_non_null(strstr(signer_sig_form_why(HPX_SIG_ED25519, sig, 64), "S not below the group order"));
	sig[32] -= 1; /* L - 1 */
	assert_null(signer_sig_form_why(HPX_SIG_ED25519, sig, 64));
	sig[63] = 0xff;
	assert_non_null(signer_sig_form_why(HPX_SIG_ED25519, sig, 64));
	memset(sig + 32, 0, 32);
	assert_null(signer_sig_form_why(HPX_SIG_ED25519, sig, 64));
	assert_non_null(strstr(signer_sig_form_why(HPX_SIG_ED25519, sig, 65), "64 bytes"));
	assert_non_null(signer_sig_form_why(HPX_SIG_ED25519, sig, 63));
	assert_non_null(signer_sig_form_why(3, sig, 64));
}

/* A PEM P-256 key signs low-S every time (OpenSSL's own s is high half the time). */
static void test_signer_sigform__pem_signs_low_s(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	EVP_PKEY *k = fx_keygen("P-256");
	char *path = fx_write_pem(k, "low-s.pem", false);
	struct signer_key *key = fx_open(&ctx, path);
	for (int i = 0; i < 64; i++) {
		uint8_t msg[HPX_SIG_MESSAGE_SIZE], sig[HPX_SIG_MAX];
		memset(msg, i, sizeof msg);
		size_t len = 0;
		assert_int_equal(signer_sign_message(&ctx, key, msg, sig, &len), 0);
		assert_null(signer_sig_form_why(HPX_SIG_ECDSA_P256, sig, len));
		assert_true(signer_verify_raw(k, HPX_SIG_ECDSA_P256, msg, sizeof msg, sig, len));
	}
	signer_key_free(key);
	EVP_PKEY_free(k);
	free(path);
	hp_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_sigform__raw_to_der),
		cmocka_unit_test(test_signer_sigform__ecdsa_forms),
		cmocka_unit_test(test_signer_sigform__ed25519_forms),
		cmocka_unit_test(test_signer_sigform__pem_signs_low_s),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
