/*
 * dwtypes.c: the DWARF model, read on demand over the index of dwarfread.c:
 * types (dw_type_get, dw_type_find), variables with a static address
 * (dw_var_at) and functions (dw_subprogram_at). One of the two files that
 * include libdwarf. Every node is read once and kept, keyed by its DIE.
 *
 * What the producers differ in, and how it is made uniform here:
 *   - bit-fields: gcc 12 with DWARF 5 gives DW_AT_data_bit_offset (bits from the
 *     start of the struct); gcc -gdwarf-4 and clang give DW_AT_data_member_location
 *     of the storage unit, its DW_AT_byte_size and the big-endian-numbered
 *     DW_AT_bit_offset. Both become bit_offset from the start of the struct;
 *   - member offsets: a constant, or DWARF 2/3's DW_OP_plus_uconst expression;
 *   - anonymous struct, union or enum behind a typedef: the typedef's name;
 *   - clang nests an anonymous member struct inside its parent, gcc puts it at
 *     the top: both are reached through the member's type reference;
 *   - a function's own DIE (gcc -O2's out-of-line copy of an inline function, a
 *     clone f.isra.0) may carry only DW_AT_abstract_origin: names, types and
 *     parameters come from the origin.
 */
#include <stdlib.h>

#include "formats/base.h"
#include "formats/dwarf_internal.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

/* How deep type references are followed when spelling or sizing a type. */
#define MAX_TYPE_DEPTH 32

static const struct dw_type void_type = { 0, DWT_VOID, "void", false, false, 0, 0, 0,
					  NULL, 0, NULL, 0, false, NULL, 0 };

/* ===================================================================== */
/* Types                                                                  */
/* ===================================================================== */

static enum dwt_kind kind_of(Dwarf_Half tag)
{
	switch (tag) {
	case DW_TAG_base_type:
		return DWT_BASE;
	case DW_TAG_structure_type:
		return DWT_STRUCT;
	case DW_TAG_union_type:
		return DWT_UNION;
	case DW_TAG_enumeration_type:
		return DWT_ENUM;
	case DW_TAG_typedef:
		return DWT_TYPEDEF;
	case DW_TAG_pointer_type:
		return DWT_POINTER;
	case DW_TAG_array_type:
		return DWT_ARRAY;
	case DW_TAG_const_type:
		return DWT_CONST;
	case DW_TAG_volatile_type:
		return DWT_VOLATILE;
	case DW_TAG_restrict_type:
		return DWT_RESTRICT;
	case DW_TAG_atomic_type:
		return DWT_ATOMIC;
	case DW_TAG_subroutine_type:
		return DWT_FUNC;
	case DW_TAG_unspecified_type:
		return DWT_VOID;
	default:
		return DWT_OTHER;
	}
}

/* A growable array of members, moved into the arena when complete. */
struct mvec {
	struct dw_member *v;
	size_t n, cap;
};

static struct dw_member *mvec_push(struct dw *dw, struct mvec *m)
{
	if (hp_grow(dw->ctx, &m->v, &m->cap, m->n, sizeof *m->v, 8) < 0)
		return NULL;
	struct dw_member *x = &m->v[m->n++];
	memset(x, 0, sizeof *x);
	return x;
}

/*
 * DW_AT_data_member_location: a constant, or (DWARF 2/3) an expression
 * DW_OP_plus_uconst N. False when absent (union members: offset 0).
 */
static int member_location(struct dw *dw, Dwarf_Die die, uint64_t *out, bool *present)
{
	*out = 0;
	*present = false;
	Dwarf_Attribute attr;
	if (dwarf_attr(die, DW_AT_data_member_location, &attr, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return 0;
	}
	Dwarf_Half form = 0;
	int err = 0;
	if (dwarf_whatform(attr, &form, &dw->err) != DW_DLV_OK) {
		err = dw_fail(dw, "reading a member's location");
	} else if (form == DW_FORM_exprloc || form == DW_FORM_block1 || form == DW_FORM_block) {
		Dwarf_Unsigned len = 0;
		Dwarf_Ptr block = NULL;
		const uint8_t *p;
		if (form == DW_FORM_exprloc &&
		    dwarf_formexprloc(attr, &len, &block, &dw->err) == DW_DLV_OK &&
		    (p = block, len >= 2 && p[0] == DW_OP_plus_uconst)) {
			uint64_t v = 0;
			unsigned shift = 0;
			for (size_t i = 1; i < len && shift < 64; i++, shift += 7) {
				v |= (uint64_t)(p[i] & 0x7f) << shift;
				if (!(p[i] & 0x80))
					break;
			}
			*out = v;
			*present = true;
		} else {
			dw_forget(dw);
			err = hp_err(dw->ctx, HP_EUNSUPPORTED, dw->obj->path, NULL,
				     "DWARF: a member's location is an expression other than DW_OP_plus_uconst; not understood");
		}
	} else {
		dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
		*present = dw_udata(dw, die, DW_AT_data_member_location, out);
		if (!*present)
			err = dw_fail(dw, "reading a member's location");
		return err;
	}
	dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
	return err;
}

static int read_member(struct dw *dw, Dwarf_Die die, struct dw_member *m)
{
	m->name = dw_own_name(dw, die);
	dw_ref(dw, die, DW_AT_type, &m->type);
	uint64_t line = 0;
	if (dw_udata(dw, die, DW_AT_decl_line, &line))
		m->decl_line = (uint32_t)line;
	bool present;
	int err = member_location(dw, die, &m->offset, &present);
	if (err < 0)
		return err;
	uint64_t bits = 0, dbo = 0, storage = 0;
	int64_t bo = 0;
	if (!dw_udata(dw, die, DW_AT_bit_size, &bits) || !bits)
		return 0;
	m->bit_size = (uint32_t)bits;
	if (dw_udata(dw, die, DW_AT_data_bit_offset, &dbo)) {
		/* DWARF 4+ form (gcc 12, DWARF 5): bits from the start of the struct. */
		m->bit_offset = dbo;
	} else if (dw_sdata(dw, die, DW_AT_bit_offset, &bo)) {
		/* DWARF 2/3 form (gcc -gdwarf-4, clang): the storage unit of byte_size
		 * bytes at data_member_location, bits counted from its most significant
		 * end. On a little-endian target the first bit is
		 * 8 * (location + byte_size) - bit_offset - bit_size. */
		if (!dw_udata(dw, die, DW_AT_byte_size, &storage) &&
		    (err = dw_type_sizeof(dw, m->type, &storage)) < 0)
			return err;
		int64_t first = (int64_t)(8 * (m->offset + storage)) - bo - (int64_t)bits;
		if (first < 0)
			return hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
				      "DWARF: bit-field '%s' starts before its struct",
				      m->name ? m->name : "?");
		m->bit_offset = (uint64_t)first;
	} else {
		/* A bit-field with neither form starts at its member location. */
		m->bit_offset = 8 * m->offset;
	}
	m->offset = m->bit_offset / 8;
	return 0;
}

/* The children of a type DIE: members, enumerators, dimensions, parameters. */
static int read_children(struct dw *dw, Dwarf_Die die, struct dw_type *t)
{
	Dwarf_Die child = NULL;
	int rc = dwarf_child(die, &child, &dw->err);
	if (rc == DW_DLV_ERROR)
		return dw_fail(dw, "reading a type's children");
	struct mvec m = { 0 };
	uint64_t *dims = NULL;
	size_t ndims = 0;
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = dw_tag(dw, child);
		struct dw_member *x;
		if ((t->kind == DWT_STRUCT || t->kind == DWT_UNION) && tag == DW_TAG_member) {
			if (!(x = mvec_push(dw, &m)))
				err = -HP_ENOMEM;
			else
				err = read_member(dw, child, x);
		} else if (t->kind == DWT_ENUM && tag == DW_TAG_enumerator) {
			if (!(x = mvec_push(dw, &m))) {
				err = -HP_ENOMEM;
			} else {
				x->name = dw_own_name(dw, child);
				if (!dw_sdata(dw, child, DW_AT_const_value, &x->value))
					err = dw_fail(dw, "reading an enumerator");
			}
		} else if (t->kind == DWT_ARRAY && tag == DW_TAG_subrange_type) {
			uint64_t n = 0, ub;
			if (!dw_udata(dw, child, DW_AT_count, &n) &&
			    dw_udata(dw, child, DW_AT_upper_bound, &ub))
				n = ub + 1;
			uint64_t *p = realloc(dims, (ndims + 1) * sizeof *p);
			if (!p) {
				err = hp_nomem(dw->ctx);
			} else {
				dims = p;
				dims[ndims++] = n;
			}
		} else if (t->kind == DWT_FUNC && tag == DW_TAG_formal_parameter) {
			if (!(x = mvec_push(dw, &m))) {
				err = -HP_ENOMEM;
			} else {
				x->name = dw_own_name(dw, child);
				dw_ref(dw, child, DW_AT_type, &x->type);
			}
		} else if (t->kind == DWT_FUNC && tag == DW_TAG_unspecified_parameters) {
			t->varargs = true;
		}
		Dwarf_Die next = NULL;
		rc = dw_next_sibling(dw, child, &next);
		dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
		child = next;
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading a sibling");
	}
	if (!err && m.n) {
		t->members = hp_arena_array(dw->ctx, m.n, sizeof *t->members);
		if (!t->members)
			err = hp_nomem(dw->ctx);
		else
			memcpy(t->members, m.v, m.n * sizeof *m.v);
		t->nmembers = m.n;
	}
	if (!err && ndims) {
		t->dims = hp_arena_array(dw->ctx, ndims, sizeof *t->dims);
		if (!t->dims)
			err = hp_nomem(dw->ctx);
		else
			memcpy(t->dims, dims, ndims * sizeof *dims);
		t->ndims = ndims;
	}
	free(m.v);
	free(dims);
	return err;
}

int dw_type_get(struct dw *dw, uint64_t id, const struct dw_type **out)
{
	*out = &void_type;
	if (!id)
		return 0;
	struct dw_type *t = hp_map_get_u64(&dw->types, id);
	if (t) {
		*out = t;
		return 0;
	}
	Dwarf_Die die;
	int err = dw_die_at(dw, id, &die);
	if (err < 0)
		return err;
	Dwarf_Half tag = dw_tag(dw, die);
	t = hp_arena_alloc(dw->ctx, sizeof *t);
	if (!t) {
		dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
		return hp_nomem(dw->ctx);
	}
	t->id = id;
	t->kind = kind_of(tag);
	t->name = dw_own_name(dw, die);
	if (!t->name && (t->kind == DWT_STRUCT || t->kind == DWT_UNION || t->kind == DWT_ENUM)) {
		const struct dw_cu *cu = dw_cu_of(dw, id);
		if (cu && (t->name = hp_map_get_u64(&cu->typedef_of, id)))
			t->typedef_name = true;
	}
	t->declaration = dw_has(dw, die, DW_AT_declaration);
	if (!dw_udata(dw, die, DW_AT_byte_size, &t->size) && t->kind == DWT_POINTER)
		t->size = 8;
	uint64_t enc = 0;
	if (t->kind == DWT_BASE && dw_udata(dw, die, DW_AT_encoding, &enc))
		t->encoding = (uint32_t)enc;
	dw_ref(dw, die, DW_AT_type, &t->target);
	dw_decl(dw, die, &t->decl_file, &t->decl_line);
	/* Stored before its children are read: a member's type may lead back here. */
	if ((err = hp_map_put_u64(dw->ctx, &dw->types, id, t, NULL)) < 0) {
		dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
		return err;
	}
	if (t->kind == DWT_STRUCT || t->kind == DWT_UNION || t->kind == DWT_ENUM ||
	    t->kind == DWT_ARRAY || t->kind == DWT_FUNC)
		err = read_children(dw, die, t);
	dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
	if (err < 0)
		return err;
	*out = t;
	return 0;
}

int dw_type_find(struct dw *dw, const char *cu, enum dwt_kind kind, const char *name,
		 uint64_t *out)
{
	*out = 0;
	if (!dw->ncus || !name)
		return 0;
	const struct dw_cu *u = &dw->cus[0];
	for (size_t i = 0; cu && i < dw->ncus; i++)
		if (!strcmp(dw->cus[i].name, cu)) {
			u = &dw->cus[i];
			break;
		}
	const char *key = dw_type_key(dw->ctx, kind, name);
	if (!key)
		return hp_nomem(dw->ctx);
	uint64_t v = (uint64_t)(uintptr_t)hp_map_get(&u->types, key);
	if (v) {
		*out = (v & ~(1ull << 63)) - 1;
		return 0;
	}
	/* typedef struct { ... } name: the struct is anonymous, the typedef names it. */
	if (kind == DWT_STRUCT || kind == DWT_UNION || kind == DWT_ENUM) {
		if (!(key = dw_type_key(dw->ctx, DWT_TYPEDEF, name)))
			return hp_nomem(dw->ctx);
		v = (uint64_t)(uintptr_t)hp_map_get(&u->types, key);
		const struct dw_type *td, *t;
		int err;
		if (!v || (err = dw_type_get(dw, (v & ~(1ull << 63)) - 1, &td)) < 0 ||
		    (err = dw_type_get(dw, td->target, &t)) < 0)
			return v ? err : 0;
		if (t->kind == kind && t->typedef_name && !strcmp(t->name, name))
			*out = t->id;
	}
	return 0;
}

int dw_type_strip(struct dw *dw, uint64_t id, const struct dw_type **out)
{
	const struct dw_type *t;
	for (int depth = 0;; depth++) {
		int err = dw_type_get(dw, id, &t);
		if (err < 0)
			return err;
		if (depth > MAX_TYPE_DEPTH ||
		    (t->kind != DWT_TYPEDEF && t->kind != DWT_CONST && t->kind != DWT_VOLATILE &&
		     t->kind != DWT_RESTRICT && t->kind != DWT_ATOMIC))
			break;
		id = t->target;
	}
	*out = t;
	return 0;
}

static int size_of(struct dw *dw, uint64_t id, uint64_t *out, int depth)
{
	const struct dw_type *t;
	int err = dw_type_strip(dw, id, &t);
	*out = 0;
	if (err < 0 || depth > MAX_TYPE_DEPTH)
		return err;
	if (t->kind != DWT_ARRAY || t->size) {
		*out = t->size;
		return 0;
	}
	uint64_t n = 1, elem;
	for (size_t i = 0; i < t->ndims; i++)
		if (__builtin_mul_overflow(n, t->dims[i], &n))
			return 0;
	if ((err = size_of(dw, t->target, &elem, depth + 1)) < 0)
		return err;
	if (__builtin_mul_overflow(n, elem, out))
		*out = 0;
	return 0;
}

int dw_type_sizeof(struct dw *dw, uint64_t id, uint64_t *out)
{
	return size_of(dw, id, out, 0);
}

/* ----- spelling a type as C writes it ---------------------------------- */

/* dst = a b c, cut to cap - 1 bytes (the parts may overlap dst: copied first). */
static void bcat(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
	char tmp[1024];
	size_t o = 0;
	const char *parts[3] = { a, b, c };
	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p && o < sizeof tmp - 1; p++)
			tmp[o++] = *p;
	if (o > cap - 1)
		o = cap - 1;
	memcpy(dst, tmp, o);
	dst[o] = 0;
}

/* "int *p", "int[4]": a space before a declarator, none before brackets. */
static const char *sep(const char *inner)
{
	return inner[0] && inner[0] != '[' ? " " : "";
}

/*
 * Spell type id around the declarator inner ("" at the top): C writes the base
 * type first, then pointers, then arrays and parameter lists, with parentheses
 * where a pointer applies to an array or a function.
 */
static int spell(struct dw *dw, uint64_t id, bool resolve, const char *inner, char *out,
		 size_t cap, int depth)
{
	const struct dw_type *t;
	int err = dw_type_get(dw, id, &t);
	if (err < 0)
		return err;
	if (depth > MAX_TYPE_DEPTH) {
		bcat(out, cap, "...", inner[0] ? " " : "", inner);
		return 0;
	}
	char tmp[512];
	const char *kw = NULL;
	switch (t->kind) {
	case DWT_TYPEDEF:
		if (resolve)
			return spell(dw, t->target, resolve, inner, out, cap, depth + 1);
		/* fall through */
	case DWT_VOID:
	case DWT_BASE:
	case DWT_OTHER:
		bcat(out, cap, t->name ? t->name : "?", sep(inner), inner);
		return 0;
	case DWT_STRUCT:
	case DWT_UNION:
	case DWT_ENUM:
		kw = t->kind == DWT_STRUCT ? "struct" : t->kind == DWT_UNION ? "union" : "enum";
		if (t->typedef_name)
			snprintf(tmp, sizeof tmp, "%s", t->name);
		else
			snprintf(tmp, sizeof tmp, "%s %s", kw, t->name ? t->name : "{...}");
		bcat(out, cap, tmp, sep(inner), inner);
		return 0;
	case DWT_CONST:
	case DWT_VOLATILE:
	case DWT_RESTRICT:
	case DWT_ATOMIC: {
		kw = t->kind == DWT_CONST      ? "const"
		     : t->kind == DWT_VOLATILE ? "volatile"
		     : t->kind == DWT_RESTRICT ? "restrict"
					       : "_Atomic";
		const struct dw_type *u;
		if ((err = dw_type_get(dw, t->target, &u)) < 0)
			return err;
		if (u->kind == DWT_POINTER) {
			/* char *const p: the qualifier follows the star. */
			bcat(tmp, sizeof tmp, kw, inner[0] ? " " : "", inner);
			return spell(dw, t->target, resolve, tmp, out, cap, depth + 1);
		}
		char base[512];
		if ((err = spell(dw, t->target, resolve, inner, base, sizeof base, depth + 1)) < 0)
			return err;
		bcat(out, cap, kw, " ", base);
		return 0;
	}
	case DWT_POINTER: {
		const struct dw_type *u;
		if ((err = dw_type_get(dw, t->target, &u)) < 0)
			return err;
		if (u->kind == DWT_ARRAY || u->kind == DWT_FUNC)
			bcat(tmp, sizeof tmp, "(*", inner, ")");
		else
			bcat(tmp, sizeof tmp, "*", inner, "");
		return spell(dw, t->target, resolve, tmp, out, cap, depth + 1);
	}
	case DWT_ARRAY: {
		size_t o = (size_t)snprintf(tmp, sizeof tmp, "%s", inner);
		for (size_t i = 0; i < t->ndims && o < sizeof tmp; i++) {
			if (t->dims[i])
				o += (size_t)snprintf(tmp + o, sizeof tmp - o, "[%llu]",
						      (unsigned long long)t->dims[i]);
			else
				o += (size_t)snprintf(tmp + o, sizeof tmp - o, "[]");
		}
		return spell(dw, t->target, resolve, tmp, out, cap, depth + 1);
	}
	case DWT_FUNC: {
		size_t o = (size_t)snprintf(tmp, sizeof tmp, "%s(", inner);
		for (size_t i = 0; i < t->nmembers && o < sizeof tmp; i++) {
			char p[512];
			if ((err = spell(dw, t->members[i].type, resolve, "", p, sizeof p,
					 depth + 1)) < 0)
				return err;
			o += (size_t)snprintf(tmp + o, sizeof tmp - o, "%s%s", i ? ", " : "", p);
		}
		if (o < sizeof tmp)
			o += (size_t)snprintf(tmp + o, sizeof tmp - o, "%s)",
					      t->varargs ? (t->nmembers ? ", ..." : "...")
					      : t->nmembers ? "" : "void");
		return spell(dw, t->target, resolve, tmp, out, cap, depth + 1);
	}
	}
	bcat(out, cap, "?", "", "");
	return 0;
}

int dw_type_spell(struct dw *dw, uint64_t id, bool resolve, const char **out)
{
	char s[512];
	*out = NULL;
	int err = spell(dw, id, resolve, "", s, sizeof s, 0);
	if (err < 0)
		return err;
	*out = hp_arena_strdup(dw->ctx, s);
	return *out ? 0 : hp_nomem(dw->ctx);
}

/* ===================================================================== */
/* Variables                                                              */
/* ===================================================================== */

/* A flag on die or on the DIE its specification / abstract origin names. */
static bool flag_via(struct dw *dw, Dwarf_Die die, Dwarf_Half at)
{
	if (dw_has(dw, die, at))
		return true;
	uint64_t off;
	Dwarf_Die t;
	if (!dw_ref(dw, die, DW_AT_specification, &off) && !dw_ref(dw, die, DW_AT_abstract_origin, &off))
		return false;
	if (dwarf_offdie_b(dw->dbg, off, 1, &t, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return false;
	}
	bool b = dw_has(dw, t, at);
	dwarf_dealloc(dw->dbg, t, DW_DLA_DIE);
	return b;
}

static const struct dw_at *find_var(const struct dw *dw, uint64_t addr)
{
	size_t lo = 0, hi = dw->nvars;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dw->vars[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < dw->nvars && dw->vars[lo].addr == addr ? &dw->vars[lo] : NULL;
}

int dw_var_at(struct dw *dw, const struct obj_sec *sec, uint64_t off, const struct dw_var **out)
{
	*out = NULL;
	if (dw->failed)
		return dw->failed;
	uint64_t addr = dw_sec_to_addr(dw, sec, off);
	const struct dw_at *at = find_var(dw, addr);
	int err;
	if (!at && !dw->deep) {
		/* Not at the top level: a static inside a function, found through the
		 * functions whose code refers to it, or made by the compiler. */
		bool complete;
		if ((err = dw_index_statics(dw, sec, &complete)) < 0)
			return err;
		at = find_var(dw, addr);
		if (!at && !complete) {
			if ((err = dw_index_deep(dw)) < 0)
				return err;
			at = find_var(dw, addr);
		}
	}
	if (!at)
		return 0;
	/* Keyed by address: the pieces of a split variable share one DIE. */
	struct dw_var *v = hp_map_get_u64(&dw->varmodels, addr);
	if (v) {
		*out = v;
		return 0;
	}
	Dwarf_Die die;
	if ((err = dw_die_at(dw, at->die, &die)) < 0)
		return err;
	v = hp_arena_alloc(dw->ctx, sizeof *v);
	if (!v) {
		dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
		return hp_nomem(dw->ctx);
	}
	v->id = at->die;
	v->name = dw_name(dw, die);
	dw_ref_via_origin(dw, die, DW_AT_type, &v->type);
	v->sec = (struct obj_sec *)sec;
	v->offset = off;
	v->external = flag_via(dw, die, DW_AT_external);
	v->artificial = flag_via(dw, die, DW_AT_artificial);
	struct dw_loc locs[64];
	size_t n = dw_static_locations(dw, die, locs, 64, &v->tls);
	v->piece = at->piece;
	v->split = n > 1 || at->piece;
	v->transformed = !at->exact;
	if (v->transformed)
		v->encoding = dw_location_shape(dw, die);
	dw_decl(dw, die, &v->decl_file, &v->decl_line);
	dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
	if (at->scope) {
		Dwarf_Die s;
		if ((err = dw_die_at(dw, at->scope, &s)) < 0)
			return err;
		v->scope = dw_name(dw, s);
		dwarf_dealloc(dw->dbg, s, DW_DLA_DIE);
	}
	if ((err = hp_map_put_u64(dw->ctx, &dw->varmodels, addr, v, NULL)) < 0)
		return err;
	*out = v;
	return 0;
}

/* ===================================================================== */
/* Subprograms                                                            */
/* ===================================================================== */

struct lvec {
	struct dw_local *v;
	size_t n, cap;
};

static int lvec_push(struct dw *dw, struct lvec *l, struct dw_local x)
{
	if (hp_grow(dw->ctx, &l->v, &l->cap, l->n, sizeof *l->v, 16) < 0)
		return -HP_ENOMEM;
	l->v[l->n++] = x;
	return 0;
}

static int lvec_move(struct dw *dw, struct lvec *l, struct dw_local **out, size_t *n)
{
	*out = hp_arena_array(dw->ctx, l->n, sizeof **out);
	if (!*out)
		return hp_nomem(dw->ctx);
	if (l->n)
		memcpy(*out, l->v, l->n * sizeof *l->v);
	*n = l->n;
	return 0;
}

static int local_of(struct dw *dw, Dwarf_Die die, bool param, const char *inlined,
		    struct dw_local *out)
{
	memset(out, 0, sizeof *out);
	out->name = dw_name(dw, die);
	out->param = param;
	out->inlined = inlined;
	dw_ref_via_origin(dw, die, DW_AT_type, &out->type);
	const char *file;
	dw_decl(dw, die, &file, &out->decl_line);
	return 0;
}

/* Origins of inlined code already walked (each abstract body once). */
struct seen {
	uint64_t *v;
	size_t n, cap;
};

static bool seen_add(struct seen *s, uint64_t off)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == off)
			return false;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		uint64_t *p = realloc(s->v, cap * sizeof *p);
		if (!p)
			return false;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = off;
	return true;
}

/*
 * Collect the named parameters and variables below die. top: die is the
 * function itself, whose own parameters are not locals. inlined: the function
 * whose inlined body this is.
 */
static int walk_body(struct dw *dw, Dwarf_Die die, bool top, const char *inlined,
		     struct lvec *l, struct seen *seen, int depth)
{
	if (depth > 64)
		return 0;
	Dwarf_Die child = NULL;
	int rc = dwarf_child(die, &child, &dw->err);
	if (rc == DW_DLV_ERROR)
		return dw_fail(dw, "reading a function's body");
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = dw_tag(dw, child);
		struct dw_local x;
		if (tag == DW_TAG_variable || (tag == DW_TAG_formal_parameter && !top)) {
			if (!(err = local_of(dw, child, tag == DW_TAG_formal_parameter, inlined, &x)))
				err = lvec_push(dw, l, x);
		} else if (tag == DW_TAG_lexical_block) {
			err = walk_body(dw, child, false, inlined, l, seen, depth + 1);
		} else if (tag == DW_TAG_inlined_subroutine) {
			const char *name = dw_name(dw, child);
			err = walk_body(dw, child, false, name ? name : "?", l, seen, depth + 1);
			/* What the concrete copy left out (optimized away) is in the origin. */
			uint64_t origin;
			Dwarf_Die o;
			if (!err && dw_ref(dw, child, DW_AT_abstract_origin, &origin) &&
			    seen_add(seen, origin) && !(err = dw_die_at(dw, origin, &o))) {
				err = walk_body(dw, o, false, name ? name : "?", l, seen, depth + 1);
				dwarf_dealloc(dw->dbg, o, DW_DLA_DIE);
			}
		}
		Dwarf_Die next = NULL;
		rc = dw_next_sibling(dw, child, &next);
		dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
		child = next;
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading a sibling");
	}
	return err;
}

/* The declared parameters: the formal_parameter children of sig. */
static int read_params(struct dw *dw, Dwarf_Die sig, struct dw_subprogram *p)
{
	struct lvec l = { 0 };
	Dwarf_Die child = NULL;
	int rc = dwarf_child(sig, &child, &dw->err);
	if (rc == DW_DLV_ERROR)
		return dw_fail(dw, "reading a function's parameters");
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = dw_tag(dw, child);
		struct dw_local x;
		if (tag == DW_TAG_formal_parameter) {
			if (!(err = local_of(dw, child, true, NULL, &x)))
				err = lvec_push(dw, &l, x);
		} else if (tag == DW_TAG_unspecified_parameters) {
			p->varargs = true;
		}
		Dwarf_Die next = NULL;
		rc = dw_next_sibling(dw, child, &next);
		dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
		child = next;
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading a sibling");
	}
	if (!err)
		err = lvec_move(dw, &l, &p->params, &p->nparams);
	free(l.v);
	return err;
}

static int build_subprogram(struct dw *dw, uint64_t off, struct dw_subprogram *p)
{
	Dwarf_Die die, origin = NULL;
	int err = dw_die_at(dw, off, &die);
	if (err < 0)
		return err;
	p->id = off;
	p->name = dw_name(dw, die);
	p->cu = dw_unit_of(dw, off);
	dw_ref_via_origin(dw, die, DW_AT_type, &p->ret);
	p->external = flag_via(dw, die, DW_AT_external);
	dw_decl(dw, die, &p->decl_file, &p->decl_line);
	uint64_t o;
	if (dw_ref(dw, die, DW_AT_abstract_origin, &o) && (err = dw_die_at(dw, o, &origin)) < 0)
		goto out;
	/* A clone or an out-of-line copy of an inline function describes its
	 * parameters by reference to the origin, which has them all. */
	if ((err = read_params(dw, origin ? origin : die, p)) < 0)
		goto out;
	struct lvec l = { 0 };
	struct seen seen = { 0 };
	err = walk_body(dw, die, true, NULL, &l, &seen, 0);
	if (!err && origin)
		err = walk_body(dw, origin, true, NULL, &l, &seen, 0);
	if (!err)
		err = lvec_move(dw, &l, &p->locals, &p->nlocals);
	free(l.v);
	free(seen.v);
	if (!err)
		err = dw_inlines_of(dw, die, &p->inlines, &p->ninlines);
out:
	if (origin)
		dwarf_dealloc(dw->dbg, origin, DW_DLA_DIE);
	dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
	return err;
}

int dw_subprogram_at(struct dw *dw, const struct obj_sec *sec, uint64_t off,
		     const struct dw_subprogram **out)
{
	*out = NULL;
	if (dw->failed)
		return dw->failed;
	size_t i = dw_func_index_at(dw, dw_sec_to_addr(dw, sec, off));
	if (i == dw->nfuncs)
		return 0;
	uint64_t die = dw->funcs[i].die;
	struct dw_subprogram *p = hp_map_get_u64(&dw->subprograms, die);
	if (!p) {
		p = hp_arena_alloc(dw->ctx, sizeof *p);
		if (!p)
			return hp_nomem(dw->ctx);
		int err = build_subprogram(dw, die, p);
		if (err < 0)
			return err;
		if ((err = hp_map_put_u64(dw->ctx, &dw->subprograms, die, p, NULL)) < 0)
			return err;
	}
	*out = p;
	return 0;
}
