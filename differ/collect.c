/*
 * collect.c: pass 6, the closure of what the changed code needs.
 *
 * The patch carries new code, never a copy of what the process already has.
 * Starting from the CHANGED functions, follow every relocation: a NEW function
 * or NEW data object travels too (and what it refers to, in turn); an anonymous
 * piece (a string literal, a jump table, a constant of .rodata.cst16) travels
 * because nothing in the process can name it; a symbol with a SAME twin stays
 * where it is and is looked up by the applier.
 *
 * A cold part runs only as a continuation of its parent and jumps back into the
 * parent's body: the new parent needs the new cold part, even when that part's
 * bytes did not change, and the old cold part must be idle when the parent is
 * replaced (check_only).
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"

struct collector {
	struct hp_ctx *ctx;
	struct obj *new;
	struct differ_item *items;
	size_t n, cap;
	struct hp_map pieces; /* "sec:start" -> item index + 1 */
	int refused;
};

static int push(struct collector *c, struct differ_item it)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 32;
		struct differ_item *p = hp_arena_array(c->ctx, cap, sizeof *p);
		if (!p)
			return hp_nomem(c->ctx);
		if (c->n)
			memcpy(p, c->items, c->n * sizeof *p);
		c->items = p;
		c->cap = cap;
	}
	c->items[c->n++] = it;
	return 0;
}

static int add_sym(struct collector *c, struct obj_sym *s, bool replaces, bool check_only)
{
	if (s->include)
		return 0;
	s->include = true;
	return push(c, (struct differ_item){ obj_sym_is_func(s) ? DIFFER_ITEM_FUNC : DIFFER_ITEM_DATA,
					     s, s->sec, s->value, s->size, replaces, check_only });
}

static int add_piece(struct collector *c, const struct differ_ref *ref)
{
	char key[48];
	snprintf(key, sizeof key, "%u:%llu", ref->sec->index, (unsigned long long)ref->start);
	if (hp_map_get(&c->pieces, key))
		return 0;
	const char *k = hp_arena_strdup(c->ctx, key);
	if (!k)
		return hp_nomem(c->ctx);
	int err = hp_map_put(c->ctx, &c->pieces, k, (void *)(uintptr_t)(c->n + 1), NULL);
	if (err < 0)
		return err;
	return push(c, (struct differ_item){ DIFFER_ITEM_PIECE, NULL, ref->sec, ref->start,
					     ref->len, false, false });
}

/* Follow the relocations of item i, adding what it needs. */
static int visit(struct collector *c, size_t i)
{
	const struct differ_item it = c->items[i];
	const struct obj_sec *sec = it.sec;
	for (size_t k = obj_rel_lower_bound(sec, it.start);
	     k < sec->nrels && sec->rels[k].offset < it.start + it.size; k++) {
		struct differ_ref ref;
		int err = differ_resolve(c->ctx, c->new, sec, &sec->rels[k], &ref);
		if (err < 0)
			return err;
		if (ref.kind == DIFFER_REF_PIECE) {
			if ((err = add_piece(c, &ref)) < 0)
				return err;
			continue;
		}
		if (ref.kind != DIFFER_REF_SYM || !ref.sym->sec)
			continue; /* a constant, or a symbol the process provides */
		struct obj_sym *x = (struct obj_sym *)ref.sym;
		if (obj_sym_is_func(x)) {
			if (x->status == OBJ_NEW)
				err = add_sym(c, x, false, false);
		} else if (obj_sym_is_data(x) &&
			   (x->status == OBJ_NEW || (x->status == OBJ_CHANGED && x->artificial))) {
			/* New data, or a table the compiler made that changed: the new
			 * code needs the new bytes, and nothing else reads them. */
			err = add_sym(c, x, false, false);
		}
		if (err < 0)
			return err;
	}
	return 0;
}

int differ_collect(struct hp_ctx *ctx, struct obj *old, struct obj *new,
		   struct differ_closure *out)
{
	(void)old;
	struct collector c = { ctx, new, NULL, 0, 0, { 0 }, 0 };
	int err = hp_map_init(ctx, &c.pieces, 64);
	if (err < 0)
		return err;
	memset(out, 0, sizeof *out);
	/* Data that changed cannot travel: the process keeps what it has.
	 * differ_check_layout() refuses it with the reason; this guards callers
	 * that skipped it. Tables the compiler made travel with their readers. */
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *s = &new->syms[i];
		if (obj_sym_is_data(s) && s->status == OBJ_CHANGED && !s->artificial)
			c.refused = hp_err(ctx, HP_EUNPATCHABLE, new->path, s->name,
					   "data object changed (%s); a running process keeps its old contents and never re-runs an initializer",
					   s->why ? s->why : "contents differ");
	}
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *s = &new->syms[i];
		if (!obj_sym_is_func(s) || s->status != OBJ_CHANGED)
			continue;
		bool cold = s->parent != NULL;
		if ((err = add_sym(&c, s, !cold, cold)) < 0)
			return err;
	}
	/* Cold parts of included parents travel with them. */
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *s = &new->syms[i];
		if (obj_sym_is_func(s) && s->parent && s->parent->include &&
		    (err = add_sym(&c, s, false, s->twin != NULL)) < 0)
			return err;
	}
	for (size_t i = 0; i < c.n; i++) {
		if ((err = visit(&c, i)) < 0)
			return err;
		/* A NEW function reached from the roots may have a cold part too. */
		if (i + 1 == c.n) {
			for (size_t k = 1; k < new->nsyms; k++) {
				struct obj_sym *s = &new->syms[k];
				if (obj_sym_is_func(s) && s->parent && s->parent->include &&
				    (err = add_sym(&c, s, false, s->twin != NULL)) < 0)
					return err;
			}
		}
	}
	out->items = c.items;
	out->nitems = c.n;
	return c.refused;
}
