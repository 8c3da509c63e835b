/*
 * obj.c: pass 2, index the object model: name tables, per-section symbol lists
 * sorted by address, and the parent of each compiler-split ".cold" part.
 */
#include <elf.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/elfread.h"

const char *obj_status_name(enum obj_status st)
{
	switch (st) {
	case OBJ_SAME:
		return "SAME";
	case OBJ_CHANGED:
		return "CHANGED";
	case OBJ_NEW:
		return "NEW";
	case OBJ_REMOVED:
		return "REMOVED";
	}
	return "?";
}

static int cmp_sym_addr(const void *a, const void *b)
{
	const struct obj_sym *x = *(struct obj_sym *const *)a, *y = *(struct obj_sym *const *)b;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1; /* the enclosing (larger) symbol first */
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * "foo.cold" and "foo.cold.3" are the cold part gcc split off foo (also
 * "foo.constprop.0.cold", split off a clone): find foo.
 */
static struct obj_sym *cold_parent(const struct obj *obj, const struct obj_sym *s)
{
	const char *p = strstr(s->name, ".cold");
	if (!p || p == s->name)
		return NULL;
	const char *rest = p + 5;
	if (*rest == '.') {
		rest++;
		if (!*rest)
			return NULL;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (*rest)
		return NULL;
	size_t len = (size_t)(p - s->name);
	char buf[512];
	if (len >= sizeof buf)
		return NULL;
	memcpy(buf, s->name, len);
	buf[len] = 0;
	for (struct obj_sym *c = obj_find_sym(obj, buf); c; c = c->next_same_name)
		if (obj_sym_is_func(c))
			return c;
	return NULL;
}

int obj_index(struct hp_ctx *ctx, struct obj *obj)
{
	int err;
	if ((err = hp_map_init(ctx, &obj->sym_by_name, obj->nsyms)) < 0 ||
	    (err = hp_map_init(ctx, &obj->sec_by_name, obj->nsecs)) < 0)
		return err;

	/* Names: the first of each name goes in the map, the rest chain on. */
	struct obj_sym **tail = hp_arena_array(ctx, obj->nsyms, sizeof *tail);
	if (!tail)
		return hp_nomem(ctx);
	for (size_t i = 1; i < obj->nsyms; i++) {
		struct obj_sym *s = &obj->syms[i], *first;
		if (!s->name[0] || s->type == STT_SECTION || s->type == STT_FILE)
			continue;
		if ((err = hp_map_put(ctx, &obj->sym_by_name, s->name, s, (void **)&first)) < 0)
			return err;
		if (first != s) {
			struct obj_sym *last = tail[first->index] ? tail[first->index] : first;
			last->next_same_name = s;
			tail[first->index] = s;
		}
	}
	for (size_t i = 1; i < obj->nsecs; i++)
		if ((err = hp_map_put(ctx, &obj->sec_by_name, obj->secs[i].name, &obj->secs[i],
				      NULL)) < 0)
			return err;

	/* Per-section lists of defined functions and objects, by address. */
	for (size_t i = 1; i < obj->nsyms; i++) {
		struct obj_sym *s = &obj->syms[i];
		if (obj_sym_is_func(s) || obj_sym_is_data(s))
			s->sec->nsyms++;
	}
	for (size_t i = 1; i < obj->nsecs; i++) {
		struct obj_sec *sec = &obj->secs[i];
		if (!sec->nsyms)
			continue;
		sec->syms = hp_arena_array(ctx, sec->nsyms, sizeof *sec->syms);
		if (!sec->syms)
			return hp_nomem(ctx);
		sec->nsyms = 0;
	}
	for (size_t i = 1; i < obj->nsyms; i++) {
		struct obj_sym *s = &obj->syms[i];
		if (obj_sym_is_func(s) || obj_sym_is_data(s))
			s->sec->syms[s->sec->nsyms++] = s;
	}
	for (size_t i = 1; i < obj->nsecs; i++)
		if (obj->secs[i].nsyms > 1)
			qsort(obj->secs[i].syms, obj->secs[i].nsyms, sizeof(struct obj_sym *),
			      cmp_sym_addr);

	for (size_t i = 1; i < obj->nsyms; i++) {
		struct obj_sym *s = &obj->syms[i];
		if (obj_sym_is_func(s) && s->bind == STB_LOCAL)
			s->parent = cold_parent(obj, s);
	}
	return 0;
}

struct obj_sym *obj_find_sym(const struct obj *obj, const char *name)
{
	return hp_map_get(&obj->sym_by_name, name);
}

struct obj_sec *obj_find_sec(const struct obj *obj, const char *name)
{
	return hp_map_get(&obj->sec_by_name, name);
}

struct obj_sym *obj_sym_at(const struct obj_sec *sec, uint64_t off)
{
	/* Last symbol with value <= off, then walk back over enclosing ones. */
	size_t lo = 0, hi = sec->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sec->syms[mid]->value <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0;) {
		struct obj_sym *s = sec->syms[i];
		if (off < s->value + s->size || (s->size == 0 && off == s->value))
			return s;
		if (i + 8 < lo)
			break; /* symbols do not nest deeply; stop looking far back */
	}
	return NULL;
}

size_t obj_rel_lower_bound(const struct obj_sec *sec, uint64_t off)
{
	size_t lo = 0, hi = sec->nrels;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sec->rels[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const uint8_t *obj_sym_bytes(const struct obj_sym *sym)
{
	/* The reader checks the range of functions and data objects only. */
	if (!sym->sec || !sym->sec->data || !hp_range_ok(sym->value, sym->size, sym->sec->size))
		return NULL;
	return sym->sec->data + sym->value;
}
