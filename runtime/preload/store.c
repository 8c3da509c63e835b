/*
 * store.c: the machine's patch store (runtime/store.c), read from inside a
 * process that is starting or loading a library. Nothing here checks a
 * signature: OpenSSL in every process would cost more than the whole start-up
 * budget, and a setuid program cannot be made to read a trust store. Instead a
 * container is trusted when its SHA-256 is in the store's verified list, which
 * only the store's owner (root) writes, and only after verifying the
 * container's signatures against root's trust store (hpapply --install, hpd).
 * The store, every directory above it, the index and the verified list must
 * be root's (or this user's) and writable by their owner only: as the trust
 * store itself, nobody else can change what they say. docs/preload.md has the
 * argument. They are checked once a line of the index concerns this process.
 *
 * A store that does not exist, or lists no patch for the images at hand, is
 * nothing to do. Anything else that is not as it must be is a doubt: an error,
 * and the caller applies nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/preload/preload.h"

#define MAX_FILE (HPX_MAX_PAYLOAD + (1u << 20))

/* A list of the store, open; its ownership is checked by check_list(). */
static FILE *open_list(struct hp_ctx *ctx, const char *path, const char *what, int *err)
{
	*err = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			*err = hp_err(ctx, HP_ERROR, path, NULL, "cannot open the %s: %s", what,
				      strerror(errno));
		return NULL;
	}
	FILE *f = fdopen(fd, "re");
	if (!f) {
		*err = hp_nomem(ctx);
		close(fd);
	}
	return f;
}

/* A regular file, root's or ours, writable by its owner only. */
static int check_list(struct hp_ctx *ctx, FILE *f, const char *path, const char *what)
{
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
		return hp_err(ctx, HP_EVERIFY, path, NULL, "the %s is not a regular file", what);
	return hp_check_owner(ctx, path, &st, what, false);
}

/* Whether an image not seen before has this build-id. */
static const struct pl_image *wanted(const struct pl_images *imgs, const struct rt_stored *e)
{
	for (size_t i = 0; i < imgs->n; i++) {
		const struct pl_image *img = &imgs->v[i];
		if (!img->seen && img->build_id_size == e->build_id_size && e->build_id_size &&
		    !memcmp(img->build_id, e->build_id, e->build_id_size))
			return img;
	}
	return NULL;
}

/*
 * Every index line whose binary is among the new images, in install order.
 * Nothing in it is trusted yet: when a line concerns this process, the store
 * and the index are checked (a process no stored patch concerns says nothing,
 * whatever the store's state: with /etc/ld.so.preload, that is most of them).
 * The cheap path first: one open, one read, no allocation but the candidates.
 */
static int read_index(struct hp_ctx *ctx, const char *dir, const struct pl_images *imgs,
		      struct pl_patch **out, size_t *n, int *fd)
{
	char path[PATH_MAX + 16], small[8192], *text = small;
	snprintf(path, sizeof path, "%s/index", dir);
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return errno == ENOENT ? 0 /* no store, or nothing was ever installed */
				       : hp_err(ctx, HP_ERROR, path, NULL,
						"cannot open the store's index: %s", strerror(errno));
	struct stat st;
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 24))
		return hp_err(ctx, HP_EVERIFY, path, NULL,
			      "the store's index is not a regular file of at most 16 MB");
	size_t len = (size_t)st.st_size;
	if (len >= sizeof small && !(text = hp_arena_alloc(ctx, len + 1)))
		return hp_nomem(ctx);
	size_t got = 0;
	ssize_t r;
	while (got < len && (r = read(*fd, text + got, len - got)) > 0)
		got += (size_t)r;
	text[got] = 0;
	if (strncmp(text, STORE_INDEX_MAGIC "\n", sizeof STORE_INDEX_MAGIC))
		return hp_err(ctx, HP_ECORRUPT, path, NULL,
			      "not a hotpatch store index (its first line is not \"" STORE_INDEX_MAGIC "\")");
	size_t cap = 0;
	unsigned no = 2;
	for (char *line = text + sizeof STORE_INDEX_MAGIC; *line; no++) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		struct rt_stored e;
		if (!store_parse_index_line(line, &e))
			return hp_err(ctx, HP_ECORRUPT, path, NULL, "line %u is not a stored patch", no);
		line = nl ? nl + 1 : line + strlen(line);
		const struct pl_image *img = wanted(imgs, &e);
		if (!img)
			continue;
		int err = hp_arena_grow(ctx, out, &cap, *n, sizeof **out, 8);
		if (err < 0)
			return err;
		struct pl_patch *p = &(*out)[(*n)++];
		memset(p, 0, sizeof *p);
		p->e = e;
		p->target = img;
	}
	return 0;
}

static int read_verified(struct hp_ctx *ctx, const char *dir, struct rt_verified **out, size_t *n)
{
	char path[PATH_MAX + 16], line[256];
	snprintf(path, sizeof path, "%s/" STORE_VERIFIED_NAME, dir);
	int err;
	FILE *f = open_list(ctx, path, "store's verified list", &err);
	if (!f)
		return err ? err
			   : hp_err(ctx, HP_EVERIFY, path, NULL,
				    "no verified list: the store was not written by an hpapply --install or hpd that writes one");
	size_t cap = 0;
	if ((err = check_list(ctx, f, path, "store's verified list")) < 0) {
		fclose(f);
		return err;
	}
	if (!fgets(line, sizeof line, f) || strcmp(line, STORE_VERIFIED_MAGIC "\n"))
		err = hp_err(ctx, HP_ECORRUPT, path, NULL,
			     "not a verified list (its first line is not \"" STORE_VERIFIED_MAGIC "\")");
	for (unsigned no = 2; !err && fgets(line, sizeof line, f); no++) {
		struct rt_verified v;
		if (!store_parse_verified_line(line, &v)) {
			err = hp_err(ctx, HP_ECORRUPT, path, NULL, "line %u is not a verified container",
				     no);
			break;
		}
		if ((err = hp_arena_grow(ctx, out, &cap, *n, sizeof **out, 8)) < 0)
			break;
		(*out)[(*n)++] = v;
	}
	fclose(f);
	return err;
}

/* Read patch p's container, trusted only when the verified list has its bytes. */
static int read_patch(struct hp_ctx *ctx, const char *dir, const struct rt_verified *ver,
		      size_t nver, struct pl_patch *p)
{
	char id[33], path[PATH_MAX + 48];
	hp_hex(id, p->e.id, 16);
	snprintf(path, sizeof path, "%s/%s.hpx", dir, id);
	uint8_t *buf = NULL, sha[32];
	size_t len = 0;
	int err = hp_read_file(ctx, path, MAX_FILE, &buf, &len);
	if (err < 0)
		return err;
	hp_sha256(buf, len, sha);
	bool listed = false;
	for (size_t i = 0; i < nver && !listed; i++)
		listed = !memcmp(ver[i].id, p->e.id, 16) && !memcmp(ver[i].sha256, sha, 32);
	if (!listed) {
		char hex[65];
		hp_hex(hex, sha, 32);
		free(buf);
		return hp_err(ctx, HP_EVERIFY, path, NULL,
			      "its SHA-256 %.16s... is not in the store's verified list: changed since it was verified, or never verified",
			      hex);
	}
	/* The reader keeps pointers into its input: the bytes live in the arena. */
	uint8_t *kept = hp_arena_alloc(ctx, len ? len : 1);
	if (!kept) {
		free(buf);
		return hp_nomem(ctx);
	}
	memcpy(kept, buf, len);
	free(buf);
	if ((err = hpx_read(ctx, path, kept, len, &p->h)) < 0)
		return err;
	if (memcmp(p->h.patch_id, p->e.id, 16) || p->h.build_id_size != p->e.build_id_size ||
	    memcmp(p->h.build_id, p->e.build_id, p->e.build_id_size))
		return hp_err(ctx, HP_EVERIFY, path, NULL,
			      "its patch id or build-id is not the one the store's index gives it");
	return 0;
}

int pl_store_read(struct hp_ctx *ctx, const char *dir, const struct pl_images *imgs,
		  struct pl_patch **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int fd = -1;
	int err = read_index(ctx, dir, imgs, out, n, &fd);
	if (err < 0 || !*n) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	/* A stored patch concerns this process: now the store must be one to trust. */
	char real[PATH_MAX], path[PATH_MAX + 16];
	struct stat st;
	if (!realpath(dir, real))
		err = hp_err(ctx, HP_ERROR, dir, NULL, "cannot open the patch store: %s",
			     strerror(errno));
	else if ((err = hp_check_private(ctx, real, "patch store")) == 0 && fstat(fd, &st) == 0) {
		snprintf(path, sizeof path, "%s/index", real);
		err = hp_check_owner(ctx, path, &st, "store's index", false);
	}
	close(fd);
	if (err < 0)
		return err;
	struct rt_verified *ver = NULL;
	size_t nver = 0;
	if ((err = read_verified(ctx, real, &ver, &nver)) < 0)
		return err;
	for (size_t i = 0; i < *n && !err; i++)
		err = read_patch(ctx, real, ver, nver, &(*out)[i]);
	return err;
}
