/*
 * key.c: keys that sign, and where a PIN comes from. A key is either a PEM
 * private key file (signed with OpenSSL here) or a token key (signed in the
 * HSM by pkcs11.c); both carry the public key, and every signature made is
 * put in its one accepted form (sigform.c) and checked against that public
 * key before it leaves this file. The primitives (key ids, public keys, one
 * signature check) are pubkey.c's.
 */
#include <openssl/err.h>
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
	if (signer_pubkey_raw(k->priv, k->algorithm, raw) < 0) {
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
