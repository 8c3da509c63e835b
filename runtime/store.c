/*
 * store.c: the machine's patch store, what keeps a machine patched after the
 * processes alive at install time are gone (hpapply --install, hpd, hpstatus
 * --store).
 *
 * A directory (/var/lib/hotpatch, $HOTPATCH_STORE, --store) that belongs to
 * root (or to the user running the tool) and that nobody else can write, nor
 * any directory above it (a sticky directory of root's such as /tmp aside):
 *
 *   index        "hotpatch-store 1", then one line per patch in the order it
 *                was installed: id, sequence, build-id, install time, target
 *   ID.hpx       the signed container as installed, byte for byte
 *   .lock        flock()ed: exclusively to change the store, shared to read it
 *   verified     "hotpatch-verified 1", then the SHA-256 of each container a
 *                verifier accepted (hpapply --install, hpd; index.c): what the
 *                preload library trusts instead of checking signatures
 *   agent-failures  written by hpd: each process it could not patch, and why
 *
 * Every change is a new file renamed over the old one, the container before
 * the index that names it: a crash at any instant leaves the index as it was
 * or as it was meant to be, and at worst a container no index line names,
 * which the next change removes. The store keeps bytes; whoever uses a stored
 * patch verifies its signatures again (the store is not a trust anchor), but
 * for the preload library, which trusts the verified list of root's verifiers.
 * The index, the containers and the verified list are 0644 whatever the
 * umask: services that are not root's read them (runtime/preload/).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "runtime/runtime_internal.h"

#define STORE_MAX_FILE (HPX_MAX_PAYLOAD + (1u << 20))

const char *runtime_store_default(void)
{
	const char *e = getenv("HOTPATCH_STORE");
	return e && *e ? e : "/var/lib/hotpatch";
}

/* The container file of patch id, in the store. */
static void file_of(const struct rt_store *s, const uint8_t id[16], char *out, size_t size)
{
	char h[33];
	hp_hex(h, id, 16);
	snprintf(out, size, "%s/%s.hpx", s->dir, h);
}

static int read_index(struct hp_ctx *ctx, struct rt_store *s)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/index", s->dir);
	FILE *f = fopen(path, "re");
	s->n = 0;
	if (!f && errno == ENOENT)
		return 0; /* a new store */
	if (!f)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot read the store's index: %s",
			      strerror(errno));
	char line[512];
	int err = 0;
	size_t cap = 0;
	if (!fgets(line, sizeof line, f) || strncmp(line, STORE_INDEX_MAGIC "\n", sizeof STORE_INDEX_MAGIC))
		err = hp_err(ctx, HP_ECORRUPT, path, NULL,
			     "not a hotpatch store index (its first line is not \"" STORE_INDEX_MAGIC "\")");
	for (unsigned no = 2; !err && fgets(line, sizeof line, f); no++) {
		struct rt_stored e;
		if (!store_parse_index_line(line, &e)) {
			err = hp_err(ctx, HP_ECORRUPT, path, NULL, "line %u is not a stored patch", no);
			break;
		}
		if ((err = hp_grow(ctx, &s->v, &cap, s->n, sizeof *s->v, 8)) < 0)
			break;
		s->v[s->n++] = e;
	}
	fclose(f);
	return err;
}

static int write_index(struct hp_ctx *ctx, const struct rt_store *s)
{
	size_t size = sizeof STORE_INDEX_MAGIC + 1 + s->n * 256, used = 0;
	char *b = malloc(size);
	if (!b)
		return hp_nomem(ctx);
	used += (size_t)snprintf(b, size, "%s\n", STORE_INDEX_MAGIC);
	for (size_t i = 0; i < s->n; i++) {
		const struct rt_stored *e = &s->v[i];
		char id[33], bid[2 * RT_MAX_BUILD_ID + 1];
		hp_hex(id, e->id, 16);
		hp_hex(bid, e->build_id, e->build_id_size);
		used += (size_t)snprintf(b + used, size - used, "%s %" PRIu64 " %s %" PRIu64 " %s\n", id,
					 e->sequence, bid, e->installed_at, e->target[0] ? e->target : "-");
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/index", s->dir);
	int err = hp_write_file_mode(ctx, path, b, used, 0644);
	free(b);
	return err;
}

/* Containers no index line names: what a crash between two renames left. */
static void remove_strays(const struct rt_store *s)
{
	DIR *d = opendir(s->dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		uint8_t id[16];
		if (l != 36 || strcmp(de->d_name + 32, ".hpx") || !hp_unhex(de->d_name, 16, id))
			continue;
		bool named = false;
		for (size_t i = 0; i < s->n && !named; i++)
			named = !memcmp(s->v[i].id, id, 16);
		if (!named)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int runtime_store_open(struct hp_ctx *ctx, const char *dir, bool change, struct rt_store *out)
{
	memset(out, 0, sizeof *out);
	out->lock = -1;
	if (!dir)
		dir = runtime_store_default();
	if (change && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return hp_err(ctx, HP_ERROR, dir, NULL, "cannot create the patch store: %s",
			      strerror(errno));
	char real[4096];
	if (!realpath(dir, real))
		return hp_err(ctx, errno == ENOENT ? HP_EMISMATCH : HP_ERROR, dir, NULL,
			      errno == ENOENT ? "no patch store here (nothing was installed)"
					      : "cannot open the patch store: %s",
			      strerror(errno));
	int err = hp_check_private(ctx, real, "a patch store");
	if (err < 0)
		return err;
	snprintf(out->dir, sizeof out->dir, "%s", real);
	char lock[4200];
	snprintf(lock, sizeof lock, "%s/.lock", real);
	out->lock = open(lock, (change ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out->lock < 0 && !change && errno == ENOENT) {
		/* Never changed: nothing to read, nothing to lock against. */
	} else if (out->lock < 0 || flock(out->lock, change ? LOCK_EX : LOCK_SH) < 0) {
		err = hp_err(ctx, HP_ERROR, lock, NULL, "cannot lock the patch store: %s",
			     strerror(errno));
		runtime_store_close(out);
		return err;
	}
	if ((err = read_index(ctx, out)) < 0) {
		runtime_store_close(out);
		return err;
	}
	if (change)
		remove_strays(out);
	return 0;
}

void runtime_store_close(struct rt_store *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
	if (s->lock >= 0)
		close(s->lock); /* and with it the lock */
	s->lock = -1;
}

ssize_t runtime_store_find(const struct rt_store *s, const uint8_t id[16])
{
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(s->v[i].id, id, 16))
			return (ssize_t)i;
	return -1;
}

int runtime_store_add(struct hp_ctx *ctx, struct rt_store *s, const struct hpx *h,
		      const uint8_t *file, size_t len)
{
	if (runtime_store_find(s, h->patch_id) >= 0)
		return hp_err(ctx, HP_EALREADY, s->dir, NULL, "the patch is already installed");
	struct rt_stored e = { 0 };
	memcpy(e.id, h->patch_id, 16);
	e.sequence = h->sequence;
	memcpy(e.build_id, h->build_id, h->build_id_size);
	e.build_id_size = h->build_id_size;
	e.installed_at = (uint64_t)time(NULL);
	/* One word: the index is split on blanks. */
	snprintf(e.target, sizeof e.target, "%s", h->target_name[0] ? h->target_name : "-");
	for (char *c = e.target; *c; c++)
		if (*c <= ' ' || *c >= 0x7f)
			*c = '_';
	char path[4200];
	file_of(s, h->patch_id, path, sizeof path);
	int err = hp_write_file_mode(ctx, path, file, len, 0644);
	if (err < 0)
		return err;
	size_t cap = s->n;
	if ((err = hp_grow(ctx, &s->v, &cap, s->n, sizeof *s->v, 8)) < 0)
		return err;
	s->v[s->n++] = e;
	if ((err = write_index(ctx, s)) < 0) {
		s->n--;
		unlink(path);
	}
	return err;
}

static int read_verified(struct hp_ctx *ctx, const struct rt_store *s, struct rt_verified **out,
			 size_t *n);

int runtime_store_remove(struct hp_ctx *ctx, struct rt_store *s, const uint8_t id[16])
{
	ssize_t i = runtime_store_find(s, id);
	if (i < 0)
		return hp_err(ctx, HP_EMISMATCH, s->dir, NULL, "no such patch is installed");
	struct rt_stored gone = s->v[i];
	memmove(&s->v[i], &s->v[i + 1], (s->n - (size_t)i - 1) * sizeof *s->v);
	s->n--;
	int err = write_index(ctx, s);
	if (err < 0) {
		memmove(&s->v[i + 1], &s->v[i], (s->n - (size_t)i) * sizeof *s->v);
		s->v[i] = gone;
		s->n++;
		return err;
	}
	char path[4200];
	file_of(s, id, path, sizeof path);
	unlink(path); /* a failure leaves a stray, removed by the next change */
	/* A line of a patch no longer stored vouches for nothing; drop it all the same. */
	struct rt_verified *v = NULL;
	size_t n = 0, k = 0;
	size_t mark = ctx->ndiags;
	if (read_verified(ctx, s, &v, &n) == 0) {
		for (size_t j = 0; j < n; j++)
			if (memcmp(v[j].id, id, 16))
				v[k++] = v[j];
		if (k != n)
			runtime_store_write_verified(ctx, s, v, k);
	}
	hp_diag_rollback(ctx, mark); /* the patch is gone from the index: nothing uses the line */
	free(v);
	return 0;
}

/* ----- the verified list ------------------------------------------------------------- */

/* The list as it is (none: empty), malloc'ed. */
static int read_verified(struct hp_ctx *ctx, const struct rt_store *s, struct rt_verified **out,
			 size_t *n)
{
	char path[4200], line[256];
	snprintf(path, sizeof path, "%s/" STORE_VERIFIED_NAME, s->dir);
	*out = NULL;
	*n = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0
				       : hp_err(ctx, HP_ERROR, path, NULL, "cannot read: %s", strerror(errno));
	int err = 0;
	size_t cap = 0;
	if (!fgets(line, sizeof line, f) || strcmp(line, STORE_VERIFIED_MAGIC "\n"))
		err = hp_err(ctx, HP_ECORRUPT, path, NULL,
			     "not a verified list (its first line is not \"" STORE_VERIFIED_MAGIC "\")");
	while (!err && fgets(line, sizeof line, f)) {
		struct rt_verified v;
		if (!store_parse_verified_line(line, &v))
			continue; /* rewritten whole below: a bad line goes */
		if ((err = hp_grow(ctx, out, &cap, *n, sizeof **out, 8)) < 0)
			break;
		(*out)[(*n)++] = v;
	}
	fclose(f);
	return err;
}

int runtime_store_write_verified(struct hp_ctx *ctx, const struct rt_store *s,
				 const struct rt_verified *v, size_t n)
{
	size_t size = sizeof STORE_VERIFIED_MAGIC + 1 + n * STORE_VERIFIED_LINE, used = 0;
	char *b = malloc(size);
	if (!b)
		return hp_nomem(ctx);
	used += (size_t)snprintf(b, size, "%s\n", STORE_VERIFIED_MAGIC);
	for (size_t i = 0; i < n; i++) {
		char line[STORE_VERIFIED_LINE];
		size_t l = store_format_verified_line(&v[i], line);
		memcpy(b + used, line, l);
		used += l;
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/" STORE_VERIFIED_NAME, s->dir);
	int err = hp_write_file_mode(ctx, path, b, used, 0644);
	free(b);
	return err;
}

int runtime_store_mark_verified(struct hp_ctx *ctx, const struct rt_store *s, const uint8_t id[16],
				const uint8_t *file, size_t len)
{
	struct rt_verified *v = NULL;
	size_t n = 0, k = 0;
	size_t mark = ctx->ndiags;
	if (read_verified(ctx, s, &v, &n) < 0) {
		hp_diag_rollback(ctx, mark); /* a damaged list is written anew */
		n = 0;
	}
	/* Keep the lines of patches still stored, but this one's: it gets its own. */
	for (size_t j = 0; j < n; j++)
		if (memcmp(v[j].id, id, 16) && runtime_store_find(s, v[j].id) >= 0)
			v[k++] = v[j];
	size_t cap = k;
	int err = hp_grow(ctx, &v, &cap, k, sizeof *v, 8);
	if (err == 0) {
		memcpy(v[k].id, id, 16);
		hp_sha256(file, len, v[k].sha256);
		err = runtime_store_write_verified(ctx, s, v, k + 1);
	}
	free(v);
	return err;
}

int runtime_store_read(struct hp_ctx *ctx, const struct rt_store *s, size_t i, uint8_t **buf,
		       size_t *len)
{
	char path[4200];
	file_of(s, s->v[i].id, path, sizeof path);
	return hp_read_file(ctx, path, STORE_MAX_FILE, buf, len);
}

/* What hpd said when it could not apply patch id to pid (STORE/agent-failures). */
static const char *agent_why(struct hp_ctx *ctx, const struct rt_store *s, pid_t pid,
			     const uint8_t id[16])
{
	char path[4200], line[512], want[40];
	uint64_t start;
	if (proc_start_time(pid, &start) < 0)
		return NULL;
	hp_hex(want, id, 16);
	snprintf(path, sizeof path, "%s/agent-failures", s->dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	const char *why = NULL;
	while (!why && fgets(line, sizeof line, f)) {
		int p, at = 0;
		unsigned long long st;
		unsigned tries;
		char hid[40];
		if (sscanf(line, "%d %llu %39s %u %n", &p, &st, hid, &tries, &at) < 4 || p != pid ||
		    st != start || strcmp(hid, want))
			continue;
		line[strcspn(line, "\n")] = 0;
		why = hp_arena_printf(ctx, "hpd could not apply it (%u attempt%s): %s", tries,
				      tries == 1 ? "" : "s", line + at);
	}
	fclose(f);
	return why;
}

int runtime_store_processes(struct hp_ctx *ctx, const struct rt_store *s, size_t i,
			    struct rt_store_proc **out, size_t *n)
{
	const struct rt_stored *e = &s->v[i];
	pid_t *pids = NULL;
	*out = NULL;
	*n = 0;
	int err = runtime_find_mapping(ctx, e->build_id, e->build_id_size, &pids, n);
	if (err < 0)
		return err;
	struct rt_state *st = calloc(1, sizeof *st);
	struct rt_store_proc *v = hp_arena_array(ctx, *n ? *n : 1, sizeof *v);
	if (!st || !v) {
		free(st);
		free(pids);
		return hp_nomem(ctx);
	}
	for (size_t k = 0; k < *n; k++) {
		struct rt_store_proc *p = &v[k];
		struct rt_result r;
		p->pid = pids[k];
		p->ns_pid = runtime_ns_pid(pids[k]);
		size_t mark = ctx->ndiags;
		int e2 = runtime_status(ctx, pids[k], st, &r);
		if (e2 < 0) {
			/* Why, in the diagnostic's words; not an error of the look itself. */
			p->why = ctx->ndiags > mark ? hp_arena_strdup(ctx, ctx->diags[mark].text)
						    : "its record cannot be read";
			hp_diag_rollback(ctx, mark);
			p->exited = e2 == -HP_EMISMATCH;
			continue;
		}
		for (uint32_t j = 0; j < st->npatches && !p->patched; j++)
			p->patched = !memcmp(st->patches[j].patch_id, e->id, 16);
		if (!p->patched)
			p->why = agent_why(ctx, s, pids[k], e->id);
		if (!p->patched && !p->why)
			p->why = st->op != RT_OP_NONE ? "an operation is under way"
						      : "the patch is not applied";
	}
	free(st);
	free(pids);
	*out = v;
	return 0;
}
