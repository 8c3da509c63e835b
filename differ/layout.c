/*
 * layout.c: pass 5, the safety gate. A hot patch replaces code, never data:
 * live objects keep the layout and the values they were created with. This pass
 * finds every change that breaks that (docs/architecture.md), and says exactly
 * what and why, all at once:
 *
 *   tls           a new thread-local variable                      (ELF)
 *   constructor   .init_array/.fini_array/.ctors/.dtors/.preinit_array
 *                 entries added or removed, or their functions changed (ELF)
 *   too-small     a replaced function shorter than the 5-byte jump  (ELF)
 *   variable      an existing variable changed size, type or initial value
 *   type-layout   a type whose layout changed, used by changed or new code
 *   signature     a changed signature that code the patch leaves alone may call the
 *                 old way (callers in other objects, function pointers in data)
 *   not-understood  anything the DWARF cannot settle: refused, never guessed
 *
 * The DWARF of both objects is opened only when something changed, and read
 * only as far as the changed code reaches (formats/dwtypes.c).
 *
 * "Uses a type" means: the function's return value, parameters and locals
 * (those of code inlined into it too) and the globals it touches have that type,
 * or reach it through pointers, arrays, typedefs and members. That is wider than
 * what the code dereferences (which only the instructions say), so the gate
 * errs on the side of refusing. A type is paired with the old build's type of
 * the same kind and name in the same unit; a type new in this build has no live
 * objects and is fine. Its layout is its size and, member by member, name,
 * offset, bit-field position and type (typedefs resolved), anonymous member
 * structs included; an enum's layout is its size and its enumerators' values.
 *
 * Data the compiler made, not the programmer (gcc's CSWTCH.N switch tables:
 * no DW_TAG_variable; __func__: DW_AT_artificial), is not a variable. A running
 * process reads it only through the functions that were compiled with it, so a
 * change to it is a change of those functions: they become CHANGED and the
 * table is marked artificial, and differ_collect() carries the new table with
 * the new code. (clang's switch.table and reltable pieces have no symbol at all
 * and already count as part of their function in compare.c.)
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

/* Changes listed in one message before "and N more" (the JSON has them all). */
#define MAX_TEXT_CHANGES 6

const char *differ_rule_name(enum differ_rule rule)
{
	static const char *const names[] = { "type-layout", "variable", "tls", "constructor",
					     "signature", "too-small", "not-understood" };
	return rule <= DIFFER_RULE_UNKNOWN ? names[rule] : "?";
}

/* The result of comparing one type of new with its old twin, kept per new type. */
struct tcmp {
	bool changed;
	const char *spelled;       /* "struct conn" */
	struct differ_change *changes;
	size_t nchanges;
};

struct cvec {
	struct differ_change *v;
	size_t n, cap;
};

struct layout {
	struct hp_ctx *ctx;
	struct obj *old, *new;
	enum hp_level level;
	struct dw *dwo, *dwn;      /* NULL when the object has no DWARF */
	bool opened;               /* dw_get() was called for both */
	bool no_dwarf_reported;
	struct differ_finding *v;
	size_t n, cap;
	struct hp_map tcmps;       /* new type id (as text) -> struct tcmp */
	struct hp_map seen;        /* "function:type" findings already made */
	struct hp_map vars_seen;   /* variables whose type was compared already */
	int err;                   /* first hard error (unreadable input) */
};

/* ===================================================================== */
/* Findings                                                               */
/* ===================================================================== */

static int cvec_push(struct layout *l, struct cvec *c, const char *member, const char *what,
		     const char *old, const char *new)
{
	if (hp_arena_grow(l->ctx, &c->v, &c->cap, c->n, sizeof *c->v, 8) < 0)
		return -HP_ENOMEM;
	c->v[c->n++] = (struct differ_change){ member, what, old, new };
	return 0;
}

/* "member 'len' offset 8 -> 12", the way one change reads in a message. */
static const char *change_text(struct layout *l, const struct differ_change *c)
{
	char member[256] = "";
	if (c->member && c->member[0] == '[')
		snprintf(member, sizeof member, "element %s ", c->member);
	else if (c->member)
		snprintf(member, sizeof member, "member '%s' ", c->member);
	if (c->old && c->new)
		return hp_arena_printf(l->ctx, "%s%s %s -> %s", member, c->what, c->old, c->new);
	if (c->new)
		return hp_arena_printf(l->ctx, "%s%s %s", member, c->what, c->new);
	if (c->old)
		return hp_arena_printf(l->ctx, "%s%s (was %s)", member, c->what, c->old);
	return hp_arena_printf(l->ctx, "%s%s", member, c->what);
}

/* "a, b, c and 3 more" */
static const char *changes_text(struct layout *l, const struct differ_change *c, size_t n)
{
	char buf[2048];
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && i < MAX_TEXT_CHANGES && o < sizeof buf; i++) {
		const char *t = change_text(l, &c[i]);
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? ", " : "", t ? t : "?");
	}
	if (n > MAX_TEXT_CHANGES && o < sizeof buf)
		snprintf(buf + o, sizeof buf - o, " and %zu more", n - MAX_TEXT_CHANGES);
	return hp_arena_strdup(l->ctx, buf);
}

/* " (file.c:12)" or "" */
static const char *at_text(struct layout *l, const char *file, uint32_t line)
{
	if (!file)
		return "";
	return line ? hp_arena_printf(l->ctx, " (%s:%u)", file, line)
		    : hp_arena_printf(l->ctx, " (%s)", file);
}

/* Record a finding and its diagnostic. text is "what; why". */
HP_PRINTF(4, 5)
static int add_finding(struct layout *l, struct differ_finding f, const char *where,
		       const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	f.text = hp_arena_strdup(l->ctx, buf);
	if (!f.text)
		return hp_nomem(l->ctx);
	if (hp_arena_grow(l->ctx, &l->v, &l->cap, l->n, sizeof *l->v, 16) < 0)
		return -HP_ENOMEM;
	l->v[l->n++] = f;
	hp_diag_add(l->ctx, l->level, l->level == HP_LEVEL_ERROR ? HP_EUNPATCHABLE : 0, where,
		    f.file, f.symbol, "%s", f.text);
	return 0;
}

#define FINDING(l, f, ...) add_finding(l, f, HP_WHERE, __VA_ARGS__)

/*
 * A DWARF problem we do not handle (-HP_EUNSUPPORTED) is a finding: refused,
 * not an error of the tool. Corrupt input stays an error.
 */
static int unsupported(struct layout *l, int err, const struct obj_sym *s)
{
	if (err != -HP_EUNSUPPORTED)
		return err;
	const char *why = l->ctx->ndiags ? l->ctx->diags[l->ctx->ndiags - 1].text : "?";
	struct differ_finding f = { DIFFER_RULE_UNKNOWN, l->new->path, s ? s->name : NULL };
	return FINDING(l, f, "%s; not understood, so not patched", why);
}

/* ===================================================================== */
/* Opening the DWARF                                                      */
/* ===================================================================== */

/* Open both objects' DWARF; false (after one finding) when either has none. */
static bool need_dwarf(struct layout *l, const struct obj_sym *for_sym)
{
	if (!l->opened) {
		l->opened = true;
		int err = dw_get(l->ctx, l->new, &l->dwn);
		if (err == 0)
			err = dw_get(l->ctx, l->old, &l->dwo);
		if (err < 0) {
			l->err = err;
			l->dwn = l->dwo = NULL;
		}
	}
	if (l->err)
		return false;
	if (l->dwn && l->dwo)
		return true;
	if (!l->no_dwarf_reported) {
		l->no_dwarf_reported = true;
		struct differ_finding f = { DIFFER_RULE_UNKNOWN, l->dwn ? l->old->path : l->new->path };
		f.symbol = for_sym ? for_sym->name : NULL;
		int err = FINDING(l, f,
				  "has no DWARF (.debug_info), so the layout of the data the changes touch cannot be checked; build both objects with -g");
		if (err < 0)
			l->err = err;
	}
	return false;
}

/*
 * Sections that refer to code without running it: unwind tables. (Debug
 * sections are not allocated and never looked at here.)
 */
static bool is_metadata(const struct obj_sec *s)
{
	return s->type == SHT_X86_64_UNWIND || !strcmp(s->name, ".eh_frame");
}

/* ===================================================================== */
/* ELF rules: thread-locals, constructors, small functions                 */
/* ===================================================================== */

static bool is_tls(const struct obj_sym *s)
{
	return s->type == STT_TLS || (s->sec && (s->sec->flags & SHF_TLS));
}

/*
 * Common symbols (-fcommon): zero-filled variables the static linker
 * allocated. The compare pass sees none of them; here each variable with a
 * common symbol on either side must keep its size and start zero-filled, and a
 * new one cannot come: the patch has no linker to allocate it.
 */
static int check_common(struct layout *l)
{
	for (size_t i = 1; i < l->new->nsyms; i++) {
		struct obj_sym *n = &l->new->syms[i];
		const struct obj_sym *o = n->twin;
		bool common = obj_sym_is_common(n);
		if (!common && !(o && obj_sym_is_data(n) && obj_sym_is_common(o)))
			continue;
		struct differ_finding f = { DIFFER_RULE_VARIABLE, l->new->path, n->name };
		f.entity = hp_arena_printf(l->ctx, "variable '%s'", n->name);
		int err;
		if (!o) {
			f.rule = DIFFER_RULE_UNKNOWN;
			err = FINDING(l, f, "new common symbol (built with -fcommon); the static linker allocates those and a patch has none; build with -fno-common and it travels in the patch");
		} else if (!common) {
			if (n->status != OBJ_CHANGED)
				continue;
			err = FINDING(l, f, "%s changed: %s; the running process holds the old one, zero-filled",
				      f.entity, n->why);
		} else if (o->size != n->size) {
			err = FINDING(l, f, "%s changed: size %llu -> %llu (a common symbol); the running process holds only the old %llu bytes",
				      f.entity, (unsigned long long)o->size, (unsigned long long)n->size,
				      (unsigned long long)o->size);
		} else if (!obj_sym_is_common(o) && o->sec->type != SHT_NOBITS) {
			err = FINDING(l, f, "%s changed: initialized in %s -> a common symbol (zero-filled); the running process keeps its current value",
				      f.entity, o->sec->name);
		} else {
			continue;
		}
		if (err < 0)
			return err;
	}
	return 0;
}

static int check_tls(struct layout *l)
{
	for (size_t i = 1; i < l->new->nsyms; i++) {
		struct obj_sym *s = &l->new->syms[i];
		if (!obj_sym_is_data(s) || !is_tls(s) || s->status != OBJ_NEW)
			continue;
		struct differ_finding f = { DIFFER_RULE_TLS, l->new->path, s->name };
		f.entity = hp_arena_printf(l->ctx, "variable '%s'", s->name);
		const struct dw_var *v = NULL;
		struct dw *dw;
		if (dw_get(l->ctx, l->new, &dw) == 0 && dw && dw_var_at(dw, s->sec, s->value, &v) == 0 &&
		    v) {
			f.decl_file = v->decl_file;
			f.decl_line = v->decl_line;
		}
		int err = FINDING(l, f,
				  "new thread-local variable%s; the threads of a running process cannot grow their TLS blocks",
				  at_text(l, f.decl_file, f.decl_line));
		if (err < 0)
			return err;
	}
	return 0;
}

/* Constructor and destructor tables, and what their entries are called. */
static const char *table_kind(const struct obj_sec *s)
{
	static const struct {
		const char *prefix, *kind;
	} tables[] = {
		{ ".preinit_array", "constructor" }, { ".init_array", "constructor" },
		{ ".ctors", "constructor" },         { ".fini_array", "destructor" },
		{ ".dtors", "destructor" },
	};
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		size_t n = strlen(tables[i].prefix);
		if (!strncmp(s->name, tables[i].prefix, n) && (!s->name[n] || s->name[n] == '.'))
			return tables[i].kind;
	}
	if (!strcmp(s->name, ".init") || !strcmp(s->name, ".fini"))
		return "startup code";
	return NULL;
}

/* The function an entry of a table refers to, or NULL. */
static int table_target(struct layout *l, const struct obj *obj, const struct obj_sec *sec,
			const struct obj_rel *r, const struct obj_sym **out)
{
	struct differ_ref ref;
	*out = NULL;
	int err = differ_resolve(l->ctx, obj, sec, r, &ref);
	if (err < 0)
		return err;
	if (ref.kind == DIFFER_REF_SYM && obj_sym_is_func(ref.sym) && ref.off == 0)
		*out = ref.sym;
	return 0;
}

/* Is f (a function of obj) the target of an entry of a table like sec? */
static int in_table(struct layout *l, const struct obj *obj, const char *name,
		    const struct obj_sym *f, bool *out)
{
	*out = false;
	for (size_t i = 1; i < obj->nsecs && !*out; i++) {
		const struct obj_sec *t = &obj->secs[i];
		if (strcmp(t->name, name))
			continue;
		for (size_t k = 0; k < t->nrels; k++) {
			const struct obj_sym *x;
			int err = table_target(l, obj, t, &t->rels[k], &x);
			if (err < 0)
				return err;
			if (x == f)
				*out = true;
		}
	}
	return 0;
}

static int check_tables(struct layout *l)
{
	int err;
	/* Entries of new not in old, and functions listed that changed. */
	for (int side = 0; side < 2; side++) {
		const struct obj *a = side ? l->old : l->new, *b = side ? l->new : l->old;
		for (size_t i = 1; i < a->nsecs; i++) {
			const struct obj_sec *t = &a->secs[i];
			const char *kind = table_kind(t);
			if (!kind)
				continue;
			if (!strcmp(kind, "startup code")) {
				const struct obj_sec *tw = obj_find_sec(b, t->name);
				if (side == 0 && (!tw || tw->size != t->size ||
						  (t->data && tw->data && memcmp(t->data, tw->data, t->size)))) {
					struct differ_finding f = { DIFFER_RULE_CONSTRUCTOR, l->new->path };
					f.entity = t->name;
					if ((err = FINDING(l, f,
							   "section %s changed; it runs once, when the program starts or exits, and cannot be patched",
							   t->name)) < 0)
						return err;
				}
				continue;
			}
			for (size_t k = 0; k < t->nrels; k++) {
				const struct obj_sym *x;
				if ((err = table_target(l, a, t, &t->rels[k], &x)) < 0)
					return err;
				struct differ_finding f = { DIFFER_RULE_CONSTRUCTOR, l->new->path };
				f.entity = t->name;
				if (!x) {
					if (side)
						continue;
					if ((err = FINDING(l, f,
							   "an entry of %s refers to something other than a function; not understood",
							   t->name)) < 0)
						return err;
					continue;
				}
				bool present = false;
				if (x->twin && (err = in_table(l, b, t->name, x->twin, &present)) < 0)
					return err;
				f.symbol = x->name;
				if (side == 0 && !present) {
					err = FINDING(l, f,
						      "new %s in %s; the running process %s and will never run it",
						      kind, t->name,
						      !strcmp(kind, "destructor")
							      ? "registered its destructors when it started"
							      : "ran its constructors when it started");
				} else if (side == 1 && !present) {
					f.file = l->old->path;
					err = FINDING(l, f, "%s removed from %s; the running process %s", kind,
						      t->name,
						      !strcmp(kind, "destructor")
							      ? "would still run it at exit"
							      : "ran it already, and a patch cannot undo that");
				} else if (side == 0 && x->status == OBJ_CHANGED) {
					err = FINDING(l, f, "%s changed; %s", kind,
						      !strcmp(kind, "destructor")
							      ? "what runs at exit is not patched"
							      : "it ran when the process started, so the change would never take effect");
				}
				if (err < 0)
					return err;
			}
		}
	}
	return 0;
}

static int check_small(struct layout *l)
{
	for (size_t i = 1; i < l->new->nsyms; i++) {
		const struct obj_sym *s = &l->new->syms[i];
		if (!obj_sym_is_func(s) || s->status != OBJ_CHANGED || s->parent || !s->twin ||
		    s->twin->size >= 5)
			continue;
		struct differ_finding f = { DIFFER_RULE_TOO_SMALL, l->old->path, s->twin->name };
		struct cvec c = { 0 };
		int err = cvec_push(l, &c, NULL, "size",
				    hp_arena_printf(l->ctx, "%llu", (unsigned long long)s->twin->size),
				    hp_arena_printf(l->ctx, "%llu", (unsigned long long)s->size));
		if (err < 0)
			return err;
		f.changes = c.v;
		f.nchanges = c.n;
		if ((err = FINDING(l, f, DIFFER_TOO_SMALL_FMT, (unsigned long long)s->twin->size)) < 0)
			return err;
	}
	return 0;
}

/* ===================================================================== */
/* Comparing types                                                        */
/* ===================================================================== */

static const char *spell(struct layout *l, struct dw *dw, uint64_t id, bool resolve)
{
	(void)l;
	const char *s = NULL;
	if (dw_type_spell(dw, id, resolve, &s) < 0)
		return "?";
	return s;
}

static const char *u64s(struct layout *l, uint64_t v)
{
	return hp_arena_printf(l->ctx, "%llu", (unsigned long long)v);
}

static const char *join(struct layout *l, const char *prefix, const char *name)
{
	if (!prefix || !prefix[0])
		return name;
	return hp_arena_printf(l->ctx, "%s.%s", prefix, name);
}

static bool anonymous(const struct dw_type *t)
{
	return !t->name || t->typedef_name;
}

static int cmp_layout(struct layout *l, const struct dw_type *o, const struct dw_type *n,
		      const char *prefix, struct cvec *c, int depth);

/* The member of o matching n->members[k]: by name, or the i-th anonymous one. */
static const struct dw_member *match_member(const struct dw_type *o, const struct dw_type *n,
					    size_t k)
{
	const struct dw_member *m = &n->members[k];
	if (m->name) {
		for (size_t i = 0; i < o->nmembers; i++)
			if (o->members[i].name && !strcmp(o->members[i].name, m->name))
				return &o->members[i];
		return NULL;
	}
	size_t nth = 0;
	for (size_t i = 0; i < k; i++)
		nth += !n->members[i].name;
	for (size_t i = 0; i < o->nmembers; i++)
		if (!o->members[i].name && nth-- == 0)
			return &o->members[i];
	return NULL;
}

static const char *bits_text(struct layout *l, const struct dw_member *m)
{
	return hp_arena_printf(l->ctx, "bits %llu..%llu", (unsigned long long)m->bit_offset,
			       (unsigned long long)(m->bit_offset + m->bit_size - 1));
}

static int cmp_members(struct layout *l, const struct dw_type *o, const struct dw_type *n,
		       const char *prefix, struct cvec *c, int depth)
{
	int err;
	for (size_t k = 0; k < n->nmembers; k++) {
		const struct dw_member *nm = &n->members[k], *om = match_member(o, n, k);
		const char *name = join(l, prefix, nm->name ? nm->name : "(anonymous)");
		if (!om) {
			if ((err = cvec_push(l, c, name, "added at offset", NULL,
					     u64s(l, nm->offset))) < 0)
				return err;
			continue;
		}
		if (nm->bit_size || om->bit_size) {
			if ((nm->bit_size != om->bit_size || nm->bit_offset != om->bit_offset) &&
			    (err = cvec_push(l, c, name, "bit-field",
					     om->bit_size ? bits_text(l, om) : "not a bit-field",
					     nm->bit_size ? bits_text(l, nm) : "not a bit-field")) < 0)
				return err;
		} else if (nm->offset != om->offset &&
			   (err = cvec_push(l, c, name, "offset", u64s(l, om->offset),
					    u64s(l, nm->offset))) < 0) {
			return err;
		}
		const char *os = spell(l, l->dwo, om->type, true), *ns = spell(l, l->dwn, nm->type, true);
		if (strcmp(os, ns)) {
			if ((err = cvec_push(l, c, name, "type", spell(l, l->dwo, om->type, false),
					     spell(l, l->dwn, nm->type, false))) < 0)
				return err;
			continue;
		}
		/* Same spelling: an anonymous struct or union inside is part of this layout. */
		const struct dw_type *ot, *nt;
		if ((err = dw_type_strip(l->dwo, om->type, &ot)) < 0 ||
		    (err = dw_type_strip(l->dwn, nm->type, &nt)) < 0)
			return err;
		while (nt->kind == DWT_ARRAY && ot->kind == DWT_ARRAY) {
			if ((err = dw_type_strip(l->dwo, ot->target, &ot)) < 0 ||
			    (err = dw_type_strip(l->dwn, nt->target, &nt)) < 0)
				return err;
		}
		if ((nt->kind == DWT_STRUCT || nt->kind == DWT_UNION) && !nt->name &&
		    (err = cmp_layout(l, ot, nt, nm->name ? name : prefix, c, depth + 1)) < 0)
			return err;
	}
	for (size_t i = 0; i < o->nmembers; i++) {
		const struct dw_member *om = &o->members[i];
		bool found = false;
		if (om->name) {
			for (size_t k = 0; k < n->nmembers && !found; k++)
				found = n->members[k].name && !strcmp(n->members[k].name, om->name);
		} else {
			size_t nth = 0, have = 0;
			for (size_t j = 0; j < i; j++)
				nth += !o->members[j].name;
			for (size_t k = 0; k < n->nmembers; k++)
				have += !n->members[k].name;
			found = nth < have;
		}
		if (!found && (err = cvec_push(l, c, join(l, prefix, om->name ? om->name : "(anonymous)"),
					       "removed", u64s(l, om->offset), NULL)) < 0)
			return err;
	}
	return 0;
}

/*
 * Compare the layouts of o (old) and n (new), appending each difference to c.
 * Named types met inside are compared by spelling only: they are types of
 * their own, checked on their own when reached.
 */
static int cmp_layout(struct layout *l, const struct dw_type *o, const struct dw_type *n,
		      const char *prefix, struct cvec *c, int depth)
{
	int err;
	if (depth > 16)
		return 0;
	if (o->kind != n->kind)
		return cvec_push(l, c, prefix && prefix[0] ? prefix : NULL, "kind",
				 spell(l, l->dwo, o->id, false), spell(l, l->dwn, n->id, false));
	if (n->kind == DWT_TYPEDEF) {
		const struct dw_type *ot, *nt;
		if ((err = dw_type_get(l->dwo, o->target, &ot)) < 0 ||
		    (err = dw_type_get(l->dwn, n->target, &nt)) < 0)
			return err;
		if (anonymous(nt) && anonymous(ot) && nt->kind == ot->kind)
			return cmp_layout(l, ot, nt, prefix, c, depth + 1);
		const char *os = spell(l, l->dwo, o->target, true), *ns = spell(l, l->dwn, n->target, true);
		if (strcmp(os, ns))
			return cvec_push(l, c, NULL, "names", spell(l, l->dwo, o->target, false),
					 spell(l, l->dwn, n->target, false));
		return 0;
	}
	uint64_t os = 0, ns = 0;
	if ((err = dw_type_sizeof(l->dwo, o->id, &os)) < 0 ||
	    (err = dw_type_sizeof(l->dwn, n->id, &ns)) < 0)
		return err;
	if (os != ns && (err = cvec_push(l, c, prefix && prefix[0] ? prefix : NULL, "size",
					 u64s(l, os), u64s(l, ns))) < 0)
		return err;
	switch (n->kind) {
	case DWT_STRUCT:
	case DWT_UNION:
		return cmp_members(l, o, n, prefix, c, depth);
	case DWT_ENUM:
		for (size_t k = 0; k < o->nmembers; k++) {
			const struct dw_member *om = &o->members[k], *nm = NULL;
			for (size_t j = 0; j < n->nmembers && !nm; j++)
				if (om->name && n->members[j].name && !strcmp(om->name, n->members[j].name))
					nm = &n->members[j];
			const char *name = om->name ? om->name : "?";
			if (!nm)
				err = cvec_push(l, c, NULL,
						hp_arena_printf(l->ctx, "enumerator '%s' removed", name),
						hp_arena_printf(l->ctx, "%lld", (long long)om->value),
						NULL);
			else if (nm->value != om->value)
				err = cvec_push(l, c, NULL,
						hp_arena_printf(l->ctx, "enumerator '%s' value", name),
						hp_arena_printf(l->ctx, "%lld", (long long)om->value),
						hp_arena_printf(l->ctx, "%lld", (long long)nm->value));
			if (err < 0)
				return err;
		}
		return 0;
	case DWT_BASE:
		if (o->encoding != n->encoding || (o->name && n->name && strcmp(o->name, n->name)))
			return cvec_push(l, c, NULL, "type", o->name, n->name);
		return 0;
	default:
		return 0;
	}
}

/* ===================================================================== */
/* Reaching types from code                                               */
/* ===================================================================== */

/* One function's walk over the types it reaches. */
struct reach {
	const struct obj_sym *fn;
	const char *root;          /* "parameter 'c'" */
	const char *path[16];      /* members followed from the root */
	size_t npath;
	struct hp_map visited;     /* type ids (as text) already walked for fn */
};

static const char *via_text(struct layout *l, const struct reach *r)
{
	char buf[1024];
	size_t o = (size_t)snprintf(buf, sizeof buf, "%s", r->root);
	for (size_t i = 0; i < r->npath && o < sizeof buf; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, " -> member '%s'", r->path[i]);
	return hp_arena_strdup(l->ctx, buf);
}

static const char *idkey(struct layout *l, uint64_t id)
{
	return hp_arena_printf(l->ctx, "%llx", (unsigned long long)id);
}

/* Compare a named type of new with the old type of that kind and name (memoized). */
static int check_named(struct layout *l, const struct dw_type *t, const struct tcmp **out)
{
	*out = NULL;
	const char *key = idkey(l, t->id);
	if (!key)
		return hp_nomem(l->ctx);
	struct tcmp *r = hp_map_get(&l->tcmps, key);
	if (r) {
		*out = r;
		return 0;
	}
	r = hp_arena_alloc(l->ctx, sizeof *r);
	if (!r)
		return hp_nomem(l->ctx);
	int err = hp_map_put(l->ctx, &l->tcmps, key, r, NULL);
	if (err < 0)
		return err;
	*out = r;
	r->spelled = spell(l, l->dwn, t->id, false);
	if (t->declaration)
		return 0; /* opaque here: no layout to compare */
	uint64_t oid;
	if ((err = dw_type_find(l->dwo, dw_unit_of(l->dwn, t->id), t->kind, t->name, &oid)) < 0)
		return err;
	if (!oid)
		return 0; /* a type new in this build: nothing live has it */
	const struct dw_type *o;
	if ((err = dw_type_get(l->dwo, oid, &o)) < 0)
		return err;
	if (o->declaration)
		return 0;
	struct cvec c = { 0 };
	if ((err = cmp_layout(l, o, t, NULL, &c, 0)) < 0)
		return err;
	r->changed = c.n > 0;
	r->changes = c.v;
	r->nchanges = c.n;
	return 0;
}

static int report_type(struct layout *l, struct reach *r, const struct dw_type *t,
		       const struct tcmp *tc)
{
	const char *key = hp_arena_printf(l->ctx, "%u:%llx", r->fn->index, (unsigned long long)t->id);
	if (!key)
		return hp_nomem(l->ctx);
	if (hp_map_get(&l->seen, key))
		return 0;
	int err = hp_map_put(l->ctx, &l->seen, key, (void *)1, NULL);
	if (err < 0)
		return err;
	struct differ_finding f = { DIFFER_RULE_TYPE_LAYOUT, l->new->path, r->fn->name };
	f.entity = tc->spelled;
	f.via = via_text(l, r);
	f.decl_file = t->decl_file;
	f.decl_line = t->decl_line;
	f.changes = tc->changes;
	f.nchanges = tc->nchanges;
	return FINDING(l, f,
		       "uses %s%s through %s, and its layout changed: %s; objects of the running process keep the old layout",
		       tc->spelled, at_text(l, t->decl_file, t->decl_line), f.via,
		       changes_text(l, tc->changes, tc->nchanges));
}

static int reach_type(struct layout *l, struct reach *r, uint64_t id, int depth)
{
	if (!id || depth > 64)
		return 0;
	const char *key = idkey(l, id);
	if (!key)
		return hp_nomem(l->ctx);
	if (hp_map_get(&r->visited, key))
		return 0;
	int err = hp_map_put(l->ctx, &r->visited, key, (void *)1, NULL);
	if (err < 0)
		return err;
	const struct dw_type *t;
	if ((err = dw_type_get(l->dwn, id, &t)) < 0)
		return err;
	const struct tcmp *tc;
	switch (t->kind) {
	case DWT_STRUCT:
	case DWT_UNION:
	case DWT_ENUM:
	case DWT_TYPEDEF:
		if (t->kind == DWT_TYPEDEF) {
			/* typedef struct {...} name: the struct has the name and is checked
			 * when reached; the typedef adds nothing to say. */
			const struct dw_type *u;
			if ((err = dw_type_get(l->dwn, t->target, &u)) < 0)
				return err;
			if ((u->kind == DWT_STRUCT || u->kind == DWT_UNION || u->kind == DWT_ENUM) &&
			    anonymous(u))
				return reach_type(l, r, t->target, depth + 1);
		}
		if (t->name) {
			if ((err = check_named(l, t, &tc)) < 0)
				return err;
			if (tc->changed && (err = report_type(l, r, t, tc)) < 0)
				return err;
		}
		if (t->kind == DWT_TYPEDEF)
			return reach_type(l, r, t->target, depth + 1);
		for (size_t i = 0; i < t->nmembers && t->kind != DWT_ENUM; i++) {
			if (r->npath < sizeof r->path / sizeof *r->path)
				r->path[r->npath] = t->members[i].name ? t->members[i].name : "(anonymous)";
			r->npath++;
			err = reach_type(l, r, t->members[i].type, depth + 1);
			r->npath--;
			if (err < 0)
				return err;
		}
		return 0;
	case DWT_POINTER:
	case DWT_ARRAY:
	case DWT_CONST:
	case DWT_VOLATILE:
	case DWT_RESTRICT:
	case DWT_ATOMIC:
		return reach_type(l, r, t->target, depth + 1);
	default:
		return 0; /* base types, void, function types: nothing behind them */
	}
}

static int reach_root(struct layout *l, struct reach *r, uint64_t type, const char *root)
{
	r->root = root;
	r->npath = 0;
	return reach_type(l, r, type, 0);
}

/* ===================================================================== */
/* Variables                                                              */
/* ===================================================================== */

/* "variable 'limits'", "static 'count' of tick()", "const variable 'table'" */
static const char *var_entity(struct layout *l, const struct dw_var *v, const struct obj_sym *s)
{
	bool ro = s->sec && !(s->sec->flags & SHF_WRITE);
	const char *kind = v->tls ? "thread-local variable" : ro ? "read-only variable" : "variable";
	if (v->scope)
		return hp_arena_printf(l->ctx, "static '%s' of %s()%s", v->name ? v->name : s->name,
				       v->scope, ro ? " (read-only)" : "");
	return hp_arena_printf(l->ctx, "%s '%s'", kind, v->name ? v->name : s->name);
}

/* The offset "+0x12" in a compare.c "why" ("bytes differ at +0x12"), or -1. */
static int64_t why_offset(const char *why)
{
	const char *at = why ? strstr(why, " at +") : NULL;
	if (!at)
		return -1;
	return (int64_t)strtoull(at + 5, NULL, 16); /* "0x12" or "0" */
}

/*
 * The member path of offset off inside a value of type id ("[3].max"), and the
 * type of the innermost part holding it.
 */
static int path_at(struct layout *l, uint64_t id, uint64_t off, char *buf, size_t cap,
		   uint64_t *leaf, uint64_t *leaf_off)
{
	size_t o = strlen(buf);
	for (int depth = 0; depth < 16 && o < cap; depth++) {
		const struct dw_type *t;
		int err = dw_type_strip(l->dwn, id, &t);
		if (err < 0)
			return err;
		*leaf = id;
		*leaf_off = off;
		if (t->kind == DWT_ARRAY) {
			uint64_t esize;
			if ((err = dw_type_sizeof(l->dwn, t->target, &esize)) < 0)
				return err;
			if (!esize)
				return 0;
			/* Several dimensions: the element of the last one. */
			uint64_t inner = 1;
			for (size_t i = 1; i < t->ndims; i++)
				inner *= t->dims[i] ? t->dims[i] : 1;
			uint64_t idx = off / esize;
			for (size_t i = 0; i < t->ndims && o < cap; i++) {
				uint64_t d = inner;
				o += (size_t)snprintf(buf + o, cap - o, "[%llu]",
						      (unsigned long long)(idx / d));
				idx %= d;
				inner = i + 1 < t->ndims && t->dims[i + 1] ? inner / t->dims[i + 1] : 1;
			}
			id = t->target;
			off %= esize;
			continue;
		}
		if (t->kind != DWT_STRUCT && t->kind != DWT_UNION)
			return 0;
		const struct dw_member *best = NULL;
		for (size_t i = 0; i < t->nmembers; i++) {
			uint64_t msize = 0;
			const struct dw_member *m = &t->members[i];
			if ((err = dw_type_sizeof(l->dwn, m->type, &msize)) < 0)
				return err;
			if (m->offset <= off && off < m->offset + (msize ? msize : 1))
				best = m;
		}
		if (!best)
			return 0;
		if (best->name)
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "." : "", best->name);
		id = best->type;
		off -= best->offset;
		if (best->bit_size)
			return 0;
	}
	return 0;
}

/* What a relocation of obj in sec points at, for a message: "handler", "\"text\"". */
static const char *target_text(struct layout *l, const struct obj *obj, const struct obj_sec *sec,
			       const struct obj_rel *r)
{
	struct differ_ref ref;
	if (differ_resolve(l->ctx, obj, sec, r, &ref) < 0)
		return "?";
	switch (ref.kind) {
	case DIFFER_REF_SYM:
		return ref.off ? hp_arena_printf(l->ctx, "&%s%+lld", ref.sym->name, (long long)ref.off)
			       : hp_arena_printf(l->ctx, "&%s", ref.sym->name);
	case DIFFER_REF_PIECE:
		if (obj_sec_is_strings(ref.sec) && ref.sec->data)
			return hp_arena_printf(l->ctx, "\"%.40s\"", (const char *)ref.sec->data + ref.start);
		return hp_arena_printf(l->ctx, "&%s+%#llx", ref.sec->name, (unsigned long long)ref.start);
	default:
		return hp_arena_printf(l->ctx, "%#llx", (unsigned long long)ref.off);
	}
}

/*
 * The value of size bytes at off of sym (zero in NOBITS), as its leaf type
 * reads: an integer, or "&target" when a relocation fills the field. NULL when
 * it cannot be shown (floats, large fields).
 */
static const char *value_text(struct layout *l, const struct obj *obj, const struct obj_sym *s,
			      uint64_t off, const struct dw_type *leaf, uint64_t size)
{
	const uint8_t *p = obj_sym_bytes(s);
	if (size == 0 || size > 8 || off + size > s->size)
		return NULL;
	size_t k = obj_rel_lower_bound(s->sec, s->value + off);
	if (k < s->sec->nrels && s->sec->rels[k].offset < s->value + off + size)
		return target_text(l, obj, s->sec, &s->sec->rels[k]);
	if (dw_type_is_float(leaf))
		return NULL;
	uint64_t v = 0;
	for (uint64_t i = 0; i < size; i++)
		v |= (uint64_t)(p ? p[off + i] : 0) << (8 * i);
	if (leaf->kind == DWT_POINTER)
		return hp_arena_printf(l->ctx, "%#llx", (unsigned long long)v);
	bool is_signed = leaf->kind == DWT_ENUM || dw_type_is_signed(leaf);
	if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1)
		v |= ~0ull << (8 * size);
	return is_signed ? hp_arena_printf(l->ctx, "%lld", (long long)v)
			 : hp_arena_printf(l->ctx, "%llu", (unsigned long long)v);
}

/* The change to the initial value of a variable whose size and type stayed. */
static int initial_value_change(struct layout *l, const struct obj_sym *n, const struct dw_var *v,
				struct cvec *c)
{
	const struct obj_sym *o = n->twin;
	bool was_zero = o->sec->type == SHT_NOBITS, now_zero = n->sec->type == SHT_NOBITS;
	int64_t at = why_offset(n->why);
	if (at < 0 && was_zero != now_zero) {
		/* From .bss to .data (or back): the first non-zero byte is the change. */
		const struct obj_sym *d = was_zero ? n : o;
		const uint8_t *p = obj_sym_bytes(d);
		at = 0;
		while (p && (uint64_t)at < d->size && !p[at] &&
		       !(obj_rel_lower_bound(d->sec, d->value + (uint64_t)at) < d->sec->nrels &&
			 d->sec->rels[obj_rel_lower_bound(d->sec, d->value + (uint64_t)at)].offset ==
				 d->value + (uint64_t)at))
			at++;
	}
	if (at < 0 || (uint64_t)at >= n->size || v->transformed)
		return cvec_push(l, c, NULL, "initial value", NULL, n->why ? n->why : "differs");
	/* A piece of a variable the compiler split: offsets in the variable are past the piece's. */
	char path[256] = "";
	uint64_t in_var = (uint64_t)at + v->piece;
	uint64_t leaf = v->type, leaf_off = in_var;
	int err = path_at(l, v->type, in_var, path, sizeof path, &leaf, &leaf_off);
	if (err < 0)
		return err;
	const struct dw_type *lt;
	uint64_t lsize = 0;
	if ((err = dw_type_strip(l->dwn, leaf, &lt)) < 0 || (err = dw_type_sizeof(l->dwn, leaf, &lsize)) < 0)
		return err;
	if (in_var - leaf_off < v->piece)
		lsize = 0; /* the leaf starts before this piece: do not show values */
	uint64_t start = in_var - leaf_off - (in_var - leaf_off < v->piece ? 0 : v->piece);
	const char *ov = value_text(l, l->old, o, start, lt, lsize);
	const char *nv = value_text(l, l->new, n, start, lt, lsize);
	if (!ov || !nv || !strcmp(ov, nv)) {
		ov = NULL;
		nv = hp_arena_printf(l->ctx, "differs at +%#llx", (unsigned long long)at);
	} else if (was_zero != now_zero) {
		/* Say where the zero came from: a static local or global in .bss. */
		if (was_zero)
			ov = hp_arena_printf(l->ctx, "%s (.bss)", ov);
		else
			nv = hp_arena_printf(l->ctx, "%s (.bss)", nv);
	}
	return cvec_push(l, c, path[0] ? hp_arena_strdup(l->ctx, path) : NULL, "initial value", ov,
			 nv);
}

/* An existing variable that compare.c found CHANGED: say precisely how. */
static int report_variable(struct layout *l, const struct obj_sym *n, const struct dw_var *vn,
			   const struct dw_var *vo)
{
	const struct obj_sym *o = n->twin;
	struct cvec c = { 0 };
	int err = 0;
	const char *ot = spell(l, l->dwo, vo ? vo->type : 0, false), *nt = spell(l, l->dwn, vn->type, false);
	bool type_changed = vo && strcmp(spell(l, l->dwo, vo->type, true), spell(l, l->dwn, vn->type, true));
	if (o->size != n->size) {
		if ((err = cvec_push(l, &c, NULL, "size", u64s(l, o->size), u64s(l, n->size))) < 0)
			return err;
	}
	if (type_changed && (err = cvec_push(l, &c, NULL, "type", ot, nt)) < 0)
		return err;
	if (!c.n && (o->sec->flags & (SHF_WRITE | SHF_TLS)) != (n->sec->flags & (SHF_WRITE | SHF_TLS)))
		err = cvec_push(l, &c, NULL, "section", o->sec->name, n->sec->name);
	else if (!c.n)
		err = initial_value_change(l, n, vn, &c);
	if (err < 0)
		return err;
	struct differ_finding f = { DIFFER_RULE_VARIABLE, l->new->path, n->name };
	f.entity = var_entity(l, vn, n);
	f.decl_file = vn->decl_file;
	f.decl_line = vn->decl_line;
	f.changes = c.v;
	f.nchanges = c.n;
	const char *why = o->size != n->size
				  ? hp_arena_printf(l->ctx, "the running process holds only the old %llu bytes",
						    (unsigned long long)o->size)
			  : type_changed ? "code of the patch would read the old value as the new type"
					 : "the running process keeps its current value and never runs an initializer again";
	return FINDING(l, f, "%s%s changed: %s; %s", f.entity, at_text(l, f.decl_file, f.decl_line),
		       changes_text(l, c.v, c.n), why);
}

/* The functions whose code refers into [s->value, +size) of s's section; data refers: *from_data. */
static int readers_of(struct layout *l, const struct obj_sym *s, struct obj_sym ***out, size_t *n,
		      bool *from_data)
{
	struct obj_sym **v = NULL;
	size_t cnt = 0, cap = 0;
	*from_data = false;
	for (size_t i = 1; i < l->new->nsecs; i++) {
		const struct obj_sec *from = &l->new->secs[i];
		if (!obj_sec_is_alloc(from) || is_metadata(from))
			continue;
		for (size_t k = 0; k < from->nrels; k++) {
			const struct obj_rel *r = &from->rels[k];
			if (r->sym->sec != s->sec)
				continue;
			struct differ_ref ref;
			int err = differ_resolve(l->ctx, l->new, from, r, &ref);
			if (err < 0)
				return err;
			if (ref.kind != DIFFER_REF_SYM || ref.sym != s)
				continue;
			if (!obj_sec_is_text(from)) {
				*from_data = true;
				continue;
			}
			struct obj_sym *f = obj_sym_at(from, r->offset);
			if (!f || !obj_sym_is_func(f))
				continue;
			bool dup = false;
			for (size_t j = 0; j < cnt && !dup; j++)
				dup = v[j] == f;
			if (dup)
				continue;
			if (cnt == cap) {
				cap = cap ? 2 * cap : 8;
				struct obj_sym **p = hp_arena_array(l->ctx, cap, sizeof *p);
				if (!p)
					return hp_nomem(l->ctx);
				if (cnt)
					memcpy(p, v, cnt * sizeof *p);
				v = p;
			}
			v[cnt++] = f;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void mark_changed(struct obj_sym *f, const char *why)
{
	if (f->status != OBJ_SAME)
		return;
	f->status = OBJ_CHANGED;
	f->why = why;
	if (f->twin) {
		f->twin->status = OBJ_CHANGED;
		f->twin->why = why;
	}
}

/*
 * A data object compare.c found CHANGED. A variable (it has a DW_TAG_variable,
 * not artificial) is refused. Data the compiler made travels with its readers.
 */
static int check_changed_data(struct layout *l, struct obj_sym *n)
{
	if (obj_sym_is_common(n->twin))
		return 0; /* check_common() */
	if (!need_dwarf(l, n))
		return l->err;
	const struct dw_var *vn = NULL, *vo = NULL;
	int err = dw_var_at(l->dwn, n->sec, n->value, &vn);
	if (!err)
		err = dw_var_at(l->dwo, n->twin->sec, n->twin->value, &vo);
	if (err < 0)
		return unsupported(l, err, n);
	if ((vn && !vn->artificial) || (vo && !vo->artificial)) {
		if (!vn) {
			struct differ_finding f = { DIFFER_RULE_UNKNOWN, l->new->path, n->name };
			return FINDING(l, f,
				       "data object changed (%s) and the new DWARF does not describe it, although the old one did; not understood",
				       n->why ? n->why : "contents differ");
		}
		return report_variable(l, n, vn, vo);
	}
	struct obj_sym **readers = NULL;
	size_t nreaders = 0;
	bool from_data = false;
	if ((err = readers_of(l, n, &readers, &nreaders, &from_data)) < 0)
		return err;
	if (from_data) {
		struct differ_finding f = { DIFFER_RULE_UNKNOWN, l->new->path, n->name };
		return FINDING(l, f,
			       "data the compiler made (no variable in DWARF) changed (%s), and other data refers to it; not understood",
			       n->why ? n->why : "contents differ");
	}
	n->artificial = true;
	const char *why = hp_arena_printf(l->ctx, "reads %s, data the compiler made, which changed",
					  n->name);
	if (!why)
		return hp_nomem(l->ctx);
	for (size_t i = 0; i < nreaders; i++) {
		mark_changed(readers[i], why);
		if (readers[i]->parent)
			mark_changed(readers[i]->parent,
				     hp_arena_printf(l->ctx, "its cold part %s changed",
						     readers[i]->name));
	}
	return 0;
}

/* ===================================================================== */
/* Functions                                                              */
/* ===================================================================== */

/* The type behind typedefs, qualifiers and arrays. */
static int element_type(struct dw *dw, uint64_t id, const struct dw_type **out)
{
	int err;
	for (int depth = 0; depth < 16; depth++) {
		if ((err = dw_type_strip(dw, id, out)) < 0 || (*out)->kind != DWT_ARRAY)
			return err;
		id = (*out)->target;
	}
	return 0;
}

/*
 * A variable of an anonymous type ("static struct { int a, b; } state;") has no
 * name to pair its type by: compare the old variable's type with the new one's.
 */
static int check_anonymous(struct layout *l, const struct obj_sym *fn, const struct obj_sym *x,
			   const struct dw_var *v, const char *root)
{
	const struct dw_type *nt, *ot;
	const struct dw_var *vo = NULL;
	int err = element_type(l->dwn, v->type, &nt);
	if (err < 0 || nt->name || (nt->kind != DWT_STRUCT && nt->kind != DWT_UNION && nt->kind != DWT_ENUM))
		return err;
	if (!x->twin->sec) /* a common symbol: no address to find its DWARF by */
		return 0;
	if ((err = dw_var_at(l->dwo, x->twin->sec, x->twin->value, &vo)) < 0 || !vo)
		return err;
	if ((err = element_type(l->dwo, vo->type, &ot)) < 0)
		return err;
	const char *key = hp_arena_printf(l->ctx, "%u:v%llx", fn->index, (unsigned long long)v->id);
	if (!key)
		return hp_nomem(l->ctx);
	if (hp_map_get(&l->seen, key))
		return 0;
	if ((err = hp_map_put(l->ctx, &l->seen, key, (void *)1, NULL)) < 0)
		return err;
	struct cvec c = { 0 };
	if ((err = cmp_layout(l, ot, nt, NULL, &c, 0)) < 0 || !c.n)
		return err;
	struct differ_finding f = { DIFFER_RULE_TYPE_LAYOUT, l->new->path, fn->name };
	f.entity = hp_arena_printf(l->ctx, "the anonymous %s of '%s'",
				   nt->kind == DWT_STRUCT ? "struct" : nt->kind == DWT_UNION ? "union" : "enum",
				   v->name ? v->name : x->name);
	f.via = root;
	f.decl_file = nt->decl_file;
	f.decl_line = nt->decl_line;
	f.changes = c.v;
	f.nchanges = c.n;
	return FINDING(l, f,
		       "uses %s%s through %s, and its layout changed: %s; objects of the running process keep the old layout",
		       f.entity, at_text(l, f.decl_file, f.decl_line), root, changes_text(l, c.v, c.n));
}

/* The globals fn's code touches: their types are used, their own types must not change. */
static int check_touched(struct layout *l, struct reach *r, const struct obj_sym *fn)
{
	const struct obj_sec *sec = fn->sec;
	for (size_t k = obj_rel_lower_bound(sec, fn->value);
	     k < sec->nrels && sec->rels[k].offset < fn->value + fn->size; k++) {
		struct differ_ref ref;
		int err = differ_resolve(l->ctx, l->new, sec, &sec->rels[k], &ref);
		if (err < 0)
			return err;
		if (ref.kind != DIFFER_REF_SYM || !obj_sym_is_data(ref.sym) || !ref.sym->sec)
			continue;
		const struct obj_sym *x = ref.sym;
		const struct dw_var *v = NULL;
		if ((err = dw_var_at(l->dwn, x->sec, x->value, &v)) < 0)
			return unsupported(l, err, fn);
		if (!v || v->artificial)
			continue;
		const char *root = v->scope ? hp_arena_printf(l->ctx, "static '%s'", v->name)
					    : hp_arena_printf(l->ctx, "global '%s'", v->name);
		if ((err = reach_root(l, r, v->type, root)) < 0)
			return err;
		if (x->twin && (err = check_anonymous(l, fn, x, v, root)) < 0)
			return err;
		/* An existing variable that kept its bytes but changed its type. */
		if (!x->twin || x->status != OBJ_SAME)
			continue;
		const char *key = idkey(l, v->id);
		if (hp_map_get(&l->vars_seen, key))
			continue;
		if ((err = hp_map_put(l->ctx, &l->vars_seen, key, (void *)1, NULL)) < 0)
			return err;
		const struct dw_var *vo = NULL;
		if (x->twin->sec && (err = dw_var_at(l->dwo, x->twin->sec, x->twin->value, &vo)) < 0)
			return unsupported(l, err, fn);
		if (vo && (vo->transformed || v->transformed) &&
		    (!vo->encoding || !v->encoding || strcmp(vo->encoding, v->encoding))) {
			/* clang -O2 keeps a global that only ever holds two values as one
			 * byte and decodes it in the code: the same bytes may now mean
			 * another value (a changed initializer hides here). */
			struct differ_finding f = { DIFFER_RULE_VARIABLE, l->new->path, x->name };
			f.entity = var_entity(l, v, x);
			f.via = hp_arena_printf(l->ctx, "touched by %s", fn->name);
			f.decl_file = v->decl_file;
			f.decl_line = v->decl_line;
			struct cvec c = { 0 };
			if ((err = cvec_push(l, &c, NULL, "encoding",
					     vo->transformed ? vo->encoding : "plain",
					     v->transformed ? v->encoding : "plain")) < 0)
				return err;
			f.changes = c.v;
			f.nchanges = c.n;
			if ((err = FINDING(l, f,
					   "%s%s is stored in a form the compiler chose, and that form changed, so the same bytes would mean another value to %s; not understood, so not patched",
					   f.entity, at_text(l, f.decl_file, f.decl_line), fn->name)) < 0)
				return err;
			continue;
		}
		if (!vo || !strcmp(spell(l, l->dwo, vo->type, true), spell(l, l->dwn, v->type, true)))
			continue;
		struct cvec c = { 0 };
		if ((err = cvec_push(l, &c, NULL, "type", spell(l, l->dwo, vo->type, false),
				     spell(l, l->dwn, v->type, false))) < 0)
			return err;
		struct differ_finding f = { DIFFER_RULE_VARIABLE, l->new->path, x->name };
		f.entity = var_entity(l, v, x);
		f.via = hp_arena_printf(l->ctx, "touched by %s", fn->name);
		f.decl_file = v->decl_file;
		f.decl_line = v->decl_line;
		f.changes = c.v;
		f.nchanges = c.n;
		if ((err = FINDING(l, f, "%s%s changed: %s; %s, which the patch replaces, would read the old value as the new type",
				   f.entity, at_text(l, f.decl_file, f.decl_line), changes_text(l, c.v, c.n),
				   fn->name)) < 0)
			return err;
	}
	return 0;
}

/*
 * Who may call fn the old way: data holding its address (code anywhere may load
 * it and call through it). A SAME function is not one: SAME means its code is
 * the code the new build made, which calls fn with its new signature, so the
 * unchanged copy in the process calls the new fn correctly.
 */
static int unchanged_caller(struct layout *l, const struct obj_sym *fn, const char **out)
{
	*out = NULL;
	for (size_t i = 1; i < l->new->nsecs && !*out; i++) {
		const struct obj_sec *from = &l->new->secs[i];
		if (!obj_sec_is_alloc(from) || is_metadata(from))
			continue;
		for (size_t k = 0; k < from->nrels && !*out; k++) {
			const struct obj_rel *r = &from->rels[k];
			if (r->sym->sec != fn->sec)
				continue;
			struct differ_ref ref;
			int err = differ_resolve(l->ctx, l->new, from, r, &ref);
			if (err < 0)
				return err;
			if (ref.kind != DIFFER_REF_SYM || ref.sym != fn)
				continue;
			if (!obj_sec_is_text(from)) {
				const struct obj_sym *d = obj_sym_at(from, r->offset);
				*out = hp_arena_printf(l->ctx, "%s holds its address, so unchanged code may call it",
						       d ? d->name : from->name);
				continue;
			}
		}
	}
	return 0;
}

static int check_signature(struct layout *l, const struct obj_sym *fn, const struct dw_subprogram *p)
{
	const struct dw_subprogram *q = NULL;
	int err = dw_subprogram_at(l->dwo, fn->twin->sec, fn->twin->value, &q);
	if (err < 0)
		return unsupported(l, err, fn);
	if (!q)
		return 0;
	struct cvec c = { 0 };
	size_t n = p->nparams > q->nparams ? p->nparams : q->nparams;
	for (size_t i = 0; i < n; i++) {
		const struct dw_local *a = i < q->nparams ? &q->params[i] : NULL;
		const struct dw_local *b = i < p->nparams ? &p->params[i] : NULL;
		const char *what = hp_arena_printf(l->ctx, "parameter %zu%s%s%s", i + 1,
						   b && b->name ? " '" : a && a->name ? " '" : "",
						   b && b->name ? b->name : a && a->name ? a->name : "",
						   (b && b->name) || (a && a->name) ? "'" : "");
		const char *os = a ? spell(l, l->dwo, a->type, true) : NULL;
		const char *ns = b ? spell(l, l->dwn, b->type, true) : NULL;
		if (!a || !b || strcmp(os, ns))
			err = cvec_push(l, &c, NULL, what, a ? spell(l, l->dwo, a->type, false) : "(none)",
					b ? spell(l, l->dwn, b->type, false) : "(none)");
		if (err < 0)
			return err;
	}
	if (strcmp(spell(l, l->dwo, q->ret, true), spell(l, l->dwn, p->ret, true)) &&
	    (err = cvec_push(l, &c, NULL, "return type", spell(l, l->dwo, q->ret, false),
			     spell(l, l->dwn, p->ret, false))) < 0)
		return err;
	if (q->varargs != p->varargs &&
	    (err = cvec_push(l, &c, NULL, "variadic", q->varargs ? "yes" : "no",
			     p->varargs ? "yes" : "no")) < 0)
		return err;
	if (!c.n)
		return 0;
	const char *caller = NULL;
	if (fn->bind != STB_LOCAL)
		caller = "it is global, so callers in other objects would call it the old way";
	else if ((err = unchanged_caller(l, fn, &caller)) < 0)
		return err;
	if (!caller)
		return 0; /* every caller changed too and is patched with it */
	struct differ_finding f = { DIFFER_RULE_SIGNATURE, l->new->path, fn->name };
	f.entity = hp_arena_printf(l->ctx, "%s()", p->name ? p->name : fn->name);
	f.decl_file = p->decl_file;
	f.decl_line = p->decl_line;
	f.changes = c.v;
	f.nchanges = c.n;
	return FINDING(l, f, "signature changed%s: %s; %s", at_text(l, p->decl_file, p->decl_line),
		       changes_text(l, c.v, c.n), caller);
}

static int check_function(struct layout *l, struct obj_sym *fn, struct hp_map *done)
{
	if (!need_dwarf(l, fn))
		return l->err;
	const struct dw_subprogram *p = NULL;
	int err = dw_subprogram_at(l->dwn, fn->sec, fn->value, &p);
	if (err < 0)
		return unsupported(l, err, fn);
	if (!p) {
		struct differ_finding f = { DIFFER_RULE_UNKNOWN, l->new->path, fn->name };
		return FINDING(l, f,
			       "the DWARF does not describe this function, so the data it uses cannot be checked; not understood");
	}
	struct reach r = { fn };
	if ((err = hp_map_init(l->ctx, &r.visited, 64)) < 0)
		return err;
	/* A cold part shares its parent's DWARF: the types once, the globals of each part. */
	const char *key = idkey(l, p->id);
	if (!hp_map_get(done, key)) {
		if ((err = hp_map_put(l->ctx, done, key, (void *)1, NULL)) < 0)
			return err;
		if (fn->status == OBJ_CHANGED && !fn->parent && fn->twin &&
		    (err = check_signature(l, fn, p)) < 0)
			return err;
		if ((err = reach_root(l, &r, p->ret, "its return value")) < 0)
			return err;
		for (size_t i = 0; i < p->nparams && !err; i++)
			err = reach_root(l, &r, p->params[i].type,
					 hp_arena_printf(l->ctx, "parameter '%s'",
							 p->params[i].name ? p->params[i].name : "?"));
		for (size_t i = 0; i < p->nlocals && !err; i++) {
			const struct dw_local *x = &p->locals[i];
			const char *root =
				x->inlined ? hp_arena_printf(l->ctx, "%s '%s' of inlined %s()",
							     x->param ? "parameter" : "local",
							     x->name ? x->name : "?", x->inlined)
					   : hp_arena_printf(l->ctx, "local '%s'", x->name ? x->name : "?");
			err = reach_root(l, &r, x->type, root);
		}
		if (err < 0)
			return unsupported(l, err, fn);
	}
	if ((err = check_touched(l, &r, fn)) < 0)
		return unsupported(l, err, fn);
	return 0;
}

/* ===================================================================== */
/* The pass                                                               */
/* ===================================================================== */

int differ_check_layout(struct hp_ctx *ctx, struct obj *old, struct obj *new,
			enum hp_level level, struct differ_findings *out)
{
	struct layout l = { 0 };
	l.ctx = ctx;
	l.old = old;
	l.new = new;
	l.level = level;
	memset(out, 0, sizeof *out);
	struct hp_map done;
	int err;
	if ((err = hp_map_init(ctx, &l.tcmps, 64)) < 0 || (err = hp_map_init(ctx, &l.seen, 64)) < 0 ||
	    (err = hp_map_init(ctx, &l.vars_seen, 16)) < 0 || (err = hp_map_init(ctx, &done, 64)) < 0)
		return err;
	/* What the ELF alone tells. */
	if ((err = check_tls(&l)) < 0 || (err = check_common(&l)) < 0 || (err = check_tables(&l)) < 0)
		return err;
	/* Changed data first: a table the compiler made changes the functions that read it. */
	for (size_t i = 1; i < new->nsyms && !l.err; i++) {
		struct obj_sym *s = &new->syms[i];
		if (obj_sym_is_data(s) && s->status == OBJ_CHANGED && s->twin &&
		    (err = check_changed_data(&l, s)) < 0)
			return err;
	}
	if ((err = check_small(&l)) < 0)
		return err;
	for (size_t i = 1; i < new->nsyms && !l.err; i++) {
		struct obj_sym *s = &new->syms[i];
		if (obj_sym_is_func(s) && (s->status == OBJ_CHANGED || s->status == OBJ_NEW) &&
		    (err = check_function(&l, s, &done)) < 0)
			return err;
	}
	if (l.err)
		return l.err;
	out->v = l.v;
	out->n = l.n;
	return l.n && level == HP_LEVEL_ERROR ? -HP_EUNPATCHABLE : 0;
}
