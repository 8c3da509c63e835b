/*
 * correlate.c: pass 3, pair every symbol and section of new with its twin in old.
 *
 * A twin is "the same thing in the other build". Globals keep their names, so
 * they pair by name. Locals need more care, because the compiler numbers some
 * of them and the numbers shift when unrelated code changes:
 *   - gcc names a function-scope static "count.0", "count.1", ... in the order it
 *     meets them; adding a static anywhere earlier renumbers every later one;
 *   - gcc's clones ("f.constprop.0", "f.isra.0", "f.part.0") and cold parts
 *     ("f.cold") carry numbers that shift the same way;
 *   - clang names statics "func.count" and does not number them.
 * So locals pair (1) by exact name when the name is unique on both sides,
 * (2) by the name without numbers when that is unique, and (3) where several
 * statics share a base name ("count" in three functions), by the set of
 * functions whose code refers to each.
 *
 * Sections pair through the symbol that owns them (.text.f goes with f), or by
 * name. A section symbol pairs with its section.
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"

/* What may pair with what: a function only with a function, and so on. */
enum sym_class { CLASS_NONE, CLASS_FUNC, CLASS_DATA, CLASS_UNDEF };

static enum sym_class sym_class(const struct obj_sym *s)
{
	if (!s->name[0] || s->type == STT_SECTION || s->type == STT_FILE)
		return CLASS_NONE;
	if (obj_sym_is_func(s))
		return CLASS_FUNC;
	if (obj_sym_is_data(s))
		return CLASS_DATA;
	if (s->shndx == SHN_UNDEF && s->bind != STB_LOCAL)
		return CLASS_UNDEF;
	if (s->shndx == SHN_COMMON)
		return CLASS_DATA;
	return CLASS_NONE;
}

static bool all_digits(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

const char *differ_canonical_name(struct hp_ctx *ctx, const char *name)
{
	const char *dot = strchr(name, '.');
	if (!dot || dot == name)
		return name;
	size_t len = strlen(name);
	char *out = hp_arena_alloc(ctx, len + 1);
	if (!out)
		return NULL;
	size_t o = (size_t)(dot - name);
	memcpy(out, name, o);
	bool stripped = false;
	const char *p = dot;
	while (*p == '.') {
		const char *q = strchr(p + 1, '.');
		size_t n = q ? (size_t)(q - p - 1) : strlen(p + 1);
		if (all_digits(p + 1, n)) {
			stripped = true;
		} else if (n == 4 && !memcmp(p + 1, "llvm", 4) && q && all_digits(q + 1, strlen(q + 1))) {
			/* ThinLTO's "f.llvm.123456": the rest is a hash of the module */
			stripped = true;
			break;
		} else {
			out[o++] = '.';
			memcpy(out + o, p + 1, n);
			o += n;
		}
		if (!q)
			break;
		p = q;
	}
	out[o] = 0;
	return stripped ? out : name;
}

static void pair(struct obj_sym *o, struct obj_sym *n)
{
	o->twin = n;
	n->twin = o;
}

/* The only unpaired symbol of class c among the chain starting at s, or NULL. */
static struct obj_sym *unique_unpaired(struct obj_sym *s, enum sym_class c)
{
	struct obj_sym *found = NULL;
	for (; s; s = s->next_same_name) {
		if (s->twin || sym_class(s) != c)
			continue;
		if (found)
			return NULL;
		found = s;
	}
	return found;
}

/*
 * Step 1: exact names, unique on both sides. A numbered local ("count.0") is
 * left to the later steps: the same number may now belong to another static.
 */
static int pair_exact(struct hp_ctx *ctx, struct obj *old, struct obj *new)
{
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *n = &new->syms[i];
		enum sym_class c = sym_class(n);
		if (c == CLASS_NONE || n->twin)
			continue;
		if (n->bind == STB_LOCAL) {
			const char *canon = differ_canonical_name(ctx, n->name);
			if (!canon)
				return hp_nomem(ctx);
			if (canon != n->name)
				continue;
		}
		struct obj_sym *nu = unique_unpaired(obj_find_sym(new, n->name), c);
		struct obj_sym *ou = unique_unpaired(obj_find_sym(old, n->name), c);
		if (nu == n && ou)
			pair(ou, n);
	}
	return 0;
}

/* One unpaired local, remembered with its canonical name. */
struct cand {
	struct obj_sym *sym;
	const char *canon;
	const char *sig;   /* referrer signature: refs joined with ',' */
	const char **refs; /* canonical names of the functions referring to it, sorted, unique */
	size_t nrefs;
	enum sym_class c;
};

static int collect(struct hp_ctx *ctx, struct obj *obj, struct cand **out, size_t *nout)
{
	size_t n = 0;
	for (size_t i = 1; i < obj->nsyms; i++) {
		enum sym_class c = sym_class(&obj->syms[i]);
		if (!obj->syms[i].twin && (c == CLASS_FUNC || c == CLASS_DATA))
			n++;
	}
	struct cand *v = hp_arena_array(ctx, n, sizeof *v);
	if (!v)
		return hp_nomem(ctx);
	n = 0;
	for (size_t i = 1; i < obj->nsyms; i++) {
		struct obj_sym *s = &obj->syms[i];
		enum sym_class c = sym_class(s);
		if (s->twin || (c != CLASS_FUNC && c != CLASS_DATA))
			continue;
		const char *canon = differ_canonical_name(ctx, s->name);
		if (!canon)
			return hp_nomem(ctx);
		v[n++] = (struct cand){ s, canon, NULL, NULL, 0, c };
	}
	*out = v;
	*nout = n;
	return 0;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	int r = strcmp(x->canon, y->canon);
	if (r)
		return r;
	r = strcmp(x->sig ? x->sig : "", y->sig ? y->sig : "");
	if (r)
		return r;
	return x->sym->index < y->sym->index ? -1 : 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The referrer signature of each candidate: the sorted, de-duplicated canonical
 * names of the functions whose relocations point at it, joined with ','.
 */
static int sign_referrers(struct hp_ctx *ctx, struct obj *obj, struct cand *v, size_t n)
{
	/* Map each candidate symbol to its slot through aux. */
	struct list {
		const char **names;
		size_t len, cap;
	} *lists = calloc(n ? n : 1, sizeof *lists);
	if (!lists)
		return hp_nomem(ctx);
	int err = 0;
	for (size_t i = 0; i < n; i++)
		v[i].sym->aux = &lists[i];

	for (size_t si = 1; si < obj->nsecs && !err; si++) {
		const struct obj_sec *sec = &obj->secs[si];
		if (!obj_sec_is_text(sec))
			continue;
		for (size_t ri = 0; ri < sec->nrels; ri++) {
			const struct obj_rel *r = &sec->rels[ri];
			struct differ_ref ref;
			if ((err = differ_resolve(ctx, obj, sec, r, &ref)) < 0)
				break;
			if (ref.kind != DIFFER_REF_SYM || !ref.sym->aux)
				continue;
			struct list *l = ref.sym->aux;
			const struct obj_sym *from = obj_sym_at(sec, r->offset);
			const char *fname = from ? differ_canonical_name(ctx, from->name) : "?";
			if (!fname) {
				err = hp_nomem(ctx);
				break;
			}
			if (l->len == l->cap) {
				size_t cap = l->cap ? 2 * l->cap : 4;
				const char **p = realloc(l->names, cap * sizeof *p);
				if (!p) {
					err = hp_nomem(ctx);
					break;
				}
				l->names = p;
				l->cap = cap;
			}
			l->names[l->len++] = fname;
		}
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct list *l = &lists[i];
		if (l->len > 1)
			qsort(l->names, l->len, sizeof *l->names, cmp_str);
		size_t total = 1;
		for (size_t k = 0; k < l->len; k++)
			total += strlen(l->names[k]) + 1;
		char *sig = hp_arena_alloc(ctx, total);
		if (!sig) {
			err = hp_nomem(ctx);
			break;
		}
		const char **refs = hp_arena_array(ctx, l->len, sizeof *refs);
		if (!refs) {
			err = hp_nomem(ctx);
			break;
		}
		char *p = sig;
		size_t nrefs = 0;
		for (size_t k = 0; k < l->len; k++) {
			if (k && !strcmp(l->names[k], l->names[k - 1]))
				continue;
			refs[nrefs++] = l->names[k];
			size_t len = strlen(l->names[k]);
			memcpy(p, l->names[k], len);
			p += len;
			*p++ = ',';
		}
		*p = 0;
		v[i].sig = sig;
		v[i].refs = refs;
		v[i].nrefs = nrefs;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].sym->aux = NULL;
		free(lists[i].names);
	}
	free(lists);
	return err;
}

/*
 * Whether two lone candidates of one canonical name may pair. A numbered static
 * ("count.0") is only the same variable if some function refers to it on both
 * sides: gcc names a static that moved from get_a to get_b "count.0" in both
 * builds, and pairing them would hand get_b the counter get_a was using.
 */
static bool compatible(const struct cand *o, const struct cand *n)
{
	if (o->c != CLASS_DATA || (o->canon == o->sym->name && n->canon == n->sym->name))
		return true;
	if (!o->nrefs && !n->nrefs)
		return true;
	for (size_t i = 0, j = 0; i < o->nrefs && j < n->nrefs;) {
		int r = strcmp(o->refs[i], n->refs[j]);
		if (!r)
			return true;
		if (r < 0)
			i++;
		else
			j++;
	}
	return false;
}

/*
 * Pair runs of candidates that share (class, canonical name[, signature]) when
 * each side has exactly one and they are compatible; with positional, when both
 * sides have the same number, in symbol-table order. Both arrays are sorted by
 * cmp_cand.
 */
static void pair_runs(struct cand *o, size_t no, struct cand *n, size_t nn, bool use_sig,
		      bool positional)
{
	size_t i = 0, j = 0;
	while (i < no && j < nn) {
		int r = o[i].c != n[j].c ? (o[i].c < n[j].c ? -1 : 1) : strcmp(o[i].canon, n[j].canon);
		if (!r && use_sig)
			r = strcmp(o[i].sig, n[j].sig);
		if (r < 0) {
			i++;
			continue;
		}
		if (r > 0) {
			j++;
			continue;
		}
		size_t ie = i + 1, je = j + 1;
		while (ie < no && o[ie].c == o[i].c && !strcmp(o[ie].canon, o[i].canon) &&
		       (!use_sig || !strcmp(o[ie].sig, o[i].sig)))
			ie++;
		while (je < nn && n[je].c == n[j].c && !strcmp(n[je].canon, n[j].canon) &&
		       (!use_sig || !strcmp(n[je].sig, n[j].sig)))
			je++;
		if (ie - i == 1 && je - j == 1 && !o[i].sym->twin && !n[j].sym->twin &&
		    compatible(&o[i], &n[j]))
			pair(o[i].sym, n[j].sym);
		else if (positional && ie - i == je - j)
			for (size_t k = 0; k < ie - i; k++)
				pair(o[i + k].sym, n[j + k].sym);
		i = ie;
		j = je;
	}
}

/*
 * Steps 2 to 4: locals by canonical name, then by referrers, then, where several
 * statics share both (gcc inlined the function holding them into the same
 * callers), by their order in the symbol table, which is the order the compiler
 * met them in the source.
 */
static size_t drop_paired(struct cand *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!v[i].sym->twin)
			v[k++] = v[i];
	return k;
}

static int pair_fuzzy(struct hp_ctx *ctx, struct obj *old, struct obj *new)
{
	struct cand *o, *n;
	size_t no, nn;
	int err;
	if ((err = collect(ctx, old, &o, &no)) < 0 || (err = collect(ctx, new, &n, &nn)) < 0)
		return err;
	if (!no || !nn)
		return 0;
	if ((err = sign_referrers(ctx, old, o, no)) < 0 ||
	    (err = sign_referrers(ctx, new, n, nn)) < 0)
		return err;
	qsort(o, no, sizeof *o, cmp_cand);
	qsort(n, nn, sizeof *n, cmp_cand);
	pair_runs(o, no, n, nn, false, false);
	no = drop_paired(o, no);
	nn = drop_paired(n, nn);
	pair_runs(o, no, n, nn, true, false);
	no = drop_paired(o, no);
	nn = drop_paired(n, nn);
	pair_runs(o, no, n, nn, true, true);
	return 0;
}

/* The symbol that owns sec: the first function or object at its start. */
static struct obj_sym *owner(const struct obj_sec *sec)
{
	return sec->nsyms && sec->syms[0]->value == 0 ? sec->syms[0] : NULL;
}

static void pair_sections(struct obj *old, struct obj *new)
{
	for (size_t i = 1; i < new->nsecs; i++) {
		struct obj_sec *n = &new->secs[i];
		struct obj_sym *ns = owner(n);
		if (ns && ns->twin && ns->twin->sec && owner(ns->twin->sec) == ns->twin &&
		    !ns->twin->sec->twin) {
			n->twin = ns->twin->sec;
			n->twin->twin = n;
		}
	}
	for (size_t i = 1; i < new->nsecs; i++) {
		struct obj_sec *n = &new->secs[i];
		if (n->twin || !n->name[0] || n->type == SHT_RELA || n->type == SHT_GROUP)
			continue;
		struct obj_sec *o = obj_find_sec(old, n->name);
		if (o && !o->twin && o->type == n->type) {
			n->twin = o;
			o->twin = n;
		}
	}
	for (size_t i = 1; i < new->nsecs; i++) {
		struct obj_sec *n = &new->secs[i];
		if (n->twin && n->secsym && n->twin->secsym) {
			n->secsym->twin = n->twin->secsym;
			n->twin->secsym->twin = n->secsym;
		}
	}
}

int differ_correlate(struct hp_ctx *ctx, struct obj *old, struct obj *new)
{
	int err;
	if ((err = pair_exact(ctx, old, new)) < 0 || (err = pair_fuzzy(ctx, old, new)) < 0)
		return err;
	pair_sections(old, new);
	return 0;
}
