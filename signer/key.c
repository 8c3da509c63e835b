/*
 * key.c: keys that sign, and the primitives every other file of signer/ uses:
 * key ids, building a public key from its raw form, one signature check, and
 * where a PIN comes from. Every signature made is put in its one accepted
 * form (sigform.c) before it leaves this file.
 *
 * A key is either a PEM private key file (signed with OpenSSL here) or a
 * token key (signed in the HSM by pkcs11.c); both carry the public key, and
 * every signature made is checked against it before it leaves this file.
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <strings.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer_internal.h"

struct signer_key {
	uint16_t algorithm;      /* HPX_SIG_* */
	uint8_t key_id[32];      /* SHA-256 of the canonical DER SubjectPublicKeyInfo */
	EVP_PKEY *pub;           /* the public key, to check each signature made */
	EVP_PKEY *priv;          /* a PEM key: the private key; NULL for a token key */
	struct signer_p11 *p11;  /* a token key: module, session, object */
	const char *name;        /* the spec as given, for messages */
};

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
static int raw_public(EVP_PKEY *pkey, uint16_t alg, uint8_t raw[65])
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
	if (raw_public(pkey, *alg, raw) < 0)
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

/* ===================================================================== */
/* PINs                                                                  */
/* ===================================================================== */

void signer_pin_free(char *pin)
{
	if (pin) {
		OPENSSL_cleanse(pin, strlen(pin));
		free(pin);
	}
}

static int pin_from_file(struct hp_ctx *ctx, char **out, const char *path)
{
	uint8_t *buf;
	size_t len;
	int err = hp_read_file(ctx, path, SIGNER_MAX_PIN, &buf, &len);
	if (err < 0)
		return err;
	/* One trailing newline is the file's, not the PIN's (echo 1234 > pin). */
	if (len && buf[len - 1] == '\n') {
		len--;
		if (len && buf[len - 1] == '\r')
			len--;
	}
	if (memchr(buf, 0, len)) {
		OPENSSL_cleanse(buf, len);
		free(buf);
		return hp_err(ctx, HP_ERROR, path, NULL, "the PIN file holds a NUL byte");
	}
	char *pin = malloc(len + 1);
	if (pin) {
		memcpy(pin, buf, len);
		pin[len] = 0;
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (!pin)
		return hp_nomem(ctx);
	*out = pin;
	return 0;
}

int signer_pin_read(struct hp_ctx *ctx, const struct signer_key_opts *opts, const char *pin_source,
		    char **out)
{
	*out = NULL;
	if (opts && opts->pin_file)
		return pin_from_file(ctx, out, opts->pin_file);
	if (pin_source)
		return pin_from_file(ctx, out, pin_source);
	const char *var = opts && opts->pin_env ? opts->pin_env : SIGNER_DEFAULT_PIN_ENV;
	const char *v = getenv(var);
	if (!v) {
		if (opts && opts->pin_env)
			return hp_err(ctx, HP_ERROR, NULL, NULL,
				      "--pin-env %s: the variable is not set", var);
		return 0;
	}
	*out = strdup(v);
	return *out ? 0 : hp_nomem(ctx);
}

/* ===================================================================== */
/* Keys                                                                  */
/* ===================================================================== */

struct pass {
	const char *pin;  /* the passphrase on offer, or NULL */
	bool asked;       /* the key was encrypted */
};

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	struct pass *p = u;
	p->asked = true;
	if (!p->pin)
		return -1;
	size_t n = strlen(p->pin);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, p->pin, n);
	return (int)n;
}

static int open_pem(struct hp_ctx *ctx, struct signer_key *k, const char *path,
		    const struct signer_key_opts *opts)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char *pin = NULL;
	BIO *bio = NULL;
	int err = hp_read_file(ctx, path, 1u << 20, &buf, &len);
	if (err < 0)
		goto out;
	if ((err = signer_pin_read(ctx, opts, NULL, &pin)) < 0)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio) {
		err = hp_nomem(ctx);
		goto out;
	}
	struct pass pass = { pin, false };
	k->priv = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pass);
	if (!k->priv) {
		if (pass.asked && !pin)
			err = hp_err(ctx, HP_ERROR, path, NULL,
				     "the key is encrypted; give its passphrase in HP_PIN, --pin-env or --pin-file");
		else
			err = hp_err(ctx, HP_ERROR, path, NULL,
				     "cannot read a PEM private key: %s",
				     pass.asked ? "wrong passphrase" : signer_openssl_why());
		ERR_clear_error();
		goto out;
	}
	if ((err = signer_pubkey_id(ctx, path, k->priv, &k->algorithm, k->key_id)) < 0)
		goto out;
	/* The public half, in canonical form, to check each signature made. */
	uint8_t raw[65];
	if (raw_public(k->priv, k->algorithm, raw) < 0) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot read the public key: %s",
			     signer_openssl_why());
		goto out;
	}
	uint8_t id[32];
	err = signer_pubkey_from_raw(ctx, path, k->algorithm, raw,
				     k->algorithm == HPX_SIG_ED25519 ? 32 : 65, &k->pub, id);
out:
	BIO_free(bio);
	signer_pin_free(pin);
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return err;
}

int signer_key_open(struct hp_ctx *ctx, const char *spec, const struct signer_key_opts *opts,
		    struct signer_key **out)
{
	*out = NULL;
	struct signer_key *k = calloc(1, sizeof *k);
	if (!k)
		return hp_nomem(ctx);
	k->name = spec;
	int err;
	if (!strncasecmp(spec, "pkcs11:", 7)) { /* the scheme is case-insensitive */
		uint16_t pub_alg = 0;
		err = signer_p11_open(ctx, spec, opts, &k->p11, &k->algorithm, &k->pub);
		if (!err)
			err = signer_pubkey_id(ctx, spec, k->pub, &pub_alg, k->key_id);
		if (!err && pub_alg != k->algorithm)
			err = hp_err(ctx, HP_ERROR, spec, NULL,
				     "the private key is %s but its public key is %s",
				     signer_algorithm_name(k->algorithm),
				     signer_algorithm_name(pub_alg));
	} else {
		err = open_pem(ctx, k, spec, opts);
	}
	if (err < 0) {
		signer_key_free(k);
		return err;
	}
	*out = k;
	return 0;
}

void signer_key_free(struct signer_key *key)
{
	if (!key)
		return;
	signer_p11_free(key->p11);
	EVP_PKEY_free(key->pub);
	EVP_PKEY_free(key->priv);
	free(key);
}

uint16_t signer_key_algorithm(const struct signer_key *key)
{
	return key->algorithm;
}

const uint8_t *signer_key_id(const struct signer_key *key)
{
	return key->key_id;
}

static int sign_pem(struct hp_ctx *ctx, struct signer_key *k, const uint8_t *msg, size_t n,
		    uint8_t *out, size_t *out_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	size_t len = HPX_SIG_MAX;
	bool ok = m &&
		  EVP_DigestSignInit_ex(m, NULL,
					k->algorithm == HPX_SIG_ECDSA_P256 ? "SHA256" : NULL, NULL,
					NULL, k->priv, NULL) == 1 &&
		  EVP_DigestSign(m, out, &len, msg, n) == 1;
	EVP_MD_CTX_free(m);
	if (!ok)
		return hp_err(ctx, HP_ERROR, k->name, NULL, "cannot sign: %s",
			      signer_openssl_why());
	if (k->algorithm == HPX_SIG_ECDSA_P256) {
		/* OpenSSL's s is high half the time; the container takes the low one only. */
		uint8_t rs[64];
		if (signer_ecdsa_der_to_raw(out, len, rs) < 0 ||
		    signer_ecdsa_raw_to_der(rs, sizeof rs, out, &len) < 0)
			return hp_err(ctx, HP_ERROR, k->name, NULL,
				      "OpenSSL made an ECDSA signature that is not a P-256 one");
	}
	*out_len = len;
	return 0;
}

int signer_sign_message(struct hp_ctx *ctx, struct signer_key *key,
			const uint8_t msg[HPX_SIG_MESSAGE_SIZE], uint8_t *out, size_t *out_len)
{
	int err;
	if (key->priv) {
		err = sign_pem(ctx, key, msg, HPX_SIG_MESSAGE_SIZE, out, out_len);
	} else {
		uint8_t raw[HPX_SIG_MAX];
		size_t n = 0;
		err = signer_p11_sign(ctx, key->p11, key->algorithm, msg, HPX_SIG_MESSAGE_SIZE, raw,
				      &n);
		if (!err && key->algorithm == HPX_SIG_ECDSA_P256) {
			/* PKCS#11 gives r||s, s high or low; the container holds DER, s low. */
			if (n != 64)
				err = hp_err(ctx, HP_ERROR, key->name, NULL,
					     "the token returned a %zu-byte ECDSA signature, not the 64-byte r||s of P-256",
					     n);
			else if (signer_ecdsa_raw_to_der(raw, n, out, out_len) < 0)
				err = hp_err(ctx, HP_ERROR, key->name, NULL,
					     "the token returned an ECDSA signature whose r or s is 0 or not below the P-256 order");
		} else if (!err) {
			memcpy(out, raw, n);
			*out_len = n;
		}
	}
	if (err < 0)
		return err;
	/* What a verifier would refuse is not handed out (a token's Ed25519 S, say). */
	const char *why = signer_sig_form_why(key->algorithm, out, *out_len);
	if (why)
		return hp_err(ctx, HP_ERROR, key->name, NULL, "the signature just made is refused: %s",
			      why);
	if (!signer_verify_raw(key->pub, key->algorithm, msg, HPX_SIG_MESSAGE_SIZE, out, *out_len))
		return hp_err(ctx, HP_ERROR, key->name, NULL,
			      "the signature just made does not verify with the key's public key; %s",
			      key->p11 ? "the token's public key object does not belong to its private key"
				       : "the key is damaged");
	return 0;
}
