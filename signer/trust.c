/*
 * trust.c: the keys a verifier trusts. A trust store is a PEM file of public
 * keys ("-----BEGIN PUBLIC KEY-----", one or more), or a directory whose *.pem
 * files are such files. Each key is known by its key id (key.c), which is
 * what a signature block names.
 *
 * Whoever can write a trust store decides what the applier (root) runs, so a
 * store is refused unless it is safe, as ssh's StrictModes has it: the store
 * (file or directory), each key file in it, and each directory above it up
 * to / belong to root or to the user running us, and no group or other user
 * may write to them. A directory above the store may be writable by others
 * only when it is root's and sticky, as /tmp is: others can add names there
 * but not rename or remove ours. Each check is made on what was opened
 * (fstat of the descriptor, O_NOFOLLOW), so swapping a name for a symbolic
 * link between the check and the read cannot redirect it; a key file that
 * is a symbolic link is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/base.h"
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
 * Every PUBLIC KEY in the PEM text buf (len bytes) of the file at path. The
 * blocks are found and decoded here: OpenSSL 3.0's PEM decoders cost about
 * 0.5 ms on first use and 0.25 ms per key after, which is most of what a
 * verifier spends.
 */
static int load_pem(struct hp_ctx *ctx, struct signer_trust *t, const char *path,
		    const uint8_t *buf, size_t len)
{
	int err = 0;
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
	return err;
}

/* What a safety check is looking at: the store, a key file in it, or a directory above it. */
enum trust_part { TRUST_STORE, TRUST_KEY, TRUST_PARENT };

static int check_safe(struct hp_ctx *ctx, const char *file, const struct stat *st,
		      enum trust_part part)
{
	return hp_check_owner(ctx, file, st, "trust store", part == TRUST_PARENT);
}

/* The keys of the store file open at fd, whose safety is checked here. */
static int load_file(struct hp_ctx *ctx, struct signer_trust *t, const char *path, int fd,
		     enum trust_part part)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot stat: %s", strerror(errno));
	int err = check_safe(ctx, path, &st, part);
	if (err < 0)
		return err;
	uint8_t *buf;
	size_t len;
	if ((err = hp_read_fd(ctx, fd, path, 1u << 20, &buf, &len)) < 0)
		return err;
	err = load_pem(ctx, t, path, buf, len);
	free(buf);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every *.pem file of the directory d (path, as the user named it), in name
 * order. Each is opened relative to d without following a symbolic link.
 */
static int load_dir(struct hp_ctx *ctx, struct signer_trust *t, const char *path, DIR *d)
{
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
		names[n] = hp_arena_strdup(ctx, e->d_name);
		if (!names[n++])
			err = hp_nomem(ctx);
	}
	if (!err && n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; !err && i < n; i++) {
		const char *file = hp_arena_printf(ctx, "%s/%s", path, names[i]);
		if (!file) {
			err = hp_nomem(ctx);
			break;
		}
		/* O_NONBLOCK: a FIFO named *.pem must not hang us before fstat refuses it. */
		int fd = openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno == ELOOP)
			err = hp_err(ctx, HP_EVERIFY, file, NULL,
				     "a symbolic link; a trust store's keys must be regular files in it");
		else if (fd < 0)
			err = hp_err(ctx, HP_ERROR, file, NULL, "cannot open: %s", strerror(errno));
		else
			err = load_file(ctx, t, file, fd, TRUST_KEY);
		if (fd >= 0)
			close(fd);
	}
	if (!err && n == 0)
		err = hp_err(ctx, HP_ERROR, path, NULL, "no *.pem public key file in it");
	free(names);
	return err;
}

/*
 * Open the store at path, check what was opened and every directory above
 * it, then load it.
 */
static int load_store(struct hp_ctx *ctx, struct signer_trust *t, const char *path)
{
	int fd = -1, err;
	DIR *d = NULL;
	char *real = realpath(path, NULL);
	if (!real) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot open the trust store: %s",
			     strerror(errno));
		goto out;
	}
	/* real holds no symbolic link; O_NOFOLLOW refuses one put there since. */
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot open the trust store: %s",
			     strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		err = hp_err(ctx, HP_ERROR, path, NULL,
			     "not a regular file or a directory; a trust store is a PEM file or a directory of them");
		goto out;
	}
	if ((err = hp_check_parents(ctx, real, "trust store")) < 0)
		goto out;
	if (S_ISREG(st.st_mode)) {
		err = load_file(ctx, t, path, fd, TRUST_STORE);
		goto out;
	}
	if ((err = check_safe(ctx, path, &st, TRUST_STORE)) < 0)
		goto out;
	if (!(d = fdopendir(fd))) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot read directory: %s", strerror(errno));
		goto out;
	}
	fd = -1; /* d owns it now */
	err = load_dir(ctx, t, path, d);
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	free(real);
	return err;
}

int signer_trust_load_all(struct hp_ctx *ctx, const char *const *paths, size_t n,
			  struct signer_trust **out)
{
	*out = NULL;
	struct signer_trust *t = calloc(1, sizeof *t);
	if (!t)
		return hp_nomem(ctx);
	for (size_t i = 0; i < n; i++) {
		int err = load_store(ctx, t, paths[i]);
		if (err < 0) {
			signer_trust_free(t);
			return err;
		}
	}
	*out = t;
	return 0;
}

int signer_trust_load(struct hp_ctx *ctx, const char *path, struct signer_trust **out)
{
	return signer_trust_load_all(ctx, &path, 1, out);
}

const struct signer_trusted_key *signer_trust_find(const struct signer_trust *t, const uint8_t id[32])
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->keys[i].key_id, id, 32))
			return &t->keys[i];
	return NULL;
}

const struct signer_trusted_key *signer_trust_key(const struct signer_trust *t, size_t i)
{
	return &t->keys[i];
}
