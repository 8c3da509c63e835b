/*
 * signer.h: signing and verifying .hpx containers. The one public header of
 * signer/, and the map of it. signer/ is the only module that uses OpenSSL
 * (libcrypto) or talks PKCS#11 (a module loaded with dlopen, or through
 * p11-kit, which also parses the URIs).
 *
 * A signature block (formats/hpx-format.md, "Signature blocks") signs the
 * 88-byte message hpx_sig_message() builds: a context string, the algorithm,
 * the key id and the SHA-256 of every byte before the block. Two algorithms:
 *   HPX_SIG_ED25519     pure Ed25519 over the message; 64-byte signature
 *   HPX_SIG_ECDSA_P256  ECDSA P-256 over SHA-256(message); DER ECDSA-Sig-Value
 * A key id is the SHA-256 of the public key's DER SubjectPublicKeyInfo, in the
 * canonical form (named curve, uncompressed point for P-256), so it equals
 * `openssl pkey -pubin -outform DER | sha256sum` of the usual PEM file.
 *
 *   pubkey.c  key ids, public keys, one signature check: all a verifier links
 *   key.c     keys that sign: a PEM private key, or a token key (pkcs11.c)
 *   pkcs11.c  a private key in an HSM, addressed by a pkcs11: URI (uri.c)
 *   uri.c     RFC 7512 pkcs11: URIs, read by p11-kit
 *   sigform.c the one form each signature may take: P-256 minimal DER, low S
 *   trust.c   the trust store: a PEM public key file or a directory of them
 *   sign.c    appending a signature block to a container
 *   verify.c  checking every block of a container against the trust store
 *
 * Order for a verifier: hpx_read_envelope() (header and blocks, nothing else),
 * signer_verify(), and only then hpx_read() of the body. Dependencies:
 * signer -> formats; nothing of ours depends on signer but cli/ and runtime/.
 */
#ifndef HP_SIGNER_H
#define HP_SIGNER_H

#include "formats/base.h"
#include "formats/hpx.h"

/* Signature blocks a verifier checks at most (and hpsign writes): each costs a
 * SHA-256 of the bytes before it and up to one check per trusted key. */
#define SIGNER_MAX_BLOCKS 16

/* "ed25519", "ecdsa-p256", or "unknown". */
const char *signer_algorithm_name(uint16_t algorithm);

/* ===================================================================== */
/* key.c, pkcs11.c: keys that sign                                       */
/* ===================================================================== */

/* Where a key's secrets come from. Every field may be NULL. */
struct signer_key_opts {
	const char *module;   /* PKCS#11 module file; NULL: the URI's module-path=, its
				 module-name= (registered with p11-kit), then
				 $PKCS11_MODULE_PATH, then p11-kit's proxy module */
	const char *pin_env;  /* name of the environment variable holding the PIN;
				 NULL: HP_PIN */
	const char *pin_file; /* file holding the PIN, one trailing newline stripped;
				 wins over pin_env */
};

struct signer_key;

/*
 * Open the private key spec names: a "pkcs11:" URI (RFC 7512: token, object,
 * id, type=private, serial, manufacturer, model, slot-id ...; pin-source in
 * the query, module-path and module-name in the query or the path; pin-value
 * and unknown attributes are refused), or else the path of a PEM
 * private key file (an encrypted one takes the PIN as its passphrase). Only
 * Ed25519 and P-256 keys are accepted. A token key stays logged in until
 * signer_key_free(). On success *out belongs to the caller; free it with
 * signer_key_free(). Errors: -HP_ERROR (I/O, module, token, PIN, key not
 * found), -HP_EUNSUPPORTED (another key type), -HP_ENOMEM; one diagnostic.
 */
int signer_key_open(struct hp_ctx *ctx, const char *spec, const struct signer_key_opts *opts,
		    struct signer_key **out);
/* Log out, close the module or free the key. Accepts NULL. */
void signer_key_free(struct signer_key *key);
/* HPX_SIG_ED25519 or HPX_SIG_ECDSA_P256. */
uint16_t signer_key_algorithm(const struct signer_key *key);
/* The key id: 32 bytes, SHA-256 of the public key's DER SubjectPublicKeyInfo. */
const uint8_t *signer_key_id(const struct signer_key *key);

/*
 * Sign the 88-byte message of a block with key: write the signature to out
 * (room for HPX_SIG_MAX bytes) and its size to *out_len. Every signature is
 * checked against the key's public key before it is returned, so a token
 * whose public key object does not match its private key is caught here.
 */
int signer_sign_message(struct hp_ctx *ctx, struct signer_key *key,
			const uint8_t msg[HPX_SIG_MESSAGE_SIZE], uint8_t *out, size_t *out_len);

/* ===================================================================== */
/* sign.c: appending a signature block                                   */
/* ===================================================================== */

/*
 * Append one signature block by key to the container in *buf (*len bytes,
 * malloc'd; name is for messages). The envelope is checked first; the block
 * covers every byte before it, and no earlier byte changes. On success *buf
 * is reallocated and *len grown; on failure both are unchanged.
 */
int signer_append(struct hp_ctx *ctx, struct signer_key *key, const char *name, uint8_t **buf,
		  size_t *len);

/* ===================================================================== */
/* trust.c: the trust store                                              */
/* ===================================================================== */

struct signer_trust;

/*
 * Load the public keys a verifier trusts: every PEM "PUBLIC KEY" in the file
 * at path, or in each *.pem file of the directory at path (not recursive).
 * A key that is not Ed25519 or P-256, a file with no key, or an empty store is
 * an error. On success *out belongs to the caller; free with
 * signer_trust_free().
 */
int signer_trust_load(struct hp_ctx *ctx, const char *path, struct signer_trust **out);
/* The keys of several stores, each checked as above; a key in two is one key. */
int signer_trust_load_all(struct hp_ctx *ctx, const char *const *paths, size_t n,
			  struct signer_trust **out);
void signer_trust_free(struct signer_trust *trust);
/* Number of distinct keys in the store. */
size_t signer_trust_count(const struct signer_trust *trust);

/* ===================================================================== */
/* verify.c: checking the blocks of a container                          */
/* ===================================================================== */

/* What one block turned out to be. */
struct signer_block {
	uint64_t start;         /* file offset of the block; it covers [0, start) */
	uint16_t algorithm;     /* HPX_SIG_* */
	uint8_t key_id[32];
	bool trusted;           /* the key id is in the trust store */
	bool verified;          /* trusted, and the signature holds */
	const char *key_name;   /* trusted: the file the key came from; else NULL */
	const char *why;        /* the block fails: what is wrong, as a phrase that follows
				   "signature N (...)": "does not verify; ...", "is refused: ..." */
	size_t covered_by;      /* 1 + the index of the first verified block after it,
				   which signs all of it; 0: none does */
};

struct signer_verdict {
	struct signer_block *blocks; /* one per block, in file order (ctx arena) */
	size_t nblocks;
	size_t nkeys_ok;        /* distinct trusted keys with a block that verifies */
	size_t nfailed;         /* blocks that fail: by a trusted key and not verifying, or
				   (any key) a signature not in its one accepted form, or
				   made by a trusted key but naming another */
};

/*
 * Check every signature block of a container whose envelope env was read by
 * hpx_read_envelope() from buf. Reads nothing past the fixed header but the
 * blocks. Fills *out (memory from the ctx arena) and raises no diagnostic
 * for a block that fails: callers that only report (hpinspect) use this.
 * More than SIGNER_MAX_BLOCKS blocks: -HP_EVERIFY, with a diagnostic.
 */
int signer_check(struct hp_ctx *ctx, const struct signer_trust *trust, const uint8_t *buf,
		 size_t len, const struct hpx *env, struct signer_verdict *out);

/*
 * Accept or refuse a container: read its envelope, check every block, and
 * return 0 only when at least require (>= 1) distinct trusted keys have a
 * block that verifies and no block by a trusted key fails. Otherwise one
 * diagnostic (the first block that fails and which others fail too, or that
 * too few keys signed) and -HP_EVERIFY; a malformed envelope gives -HP_ECORRUPT or -HP_EUNSUPPORTED.
 * A block by a key outside the trust store is reported in *out and is not an
 * error (a build stage may sign with a key the operator does not trust),
 * unless its signature is not in its accepted form or a trusted key made it
 * (its key id was changed). More than SIGNER_MAX_BLOCKS blocks: -HP_EVERIFY.
 */
int signer_verify(struct hp_ctx *ctx, const struct signer_trust *trust, const char *name,
		  const uint8_t *buf, size_t len, size_t require, struct signer_verdict *out);

#endif
