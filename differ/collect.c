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
#include "formats/base.h"
#include "formats/elfread.h"

struct collector {
	struct hp_ctx *ctx;
	struct obj *new;
	struct differ_closure *out; /* items so far, and the pieces already in */
	int refused;
};

static int push(struct collector *c, struct differ_item it)
{
	struct differ_closure *o = c->out;
	if (hp_arena_grow(c->ctx, &o->items, &o->cap, o->nitems, sizeof *o->items, 32) < 0)
		return -HP_ENOMEM;
	o->items[o->nitems++] = it;
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
	if (hp_map_get(&c->out->pieces, key))
		return 0;
	const char *k = hp_arena_strdup(c->ctx, key);
	if (!k)
		return hp_nomem(c->ctx);
	int err = hp_map_put(c->ctx, &c->out->pieces, k, (void *)(uintptr_t)(c->out->nitems + 1),
			     NULL);
	if (err < 0)
		return err;
	return push(c, (struct differ_item){ DIFFER_ITEM_PIECE, NULL, ref->sec, ref->start,
					     ref->len, false, false });
}

/* Follow the relocations of item i, adding what it needs. */
static int visit(struct collector *c, size_t i)
{
	const struct differ_item it = c->out->items[i];
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

/* Visit every item from index `from` on, and what each adds in turn, until the
 * closure stops growing. A NEW function reached this way may have a cold part. */
static int close_over(struct collector *c, size_t from)
{
	struct obj *new = c->new;
	int err;
	for (size_t i = from; i < c->out->nitems; i++) {
		if ((err = visit(c, i)) < 0)
			return err;
		if (i + 1 == c->out->nitems) {
			for (size_t k = 1; k < new->nsyms; k++) {
				struct obj_sym *s = &new->syms[k];
				if (obj_sym_is_func(s) && s->parent && s->parent->include &&
				    (err = add_sym(c, s, false, s->twin != NULL)) < 0)
					return err;
			}
		}
	}
	return 0;
}

int differ_collect(struct hp_ctx *ctx, struct obj *old, struct obj *new,
		   struct differ_closure *out)
{
	(void)old;
	memset(out, 0, sizeof *out);
	struct collector c = { ctx, new, out, 0 };
	int err = hp_map_init(ctx, &out->pieces, 64);
	if (err < 0)
		return err;
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
	if ((err = close_over(&c, 0)) < 0)
		return err;
	return c.refused;
}

int differ_collect_add(struct hp_ctx *ctx, struct obj *new, struct differ_closure *closure,
		       struct obj_sym *sym)
{
	if (sym->include)
		return 0;
	if (sym->status != OBJ_NEW || !(obj_sym_is_func(sym) || obj_sym_is_data(sym)))
		return hp_err(ctx, HP_ERROR, new->path, sym->name,
			      "only a NEW function or data object can be added to a closure; internal error");
	struct collector c = { ctx, new, closure, 0 };
	size_t from = closure->nitems;
	int err = add_sym(&c, sym, false, false);
	if (err < 0 || (err = close_over(&c, from)) < 0)
		return err;
	return c.refused;
}
