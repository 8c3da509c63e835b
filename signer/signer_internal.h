/*
 * signer_internal.h: what the files of signer/ share, and what the unit tests
 * reach into. Not for other modules: they use signer.h. OpenSSL types appear
 * here and nowhere outside signer/ (and tests/unit/signer/).
 */
#ifndef HP_SIGNER_INTERNAL_H
#define HP_SIGNER_INTERNAL_H

#include <openssl/evp.h>

#include "formats/base.h"
#include "signer/signer.h"

#define SIGNER_DEFAULT_PIN_ENV "HP_PIN"
#define SIGNER_MAX_PIN 256            /* bytes of PIN a PIN file may hold */
#define SIGNER_ECDSA_P256_DER_MAX 72  /* SEQUENCE { INTEGER r, INTEGER s }, each up to 33 bytes */

/* ===================================================================== */
/* pubkey.c: public keys, key ids and the primitives                     */
/* ===================================================================== */

/*
 * Classify a public (or private) key as HPX_SIG_ED25519 or HPX_SIG_ECDSA_P256
 * and compute its key id from its canonical DER SubjectPublicKeyInfo. Any
 * other key type is -HP_EUNSUPPORTED with a diagnostic naming file.
 */
int signer_pubkey_id(struct hp_ctx *ctx, const char *file, EVP_PKEY *pkey, uint16_t *alg,
		     uint8_t key_id[32]);
/* The raw public key of pkey: 32 bytes (Ed25519) or 04||X||Y (P-256, 65 bytes); -1 on failure. */
int signer_pubkey_raw(EVP_PKEY *pkey, uint16_t alg, uint8_t raw[65]);
/*
 * Build a public key from its raw form: 32 bytes for Ed25519, the 65-byte
 * uncompressed point 04||X||Y for P-256 (a point not on the curve is
 * refused). *out is the caller's (EVP_PKEY_free); key_id gets its id.
 */
int signer_pubkey_from_raw(struct hp_ctx *ctx, const char *file, uint16_t alg,
			   const uint8_t *raw, size_t n, EVP_PKEY **out, uint8_t key_id[32]);
/*
 * Build a public key from a DER SubjectPublicKeyInfo: the canonical forms of
 * the two algorithms are taken apart directly, anything else goes through
 * OpenSSL's parser (and must be Ed25519 or P-256). Sets *alg and key_id.
 */
int signer_pubkey_from_der(struct hp_ctx *ctx, const char *file, const uint8_t *der, size_t n,
			   EVP_PKEY **out, uint16_t *alg, uint8_t key_id[32]);
/* True when sig is a valid signature by pub under alg over the n bytes at msg. */
bool signer_verify_raw(EVP_PKEY *pub, uint16_t alg, const uint8_t *msg, size_t n,
		       const uint8_t *sig, size_t sig_len);
/* The reason of the first error in OpenSSL's queue ("unknown" when empty); clears the queue. */
const char *signer_openssl_why(void);

/* ===================================================================== */
/* key.c: where a PIN comes from                                         */
/* ===================================================================== */

/*
 * The PIN for a key, from (in this order) opts->pin_file, the URI's
 * pin-source file (may be NULL), or the environment variable opts->pin_env
 * (default HP_PIN). *out is malloc'd (free with signer_pin_free) or NULL when
 * no source holds one. A named source that cannot be read is an error.
 */
int signer_pin_read(struct hp_ctx *ctx, const struct signer_key_opts *opts, const char *pin_source,
		    char **out);
/* Wipe and free a PIN. Accepts NULL. */
void signer_pin_free(char *pin);

/* ===================================================================== */
/* sigform.c: the one accepted form of each signature                    */
/* ===================================================================== */

/*
 * Convert an ECDSA P-256 signature from the raw r||s a PKCS#11 token returns
 * (64 bytes) to the minimal DER ECDSA-Sig-Value the container holds, with s
 * made low: an s above n/2 is replaced by n - s, which verifies as well. out
 * has room for SIGNER_ECDSA_P256_DER_MAX bytes. -HP_ECORRUPT if rs is not 64
 * bytes or r or s is 0 or not below n.
 */
int signer_ecdsa_raw_to_der(const uint8_t *rs, size_t n, uint8_t *out, size_t *out_len);
/*
 * The r||s (32 bytes each, big-endian) of a DER ECDSA-Sig-Value of n bytes.
 * Leading zero bytes and bytes after the SEQUENCE are let through: the form
 * is signer_sig_form_why()'s to judge. -HP_ECORRUPT if it does not parse or
 * r or s needs more than 32 bytes.
 */
int signer_ecdsa_der_to_raw(const uint8_t *der, size_t n, uint8_t rs[64]);
/*
 * NULL when the n-byte signature sig has the one form alg allows (sigform.c:
 * Ed25519 64 bytes with S < L; ECDSA P-256 minimal DER, nothing after it,
 * 0 < r < n, 0 < s <= n/2); else why not, a constant string.
 */
const char *signer_sig_form_why(uint16_t alg, const uint8_t *sig, size_t n);

/* ===================================================================== */
/* uri.c: RFC 7512 pkcs11: URIs                                          */
/* ===================================================================== */

struct p11_kit_uri;

/*
 * A parsed pkcs11: URI. NULL (or has_* false) means the attribute is absent.
 * The token (token, manufacturer, serial, model), slot (slot-description,
 * slot-manufacturer) and library (library-*) attributes stay in p11-kit's
 * parse, kit, which matches them: p11_kit_uri_match_token_info() and its
 * siblings in <p11-kit/uri.h>.
 */
struct signer_uri {
	struct p11_kit_uri *kit; /* p11-kit's parse; signer_uri_free() frees it */
	/* object */
	const char *object;      /* CKA_LABEL */
	const uint8_t *id;       /* CKA_ID bytes, percent-decoded */
	size_t id_len;
	bool has_id;
	const char *type;        /* "private", "public", "cert", "secret-key", "data" */
	bool is_private;         /* type=private */
	/* slot */
	bool has_slot_id;
	unsigned long slot_id;
	/* query (module-path and module-name may be in the path too) */
	const char *module_path;
	const char *module_name; /* a module registered with p11-kit (its .module file's name) */
	const char *pin_source;  /* a file path; "file:" stripped */
};

/*
 * Parse a pkcs11: URI with p11-kit. Values are percent-decoded; the strings
 * live in the ctx arena. Unknown or repeated attributes, bad escapes, values
 * p11-kit does not take, and pin-value= (a PIN on the command line) are
 * refused with one diagnostic naming the attribute: -HP_ERROR. On success,
 * free with signer_uri_free(); on failure nothing is left to free.
 */
int signer_uri_parse(struct hp_ctx *ctx, const char *uri, struct signer_uri *out);
/* Free p11-kit's part of a parsed URI. Accepts a URI already freed. */
void signer_uri_free(struct signer_uri *u);

/* ===================================================================== */
/* trust.c                                                               */
/* ===================================================================== */

struct signer_trusted_key {
	uint8_t key_id[32];
	uint16_t algorithm;     /* HPX_SIG_* */
	EVP_PKEY *pkey;
	char *name;             /* the file it came from (base name), for reports */
};

/* The trusted key of this id, or NULL. */
const struct signer_trusted_key *signer_trust_find(const struct signer_trust *trust,
						   const uint8_t id[32]);
/* Key i of the store, i < signer_trust_count(). */
const struct signer_trusted_key *signer_trust_key(const struct signer_trust *trust, size_t i);

/* ===================================================================== */
/* pkcs11.c: a private key in a token                                    */
/* ===================================================================== */

struct signer_p11;

/* Where the module that holds a key comes from (signer_p11_module()). */
enum signer_module_from {
	SIGNER_MODULE_OPTION,   /* --module FILE */
	SIGNER_MODULE_URI_PATH, /* module-path=FILE in the URI */
	SIGNER_MODULE_URI_NAME, /* module-name=NAME in the URI: registered with p11-kit */
	SIGNER_MODULE_ENV,      /* $PKCS11_MODULE_PATH */
	SIGNER_MODULE_PROXY,    /* p11-kit's proxy module, which reaches every registered one */
};
struct signer_module {
	enum signer_module_from from;
	const char *value;      /* a file; a name for SIGNER_MODULE_URI_NAME */
};

/*
 * Choose the module: --module, else the URI's module-path=, else its
 * module-name=, else env (the value of $PKCS11_MODULE_PATH; NULL or empty is
 * unset), else proxy (p11-kit's proxy module, which must exist). Nothing
 * there: -HP_ERROR, saying what was tried. pkcs11.c says why this order.
 */
int signer_p11_module(struct hp_ctx *ctx, const char *uri, const struct signer_uri *u,
		      const struct signer_key_opts *opts, const char *env, const char *proxy,
		      struct signer_module *out);
/* The file of p11-kit's proxy module, as p11-kit's pkg-config file names it. */
const char *signer_p11_proxy(void);
/* Why a module was chosen, as a phrase: "given by --module", "the URI's module-path=" ... */
const char *signer_module_why(enum signer_module_from from);

/*
 * Load the module, find the one token and the one private key the URI
 * names, log in with the PIN, and read the public key that goes with it (the
 * public key object of the same CKA_ID, or of the same label; else the
 * private key's own CKA_EC_POINT or CKA_PUBLIC_KEY_INFO). *pub belongs to the
 * caller; *out is freed with signer_p11_free().
 */
int signer_p11_open(struct hp_ctx *ctx, const char *uri, const struct signer_key_opts *opts,
		    struct signer_p11 **out, uint16_t *alg, EVP_PKEY **pub);
/*
 * Sign with the token: CKM_EDDSA over msg (Ed25519), or CKM_ECDSA over
 * SHA-256(msg) (P-256; the raw r||s is returned as it comes). out has room
 * for HPX_SIG_MAX bytes.
 */
int signer_p11_sign(struct hp_ctx *ctx, struct signer_p11 *p, uint16_t alg, const uint8_t *msg,
		    size_t n, uint8_t *out, size_t *out_len);
void signer_p11_free(struct signer_p11 *p);

#endif
