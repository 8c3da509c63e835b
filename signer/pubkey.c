/*
 * pubkey.c: the primitives every file of signer/ uses, and all a verifier
 * needs: algorithm names, key ids, building a public key from its raw or DER
 * form, and one signature check. Signing keys are key.c's; keeping them apart
 * keeps PKCS#11 (pkcs11.c, uri.c and libp11-kit) out of the tools that only
 * verify (hpverify, hpinspect, hpapply, hpd, hpstatus).
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer_internal.h"

const char *signer_algorithm_name(uint16_t algorithm)
{
	switch (algorithm) {
	case HPX_SIG_ED25519:
		return "ed25519";
	case HPX_SIG_ECDSA_P256:
		return "ecdsa-p256";
	}
	return "unknown";
}

const char *signer_openssl_why(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "unknown OpenSSL error";
}

/* ===================================================================== */
/* Public keys and key ids                                               */
/* ===================================================================== */

/*
 * The DER SubjectPublicKeyInfo of each algorithm up to the key bytes: a
 * SEQUENCE of the AlgorithmIdentifier (id-Ed25519 1.3.101.112; or
 * id-ecPublicKey with the named curve prime256v1) and a BIT STRING with no
 * unused bits. RFC 8410 section 4 and RFC 5480 section 2.
 */
static const uint8_t spki_ed25519[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
					  0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
static const uint8_t spki_p256[26] = { 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
				       0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
				       0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00 };

/* The canonical SPKI of a raw key into out (91 bytes at most); returns its size. */
static size_t spki_of(uint16_t alg, const uint8_t *raw, uint8_t out[128])
{
	if (alg == HPX_SIG_ED25519) {
		memcpy(out, spki_ed25519, sizeof spki_ed25519);
		memcpy(out + sizeof spki_ed25519, raw, 32);
		return sizeof spki_ed25519 + 32;
	}
	memcpy(out, spki_p256, sizeof spki_p256);
	memcpy(out + sizeof spki_p256, raw, 65);
	return sizeof spki_p256 + 65;
}

static bool is_p256(EVP_PKEY *pkey)
{
	char group[64];
	size_t n = 0;
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
					   &n) != 1)
		return false;
	return !strcmp(group, "prime256v1") || !strcmp(group, "P-256") ||
	       !strcmp(group, "secp256r1");
}

/* The raw public key of pkey: 32 bytes (Ed25519) or 04||X||Y (P-256, 65 bytes). */
int signer_pubkey_raw(EVP_PKEY *pkey, uint16_t alg, uint8_t raw[65])
{
	if (alg == HPX_SIG_ED25519) {
		size_t n = 32;
		return EVP_PKEY_get_raw_public_key(pkey, raw, &n) == 1 && n == 32 ? 0 : -1;
	}
	BIGNUM *x = NULL, *y = NULL;
	int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
		 EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
		 BN_bn2binpad(x, raw + 1, 32) == 32 && BN_bn2binpad(y, raw + 33, 32) == 32;
	raw[0] = 0x04;
	BN_free(x);
	BN_free(y);
	return ok ? 0 : -1;
}

int signer_pubkey_id(struct hp_ctx *ctx, const char *file, EVP_PKEY *pkey, uint16_t *alg,
		     uint8_t key_id[32])
{
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		*alg = HPX_SIG_ED25519;
	else if (EVP_PKEY_is_a(pkey, "EC") && is_p256(pkey))
		*alg = HPX_SIG_ECDSA_P256;
	else
		return hp_err(ctx, HP_EUNSUPPORTED, file, NULL,
			      "a %s key (%d bits); only Ed25519 and ECDSA P-256 keys are supported",
			      EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?",
			      EVP_PKEY_get_bits(pkey));
	uint8_t raw[65], spki[128];
	if (signer_pubkey_raw(pkey, *alg, raw) < 0)
		return hp_err(ctx, HP_ERROR, file, NULL, "cannot read the public key: %s",
			      signer_openssl_why());
	hp_sha256(spki, spki_of(*alg, raw, spki), key_id);
	return 0;
}

int signer_pubkey_from_raw(struct hp_ctx *ctx, const char *file, uint16_t alg,
			   const uint8_t *raw, size_t n, EVP_PKEY **out, uint8_t key_id[32])
{
	*out = NULL;
	size_t want = alg == HPX_SIG_ED25519 ? 32 : 65;
	if (n != want || (alg == HPX_SIG_ECDSA_P256 && raw[0] != 0x04))
		return hp_err(ctx, HP_ECORRUPT, file, NULL,
			      "%s public key is %zu bytes, not the %zu-byte %s form",
			      signer_algorithm_name(alg), n, want,
			      alg == HPX_SIG_ED25519 ? "raw" : "uncompressed");
	/*
	 * Built from the raw key rather than through d2i/PEM: OpenSSL 3.0's
	 * decoders cost about 0.5 ms on first use, a third of a verifier's run.
	 * fromdata checks that a P-256 point lies on the curve.
	 */
	EVP_PKEY *pkey = NULL;
	if (alg == HPX_SIG_ED25519) {
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	} else {
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
							 (char *)"prime256v1", 0),
			OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)raw, 65),
			OSSL_PARAM_construct_end(),
		};
		if (!pc || EVP_PKEY_fromdata_init(pc) != 1 ||
		    EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
			pkey = NULL;
		EVP_PKEY_CTX_free(pc);
	}
	if (!pkey)
		return hp_err(ctx, HP_ECORRUPT, file, NULL, "not a valid %s public key: %s",
			      signer_algorithm_name(alg), signer_openssl_why());
	uint8_t spki[128];
	hp_sha256(spki, spki_of(alg, raw, spki), key_id);
	*out = pkey;
	return 0;
}

int signer_pubkey_from_der(struct hp_ctx *ctx, const char *file, const uint8_t *der, size_t n,
			   EVP_PKEY **out, uint16_t *alg, uint8_t key_id[32])
{
	*out = NULL;
	/* The canonical forms, recognized without a parser. */
	if (n == sizeof spki_ed25519 + 32 && !memcmp(der, spki_ed25519, sizeof spki_ed25519)) {
		*alg = HPX_SIG_ED25519;
		return signer_pubkey_from_raw(ctx, file, *alg, der + sizeof spki_ed25519, 32, out,
					      key_id);
	}
	if (n == sizeof spki_p256 + 65 && !memcmp(der, spki_p256, sizeof spki_p256)) {
		*alg = HPX_SIG_ECDSA_P256;
		return signer_pubkey_from_raw(ctx, file, *alg, der + sizeof spki_p256, 65, out,
					      key_id);
	}
	/* Anything else (a compressed point, explicit curve parameters, another type). */
	const unsigned char *p = der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)n);
	if (!pkey || p != der + n) {
		EVP_PKEY_free(pkey);
		return hp_err(ctx, HP_ECORRUPT, file, NULL, "not a public key: %s",
			      signer_openssl_why());
	}
	int err = signer_pubkey_id(ctx, file, pkey, alg, key_id);
	if (err < 0) {
		EVP_PKEY_free(pkey);
		return err;
	}
	*out = pkey;
	return 0;
}

bool signer_verify_raw(EVP_PKEY *pub, uint16_t alg, const uint8_t *msg, size_t n,
		       const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	/* Ed25519 is pure (no digest); ECDSA hashes the message with SHA-256. */
	bool ok = m &&
		  EVP_DigestVerifyInit_ex(m, NULL, alg == HPX_SIG_ECDSA_P256 ? "SHA256" : NULL,
					  NULL, NULL, pub, NULL) == 1 &&
		  EVP_DigestVerify(m, sig, sig_len, msg, n) == 1;
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return ok;
}
