/*
 * Unit tests for signer/key.c: key ids are the SHA-256 of the canonical DER
 * SubjectPublicKeyInfo (whatever encoding the PEM used), raw public keys are
 * checked, PEM keys sign and their signatures verify, PINs come from files and
 * the environment as documented. r||s to DER is in sigform.c.
 */
#include <openssl/core_names.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/unit/signer/fixture.h"

static void spki_id(EVP_PKEY *k, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	assert_true(n > 0);
	hp_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
}

static void test_signer_key__key_id_is_spki_hash(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	const char *kinds[] = { "ED25519", "P-256" };
	const uint16_t algs[] = { HPX_SIG_ED25519, HPX_SIG_ECDSA_P256 };
	for (int i = 0; i < 2; i++) {
		EVP_PKEY *k = fx_keygen(kinds[i]);
		uint8_t want[32], got[32];
		uint16_t alg = 0;
		spki_id(k, want);
		assert_int_equal(signer_pubkey_id(&ctx, "k", k, &alg, got), 0);
		assert_int_equal(alg, algs[i]);
		assert_memory_equal(got, want, 32);
		EVP_PKEY_free(k);
	}
	/* A P-256 key written with a compressed point has the same id. */
	EVP_PKEY *k = fx_keygen("P-256");
	uint8_t want[32], got[32];
	uint16_t alg;
	spki_id(k, want);
	assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
							"compressed"),
			 1);
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	assert_int_equal(n, 2 + 21 + 3 + 33); /* SEQUENCE, AlgorithmIdentifier, BIT STRING of 33 bytes */
	const unsigned char *p = der;
	EVP_PKEY *c = d2i_PUBKEY(NULL, &p, n);
	assert_non_null(c);
	assert_int_equal(signer_pubkey_id(&ctx, "c", c, &alg, got), 0);
	assert_memory_equal(got, want, 32);
	OPENSSL_free(der);
	EVP_PKEY_free(c);
	EVP_PKEY_free(k);
	/* Other keys are refused, naming what they are. */
	const char *others[] = { "P-384", "RSA" };
	for (int i = 0; i < 2; i++) {
		k = fx_keygen(others[i]);
		assert_int_equal(signer_pubkey_id(&ctx, "o", k, &alg, got), -HP_EUNSUPPORTED);
		assert_non_null(strstr(th_last_diag(&ctx), "only Ed25519 and ECDSA P-256"));
		EVP_PKEY_free(k);
	}
	hp_ctx_fini(&ctx);
}

static void test_signer_key__raw_public_keys(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	/* Ed25519: 32 bytes. */
	EVP_PKEY *k = fx_keygen("ED25519"), *pub = NULL;
	uint8_t raw[65], id[32], want[32];
	size_t n = 32;
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
	assert_int_equal(signer_pubkey_from_raw(&ctx, "t", HPX_SIG_ED25519, raw, 32, &pub, id), 0);
	spki_id(k, want);
	assert_memory_equal(id, want, 32);
	assert_int_equal(EVP_PKEY_eq(k, pub), 1);
	EVP_PKEY_free(pub);
	assert_int_equal(signer_pubkey_from_raw(&ctx, "t", HPX_SIG_ED25519, raw, 31, &pub, id),
			 -HP_ECORRUPT);
	assert_null(pub);
	EVP_PKEY_free(k);
	/* P-256: the uncompressed point; one not on the curve is refused. */
	k = fx_keygen("P-256");
	n = sizeof raw;
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw,
							 sizeof raw, &n),
			 1);
	assert_int_equal(n, 65);
	assert_int_equal(signer_pubkey_from_raw(&ctx, "t", HPX_SIG_ECDSA_P256, raw, 65, &pub, id), 0);
	spki_id(k, want);
	assert_memory_equal(id, want, 32);
	EVP_PKEY_free(pub);
	raw[64] ^= 1;
	assert_int_equal(signer_pubkey_from_raw(&ctx, "t", HPX_SIG_ECDSA_P256, raw, 65, &pub, id),
			 -HP_ECORRUPT);
	assert_non_null(strstr(th_last_diag(&ctx), "not a valid ecdsa-p256 public key"));
	raw[0] = 0x02;
	assert_int_equal(signer_pubkey_from_raw(&ctx, "t", HPX_SIG_ECDSA_P256, raw, 33, &pub, id),
			 -HP_ECORRUPT);
	EVP_PKEY_free(k);
	hp_ctx_fini(&ctx);
}

static void test_signer_key__pem_keys_sign(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	const char *kinds[] = { "ED25519", "P-256" };
	const uint16_t algs[] = { HPX_SIG_ED25519, HPX_SIG_ECDSA_P256 };
	for (int i = 0; i < 2; i++) {
		EVP_PKEY *k = fx_keygen(kinds[i]);
		char name[32];
		snprintf(name, sizeof name, "sign-%d.pem", i);
		char *path = fx_write_pem(k, name, false);
		struct signer_key *key = fx_open(&ctx, path);
		assert_int_equal(signer_key_algorithm(key), algs[i]);
		uint8_t want[32];
		spki_id(k, want);
		assert_memory_equal(signer_key_id(key), want, 32);
		uint8_t msg[HPX_SIG_MESSAGE_SIZE], sig[HPX_SIG_MAX];
		memset(msg, 0x42, sizeof msg);
		size_t n = 0;
		assert_int_equal(signer_sign_message(&ctx, key, msg, sig, &n), 0);
		if (algs[i] == HPX_SIG_ED25519)
			assert_int_equal(n, 64);
		else
			assert_true(n >= 8 && n <= SIGNER_ECDSA_P256_DER_MAX);
		assert_true(signer_verify_raw(k, algs[i], msg, sizeof msg, sig, n));
		msg[87] ^= 1;
		assert_false(signer_verify_raw(k, algs[i], msg, sizeof msg, sig, n));
		signer_key_free(key);
		EVP_PKEY_free(k);
		free(path);
	}
	/* A public key, an RSA key, junk: refused, one diagnostic each. */
	EVP_PKEY *k = fx_keygen("P-256");
	char *pub = fx_write_pem(k, "pub.pem", true);
	struct signer_key *key = NULL;
	size_t before = ctx.ndiags;
	assert_int_equal(signer_key_open(&ctx, pub, NULL, &key), -HP_ERROR);
	assert_null(key);
	assert_int_equal(ctx.ndiags, before + 1);
	assert_non_null(strstr(th_last_diag(&ctx), "cannot read a PEM private key"));
	EVP_PKEY_free(k);
	k = fx_keygen("RSA");
	char *rsa = fx_write_pem(k, "rsa.pem", false);
	assert_int_equal(signer_key_open(&ctx, rsa, NULL, &key), -HP_EUNSUPPORTED);
	EVP_PKEY_free(k);
	free(pub);
	free(rsa);
	signer_key_free(NULL);
	/* A pkcs11: URI (any case) goes to the token route, not to a file of that name. */
	struct signer_key_opts mo = { .module = "/nonexistent/module.so" };
	assert_int_equal(signer_key_open(&ctx, "PKCS11:token=t;object=k", &mo, &key), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "cannot load the PKCS#11 module"));
	assert_int_equal(signer_key_open(&ctx, "pkcs11:token=t;objekt=k", &mo, &key), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "unknown attribute 'objekt'"));
	hp_ctx_fini(&ctx);
}

static void test_signer_key__pins(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	char *pin = NULL;
	struct {
		const char *file, *want;
	} cases[] = {
		{ "1234\n", "1234" },
		{ "1234", "1234" },
		{ "1234\r\n", "1234" },
		{ "12 34\n\n", "12 34\n" }, /* one newline only */
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = th_write_file("pin", cases[i].file, strlen(cases[i].file));
		struct signer_key_opts o = { .pin_file = path };
		assert_int_equal(signer_pin_read(&ctx, &o, NULL, &pin), 0);
		assert_string_equal(pin, cases[i].want);
		signer_pin_free(pin);
		/* The URI's pin-source is a file too, read only without --pin-file. */
		assert_int_equal(signer_pin_read(&ctx, NULL, path, &pin), 0);
		assert_string_equal(pin, cases[i].want);
		signer_pin_free(pin);
		free(path);
	}
	char *nul = th_write_file("pin-nul", "12\0" "34", 5);
	struct signer_key_opts o = { .pin_file = nul };
	assert_int_equal(signer_pin_read(&ctx, &o, NULL, &pin), -HP_ERROR);
	free(nul);
	/* The environment: HP_PIN by default, or the variable named. */
	unsetenv("HP_PIN");
	assert_int_equal(signer_pin_read(&ctx, NULL, NULL, &pin), 0);
	assert_null(pin);
	setenv("HP_PIN", "4321", 1);
	assert_int_equal(signer_pin_read(&ctx, NULL, NULL, &pin), 0);
	assert_string_equal(pin, "4321");
	signer_pin_free(pin);
	struct signer_key_opts e = { .pin_env = "HP_TEST_PIN" };
	assert_int_equal(signer_pin_read(&ctx, &e, NULL, &pin), -HP_ERROR);
	assert_non_null(strstr(th_last_diag(&ctx), "--pin-env HP_TEST_PIN: the variable is not set"));
	setenv("HP_TEST_PIN", "99", 1);
	assert_int_equal(signer_pin_read(&ctx, &e, NULL, &pin), 0);
	assert_string_equal(pin, "99");
	signer_pin_free(pin);
	unsetenv("HP_PIN");
	unsetenv("HP_TEST_PIN");
	hp_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_key__key_id_is_spki_hash),
		cmocka_unit_test(test_signer_key__raw_public_keys),
		cmocka_unit_test(test_signer_key__pem_keys_sign),
		cmocka_unit_test(test_signer_key__pins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
