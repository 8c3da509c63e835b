/*
 * find.c: which running processes a command is about. Each finder walks /proc
 * once and asks one question of every process but the caller: does it run this
 * executable, does it map this build, does it hold a state block. A process
 * that exits meanwhile, or that cannot be read, is not a candidate.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "runtime/runtime_internal.h"

/* Whether pid is one the finder wants; < 0 on an error that ends the walk. */
typedef int (*want_fn)(struct hp_ctx *ctx, long pid, void *arg);

static int each_pid(struct hp_ctx *ctx, want_fn want, void *arg, pid_t **out, size_t *n)
{
	DIR *d = opendir("/proc");
	if (!d)
		return hp_err(ctx, HP_ERROR, "/proc", NULL, "cannot list: %s", strerror(errno));
	pid_t *v = NULL;
	size_t cap = 0;
	int err = 0;
	*n = 0;
	struct dirent *e;
	while (err == 0 && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		int w = want(ctx, pid, arg);
		if (w <= 0) {
			err = w;
			continue;
		}
		if ((err = hp_grow(ctx, &v, &cap, *n, sizeof *v, 16)) < 0)
			break;
		v[(*n)++] = (pid_t)pid;
	}
	closedir(d);
	if (err < 0) {
		free(v);
		*n = 0;
		return err;
	}
	*out = v;
	return 0;
}

/* ----- mapping a build ----------------------------------------------------------- */

struct mapping {
	const uint8_t *build_id;
	uint32_t size;
	struct hp_map seen; /* "dev inode" -> (void *)1 the build-id matches, 2 it does not */
};

/* Whether file (key: its "dev inode") has the build-id; read once per file. */
static int file_matches(struct hp_ctx *ctx, struct mapping *m, const char *key, const char *file)
{
	uintptr_t known = (uintptr_t)hp_map_get(&m->seen, key);
	if (known)
		return known == 1;
	struct image *img;
	size_t mark = ctx->ndiags;
	known = 2;
	if (image_read(ctx, file, &img) == 0) {
		if (img->build_id_size == m->size && !memcmp(img->build_id, m->build_id, m->size))
			known = 1;
		image_free(img);
	}
	hp_diag_rollback(ctx, mark); /* not an ELF file we can read: not the one */
	const char *k = hp_arena_strdup(ctx, key);
	if (!k || hp_map_put(ctx, &m->seen, k, (void *)known, NULL) < 0)
		return hp_nomem(ctx);
	return known == 1;
}

static int maps_build(struct hp_ctx *ctx, long pid, void *arg)
{
	char path[64], line[4400];
	snprintf(path, sizeof path, "/proc/%ld/maps", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int found = 0;
	while (found == 0 && fgets(line, sizeof line, f)) {
		unsigned long long lo, hi, off, ino;
		char perms[8], dev[16], key[48];
		int at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &lo, &hi, perms, &off, dev, &ino,
			   &at) < 6 ||
		    perms[2] != 'x' || !ino || line[at] != '/')
			continue;
		char file[96];
		snprintf(key, sizeof key, "%s %llu", dev, ino);
		snprintf(file, sizeof file, "/proc/%ld/map_files/%llx-%llx", pid, lo, hi);
		found = file_matches(ctx, arg, key, file);
	}
	fclose(f);
	return found;
}

int runtime_maps_build(struct hp_ctx *ctx, pid_t pid, const uint8_t *build_id, uint32_t size)
{
	struct mapping m = { build_id, size, { 0 } };
	int err = hp_map_init(ctx, &m.seen, 16);
	return err < 0 ? err : maps_build(ctx, pid, &m);
}

int runtime_find_mapping(struct hp_ctx *ctx, const uint8_t *build_id, uint32_t size, pid_t **out,
			 size_t *n)
{
	struct mapping m = { build_id, size, { 0 } };
	int err = hp_map_init(ctx, &m.seen, 256);
	if (err < 0)
		return err;
	return each_pid(ctx, maps_build, &m, out, n);
}

/* ----- running an executable --------------------------------------------------- */

struct running {
	dev_t dev;
	ino_t ino;
	struct mapping m;       /* its build-id: a copy of the build runs it too */
};

static int runs(struct hp_ctx *ctx, long pid, void *arg)
{
	struct running *r = arg;
	char link[64], key[48];
	struct stat st;
	snprintf(link, sizeof link, "/proc/%ld/exe", pid);
	if (stat(link, &st) < 0)
		return 0;
	if (st.st_dev == r->dev && st.st_ino == r->ino)
		return 1;
	if (!r->m.size)
		return 0;
	/* Through the link: a file in another mount namespace (a container's) is
	 * read all the same. */
	snprintf(key, sizeof key, "%llu %llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	return file_matches(ctx, &r->m, key, link);
}

int runtime_find_running(struct hp_ctx *ctx, const char *path, pid_t **out, size_t *n)
{
	struct running r = { 0 };
	struct stat st;
	if (stat(path, &st) < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot read: %s", strerror(errno));
	r.dev = st.st_dev;
	r.ino = st.st_ino;
	struct image *img = NULL;
	int err = image_read(ctx, path, &img);
	if (err < 0)
		return err;
	if (img->build_id_size) {
		r.m.build_id = img->build_id;
		r.m.size = img->build_id_size;
	}
	if ((err = hp_map_init(ctx, &r.m.seen, 256)) == 0)
		err = each_pid(ctx, runs, &r, out, n);
	image_free(img);
	return err;
}

/* ----- holding a state block ------------------------------------------------------ */

static int has_state(struct hp_ctx *ctx, long pid, void *arg)
{
	(void)ctx;
	(void)arg;
	static const char name[] = "/memfd:" RT_STATE_NAME;
	char path[64], line[4400];
	snprintf(path, sizeof path, "/proc/%ld/maps", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

int runtime_find_patched(struct hp_ctx *ctx, pid_t **out, size_t *n)
{
	return each_pid(ctx, has_state, NULL, out, n);
}

/* The patched processes whose state block lists patch id; one that exits
 * meanwhile is left out. */
int runtime_find_with_patch(struct hp_ctx *ctx, const uint8_t id[16], pid_t **out, size_t *n)
{
	pid_t *all = NULL, *v = NULL;
	size_t nall = 0;
	*n = 0;
	int err = runtime_find_patched(ctx, &all, &nall);
	struct rt_state *s = NULL;
	if (err == 0 && (!(s = malloc(sizeof *s)) || !(v = malloc((nall + 1) * sizeof *v))))
		err = hp_nomem(ctx);
	for (size_t i = 0; err == 0 && i < nall; i++) {
		size_t mark = ctx->ndiags;
		struct rt_result r;
		int e = runtime_status(ctx, all[i], s, &r);
		if (e == -HP_ERECORD && ctx->ndiags > mark) {
			/* Reported, never acted upon: a record hpapply did not write. */
			char *text = hp_arena_strdup(ctx, ctx->diags[mark].text);
			hp_diag_rollback(ctx, mark);
			hp_warn(ctx, NULL, NULL, "%s; skipped", text ? text : "untrusted record");
			continue;
		}
		if (e < 0) {
			hp_diag_rollback(ctx, mark); /* gone meanwhile */
			continue;
		}
		for (uint32_t k = 0; k < s->npatches; k++)
			if (!memcmp(s->patches[k].patch_id, id, 16)) {
				v[(*n)++] = all[i];
				break;
			}
	}
	free(s);
	free(all);
	if (err < 0) {
		free(v);
		return err;
	}
	*out = v;
	return 0;
}
