/*
 * trust.c: the keys a verifier trusts. A trust store is a PEM file of public
 * keys ("-----BEGIN PUBLIC KEY-----", one or more), or a directory whose *.pem
 * files are such files. Each key is known by its key id (key.c), which is
 * what a signature block names.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "signer/signer_internal.h"

struct signer_trust {
	struct signer_trusted_key *keys;
	size_t n, cap;
};

void signer_trust_free(struct signer_trust *trust)
{
	if (!trust)
		return;
	for (size_t i = 0; i < trust->n; i++) {
		EVP_PKEY_free(trust->keys[i].pkey);
		free(trust->keys[i].name);
	}
	free(trust->keys);
	free(trust);
}

size_t signer_trust_count(const struct signer_trust *trust)
{
	return trust->n;
}

/* Add pkey (taking it), known by k's id and algorithm, unless a key of that id is there. */
static int add_key(struct hp_ctx *ctx, struct signer_trust *t, const char *name, EVP_PKEY *pkey,
		   const struct signer_trusted_key *k)
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->keys[i].key_id, k->key_id, 32)) {
			EVP_PKEY_free(pkey);
			return 0;
		}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct signer_trusted_key *p = realloc(t->keys, cap * sizeof *p);
		if (!p) {
			EVP_PKEY_free(pkey);
			return hp_nomem(ctx);
		}
		t->keys = p;
		t->cap = cap;
	}
	struct signer_trusted_key *slot = &t->keys[t->n];
	*slot = *k;
	slot->pkey = pkey;
	slot->name = strdup(name);
	if (!slot->name) {
		EVP_PKEY_free(pkey);
		return hp_nomem(ctx);
	}
	t->n++;
	return 0;
}

static const char pem_begin[] = "-----BEGIN PUBLIC KEY-----";
static const char pem_end[] = "-----END PUBLIC KEY-----";

/*
 * The DER inside a PEM block's base64 body (between its BEGIN and END lines)
 * into out (room for n bytes); -1 when it is not base64.
 */
static int unbase64(const uint8_t *p, size_t n, uint8_t *out, size_t *out_len)
{
	uint8_t *text = malloc(n + 1);
	if (!text)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\n' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t')
			text[k++] = p[i];
	int len = -1;
	if (k % 4 == 0 && k <= INT_MAX)
		len = EVP_DecodeBlock(out, text, (int)k); /* counts the '=' padding as zero bytes */
	for (size_t i = k; len > 0 && i > 0 && text[i - 1] == '='; i--)
		len--;
	free(text);
	if (len <= 0)
		return -1;
	*out_len = (size_t)len;
	return 0;
}

/*
 * Every PUBLIC KEY in the PEM file at path. The blocks are found and decoded
 * here: OpenSSL 3.0's PEM decoders cost about 0.5 ms on first use and 0.25 ms
 * per key after, which is most of what a verifier spends.
 */
static int load_file(struct hp_ctx *ctx, struct signer_trust *t, const char *path)
{
	uint8_t *buf;
	size_t len;
	int err = hp_read_file(ctx, path, 1u << 20, &buf, &len);
	if (err < 0)
		return err;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t found = 0, at = 0;
	while (!err) {
		const char *b = memmem(buf + at, len - at, pem_begin, sizeof pem_begin - 1);
		if (!b)
			break;
		size_t from = (size_t)((const uint8_t *)b - buf) + sizeof pem_begin - 1;
		const char *e = memmem(buf + from, len - from, pem_end, sizeof pem_end - 1);
		if (!e) {
			err = hp_err(ctx, HP_ERROR, path, NULL, "key %zu has no END PUBLIC KEY line",
				     found + 1);
			break;
		}
		size_t to = (size_t)((const uint8_t *)e - buf);
		found++;
		uint8_t *der = malloc(to - from + 1);
		size_t der_len = 0;
		EVP_PKEY *pkey = NULL;
		struct signer_trusted_key k = { 0 };
		/* Messages name the key when the file holds several. */
		const char *label = found == 1 ? path : hp_arena_printf(ctx, "%s (key %zu)", path, found);
		if (!der || !label)
			err = hp_nomem(ctx);
		else if (unbase64(buf + from, to - from, der, &der_len) < 0)
			err = hp_err(ctx, HP_ERROR, label, NULL, "not base64 between the PEM lines");
		else
			err = signer_pubkey_from_der(ctx, label, der, der_len, &pkey, &k.algorithm,
						     k.key_id);
		free(der);
		if (!err)
			err = add_key(ctx, t, base, pkey, &k);
		at = to + sizeof pem_end - 1;
	}
	if (!err && found == 0)
		err = hp_err(ctx, HP_ERROR, path, NULL,
			     memmem(buf, len, "PRIVATE KEY-----", 16)
				     ? "holds a private key; a trust store holds public keys only"
				     : "no PEM public key (-----BEGIN PUBLIC KEY-----) in it");
	free(buf);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.pem file in the directory at path, in name order. */
static int load_dir(struct hp_ctx *ctx, struct signer_trust *t, const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot read directory: %s",
			      strerror(errno));
	char **names = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	struct dirent *e;
	while (!err && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".pem"))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **p = realloc(names, cap * sizeof *p);
			if (!p) {
				err = hp_nomem(ctx);
				break;
			}
			names = p;
		}
		names[n] = hp_arena_printf(ctx, "%s/%s", path, e->d_name);
		if (!names[n++])
			err = hp_nomem(ctx);
	}
	closedir(d);
	if (!err) {
		if (n)
			qsort(names, n, sizeof *names, cmp_str);
		for (size_t i = 0; !err && i < n; i++)
			err = load_file(ctx, t, names[i]);
		if (!err && n == 0)
			err = hp_err(ctx, HP_ERROR, path, NULL, "no *.pem public key file in it");
	}
	free(names);
	return err;
}

int signer_trust_load(struct hp_ctx *ctx, struct signer_trust **out, const char *path)
{
	*out = NULL;
	struct signer_trust *t = calloc(1, sizeof *t);
	if (!t)
		return hp_nomem(ctx);
	struct stat st;
	int err;
	if (stat(path, &st) < 0)
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot open the trust store: %s",
			     strerror(errno));
	else if (S_ISDIR(st.st_mode))
		err = load_dir(ctx, t, path);
	else
		err = load_file(ctx, t, path);
	if (err < 0) {
		signer_trust_free(t);
		return err;
	}
	*out = t;
	return 0;
}

const struct signer_trusted_key *signer_trust_find(const struct signer_trust *t, const uint8_t id[32])
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->keys[i].key_id, id, 32))
			return &t->keys[i];
	return NULL;
}
