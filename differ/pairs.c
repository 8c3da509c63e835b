/*
 * pairs.c: the object pairs of one patch. Pairing the objects of two build
 * trees by relative path (an unchanged object, byte-identical, is skipped
 * fast; one without a counterpart is refused), running every pass on one pair
 * (read, differ_run(), collect), and the closure across pairs: a fix in one
 * object that uses a global new in another takes that global along.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "differ/differ.h"

/* ----- pairing objects of two trees ---------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static int add_name(struct hp_ctx *ctx, struct names *ns, const char *rel)
{
	if (hp_grow(ctx, &ns->v, &ns->cap, ns->n, sizeof *ns->v, 64) < 0)
		return -HP_ENOMEM;
	ns->v[ns->n] = hp_arena_strdup(ctx, rel);
	if (!ns->v[ns->n])
		return hp_nomem(ctx);
	ns->n++;
	return 0;
}

/* Every regular file under dir/rel ending in ".o", as paths relative to dir. */
static int walk(struct hp_ctx *ctx, const char *dir, const char *rel, struct names *out, int depth)
{
	char *path = hp_arena_printf(ctx, "%s%s%s", dir, rel[0] ? "/" : "", rel);
	if (!path)
		return hp_nomem(ctx);
	DIR *d = opendir(path);
	if (!d)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot read directory: %s", strerror(errno));
	int err = 0;
	struct dirent *e;
	while (!err && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		char *sub = hp_arena_printf(ctx, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		char *full = hp_arena_printf(ctx, "%s/%s", dir, sub ? sub : "");
		struct stat st;
		if (!sub || !full) {
			err = hp_nomem(ctx);
		} else if (stat(full, &st) < 0) {
			err = hp_err(ctx, HP_ERROR, full, NULL, "cannot stat: %s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (depth < 64)
				err = walk(ctx, dir, sub, out, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			size_t len = strlen(sub);
			if (len > 2 && !strcmp(sub + len - 2, ".o"))
				err = add_name(ctx, out, sub);
		}
	}
	closedir(d);
	return err;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when both files have the same bytes (an unchanged object is skipped fast). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0 || sa.st_size != sb.st_size)
		return false;
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	char ba[65536], bb[65536];
	while (same) {
		size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
		if (na != nb || memcmp(ba, bb, na))
			same = false;
		if (na < sizeof ba)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

int differ_pairs_from_dirs(struct hp_ctx *ctx, const char *old_dir, const char *new_dir,
			   struct differ_pair **out, size_t *n)
{
	struct names ns = { 0 };
	int err = walk(ctx, new_dir, "", &ns, 0);
	if (err < 0)
		goto out;
	if (ns.n == 0) {
		err = hp_err(ctx, HP_ERROR, new_dir, NULL, "no .o files under this directory");
		goto out;
	}
	qsort(ns.v, ns.n, sizeof *ns.v, cmp_strp);
	struct differ_pair *p = hp_arena_array(ctx, ns.n, sizeof *p);
	if (!p) {
		err = hp_nomem(ctx);
		goto out;
	}
	for (size_t i = 0; i < ns.n; i++) {
		p[i].name = ns.v[i];
		p[i].old_path = hp_arena_printf(ctx, "%s/%s", old_dir, ns.v[i]);
		p[i].new_path = hp_arena_printf(ctx, "%s/%s", new_dir, ns.v[i]);
		if (!p[i].old_path || !p[i].new_path) {
			err = hp_nomem(ctx);
			goto out;
		}
		struct stat st;
		if (stat(p[i].old_path, &st) < 0)
			err = hp_err(ctx, HP_EUNPATCHABLE, p[i].new_path, NULL,
				     "has no counterpart %s; a new translation unit cannot be added to a running process",
				     p[i].old_path);
		else
			p[i].identical = same_file(p[i].old_path, p[i].new_path);
	}
	*out = p;
	*n = ns.n;
out:
	free(ns.v);
	return err;
}

/* ----- the passes for one pair --------------------------------------------- */

int differ_pair_run(struct hp_ctx *ctx, struct differ_pair *p)
{
	int err, err2;
	err = obj_read_elf(ctx, p->old_path, &p->old);
	err2 = obj_read_elf(ctx, p->new_path, &p->new);
	if (err < 0 || err2 < 0)
		return err < 0 ? err : err2;
	/* Every pass, the layout check refusing what a running process cannot absorb. */
	if ((err = differ_run(ctx, p->old, p->new, HP_LEVEL_ERROR, &p->report, &p->findings)) < 0)
		return err;
	/* What the changed code needs travels with it; the rest is found in the process. */
	return differ_collect(ctx, p->old, p->new, &p->closure);
}

/*
 * Code of one object that refers to a function or variable new in another
 * (a new helper in util.c that the fix in parse.c calls) cannot find it in the
 * process: it travels in the patch, with what it needs, and the linker binds
 * the reference to it there, as the static linker would have. Repeated until
 * no closure grows, since what was added may refer to what is new elsewhere.
 */
/* Where a global that is new in this patch is defined: its pair, and a second
 * pair that defines it too (which ld would refuse), if any. */
struct new_global {
	size_t pair, other;
	struct obj_sym *sym;
	bool reported;
};

int differ_cross_object(struct hp_ctx *ctx, struct differ_pair *pairs, size_t n)
{
	struct hp_map defs; /* name -> struct new_global */
	int err = hp_map_init(ctx, &defs, 64);
	if (err < 0)
		return err;
	for (size_t b = 0; b < n; b++) {
		if (pairs[b].identical)
			continue;
		struct obj *o = pairs[b].new;
		for (size_t i = 1; i < o->nsyms; i++) {
			struct obj_sym *d = &o->syms[i];
			if (d->status != OBJ_NEW || d->bind == STB_LOCAL || !d->sec || !d->name[0])
				continue;
			struct new_global *g = hp_map_get(&defs, d->name);
			if (g) {
				if (g->other == SIZE_MAX && g->pair != b)
					g->other = b;
				continue;
			}
			if (!(g = hp_arena_array(ctx, 1, sizeof *g)))
				return hp_nomem(ctx);
			*g = (struct new_global){ b, SIZE_MAX, d, false };
			if ((err = hp_map_put(ctx, &defs, d->name, g, NULL)) < 0)
				return err;
		}
	}
	if (defs.len == 0)
		return 0;
	int refused = 0;
	for (bool grew = true; grew;) {
		grew = false;
		for (size_t a = 0; a < n; a++) {
			if (pairs[a].identical)
				continue;
			const struct differ_closure *c = &pairs[a].closure;
			for (size_t i = 0; i < c->nitems; i++) {
				const struct obj_sec *sec = c->items[i].sec;
				uint64_t end = c->items[i].start + c->items[i].size;
				for (size_t k = obj_rel_lower_bound(sec, c->items[i].start);
				     k < sec->nrels && sec->rels[k].offset < end; k++) {
					const struct obj_sym *s = sec->rels[k].sym;
					struct new_global *g;
					if (s->sec || !s->name[0] || !(g = hp_map_get(&defs, s->name)) ||
					    g->pair == a || g->sym->include || g->reported)
						continue;
					if (g->other != SIZE_MAX) {
						refused = hp_err(
							ctx, HP_EUNPATCHABLE, pairs[g->other].new_path, s->name,
							"new global, also defined in %s; the static linker would refuse it too",
							pairs[g->pair].new_path);
						g->reported = true;
						continue;
					}
					err = differ_collect_add(ctx, pairs[g->pair].new, &pairs[g->pair].closure,
								 g->sym);
					if (err == -HP_EUNPATCHABLE)
						refused = err;
					else if (err < 0)
						return err;
					grew = true;
				}
			}
		}
	}
	return refused;
}
