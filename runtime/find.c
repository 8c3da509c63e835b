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
#include <unistd.h>

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

/* ----- running an executable --------------------------------------------------- */

static int runs(struct hp_ctx *ctx, long pid, void *arg)
{
	(void)ctx;
	char link[64], exe[PATH_MAX];
	snprintf(link, sizeof link, "/proc/%ld/exe", pid);
	ssize_t k = readlink(link, exe, sizeof exe - 1);
	if (k <= 0)
		return 0;
	exe[k] = 0;
	return !strcmp(exe, arg);
}

int runtime_find_running(struct hp_ctx *ctx, const char *path, pid_t **out, size_t *n)
{
	char want[PATH_MAX];
	if (!realpath(path, want))
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot resolve: %s", strerror(errno));
	return each_pid(ctx, runs, want, out, n);
}

/* ----- mapping a build ----------------------------------------------------------- */

struct mapping {
	const uint8_t *build_id;
	uint32_t size;
	struct hp_map seen; /* "dev inode" -> (void *)1 the build-id matches, 2 it does not */
};

/* Whether the file behind mapping lo-hi of pid has the build-id; read once per file. */
static int file_matches(struct hp_ctx *ctx, struct mapping *m, long pid, const char *key,
			unsigned long long lo, unsigned long long hi)
{
	uintptr_t known = (uintptr_t)hp_map_get(&m->seen, key);
	if (known)
		return known == 1;
	char file[96];
	snprintf(file, sizeof file, "/proc/%ld/map_files/%llx-%llx", pid, lo, hi);
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
		snprintf(key, sizeof key, "%s %llu", dev, ino);
		found = file_matches(ctx, arg, pid, key, lo, hi);
	}
	fclose(f);
	return found;
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
