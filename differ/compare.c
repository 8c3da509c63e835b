/*
 * compare.c: pass 4, decide for every function and data object whether it
 * changed, and record the first difference.
 *
 * Two bodies are equal when they have the same size, the same bytes outside the
 * fields that relocations patch, and relocations that pair up one to one: same
 * offset, same type, and the same target once layout is taken out of it
 * (differ_resolve):
 *   - a named symbol: the targets must be twins and the addends equal;
 *   - a place in a section with symbols: the covering symbols must be twins and
 *     the offsets into them equal;
 *   - a string in a merge section (".LC3", ".L.str.2", ".rodata.str1.1 + 12"):
 *     equal contents, wherever the string landed;
 *   - an anonymous piece (a jump table, a constant of .rodata.cst16, a clang
 *     lookup table): equal bytes and, recursively, equal relocation targets.
 * The bytes of a relocated field are never compared: in a RELA object they hold
 * nothing, and the relocation says what will go there.
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

/*
 * How far anonymous pieces that point at pieces are followed. Depth alone does
 * not bound the work: a piece can point at many pieces, each at many more; 7
 * layers of 16 pieces, each pointing at all 16 of the next, asked for 16^7
 * comparisons. Two things bound it. A pair of pieces found equal is
 * remembered for the pass (found equal at any depth, they are equal), so each
 * pair is compared once. And the pass has a budget: each piece compared costs
 * its length plus PIECE_VISIT_COST, and differ_compare() may spend
 * PIECE_BUDGET_PER_BYTE times the bytes of both objects plus
 * PIECE_BUDGET_BASE, which real code (jump tables, constants, strings)
 * never nears. Past the depth or the budget a reference into a piece is
 * reported changed, never guessed equal.
 */
#define MAX_PIECE_DEPTH 8
#define PIECE_VISIT_COST 64
#define PIECE_BUDGET_PER_BYTE 16
#define PIECE_BUDGET_BASE (1u << 20)

/* ===================================================================== */
/* Comparing ranges                                                       */
/* ===================================================================== */

/* Both objects, for the recursive comparison of pieces. */
/* Line-number mode: the two functions' instructions and where their lines are. */
struct lines {
	struct disasm *d;        /* opened on first use, for the whole pass */
	struct dw *dwo, *dwn;    /* the objects' DWARF, for their line tables */
	const struct obj_sym *o, *n;
	struct dis_insn *io, *in; /* the current pair's instructions */
	size_t nio, nin, capo, capn;
	struct dw_site *so, *sn;  /* the current pair's inlined calls, read on first need */
	size_t nso, nsn;
	bool sites_read;
	uint32_t from, to;       /* the first line number accepted, old and new */
	unsigned accepted;
};

struct cmp {
	struct hp_ctx *ctx;
	const struct obj *old, *new;
	const char *why; /* first difference, arena string */
	struct lines *lines; /* set: a byte difference that is a __LINE__ value is no difference */
	uint64_t budget; /* what following pieces may still cost (see PIECE_BUDGET_*) */
	bool gave_up;    /* the budget ran out while comparing the current pair */
	struct hp_map equal; /* "osec:ostart:nsec:nstart:len" of piece pairs found equal */
};

static const char *describe(struct hp_ctx *ctx, const struct differ_ref *r)
{
	return differ_describe_ref(ctx, r);
}

/* Record the first difference, "what at +0x12", and return false. */
HP_PRINTF(3, 4) static bool differ_at(struct cmp *c, uint64_t at, const char *fmt, ...)
{
	if (c->why)
		return false;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	c->why = hp_arena_printf(c->ctx, "%s at +%#llx", what, (unsigned long long)at);
	if (!c->why)
		c->why = "differs";
	return false;
}

static bool range_equal(struct cmp *c, const struct obj_sec *os, uint64_t ostart,
			const struct obj_sec *ns, uint64_t nstart, uint64_t len, int depth);

static bool piece_flags_equal(const struct obj_sec *a, const struct obj_sec *b)
{
	const uint64_t m = SHF_WRITE | SHF_EXECINSTR | SHF_MERGE | SHF_STRINGS | SHF_TLS;
	return (a->flags & m) == (b->flags & m) && (a->type == SHT_NOBITS) == (b->type == SHT_NOBITS);
}

/* Compare the targets of two relocations found at the same place. */
static bool ref_equal(struct cmp *c, const struct differ_ref *o, const struct differ_ref *n,
		      uint64_t at, int depth)
{
	if (o->kind != n->kind)
		goto differ;
	switch (o->kind) {
	case DIFFER_REF_ABS:
		if (o->off == n->off)
			return true;
		goto differ;
	case DIFFER_REF_SYM:
		if (o->sym->twin == n->sym && o->off == n->off)
			return true;
		goto differ;
	case DIFFER_REF_PIECE:
		if (o->len != n->len || o->off != n->off || !piece_flags_equal(o->sec, n->sec))
			goto differ;
		{
			char key[128];
			snprintf(key, sizeof key, "%u:%llu:%u:%llu:%llu", o->sec->index,
				 (unsigned long long)o->start, n->sec->index,
				 (unsigned long long)n->start, (unsigned long long)o->len);
			if (hp_map_get(&c->equal, key))
				return true;
			if (depth >= MAX_PIECE_DEPTH)
				goto differ; /* too deep to tell: say changed, never guess equal */
			if (o->len + PIECE_VISIT_COST > c->budget) {
				c->gave_up = true;
				goto differ;
			}
			c->budget -= o->len + PIECE_VISIT_COST;
			const char *saved = c->why;
			bool eq = range_equal(c, o->sec, o->start, n->sec, n->start, o->len, depth + 1);
			c->why = saved; /* report the reference, not the inside of the piece */
			if (eq) {
				const char *k = hp_arena_strdup(c->ctx, key);
				if (k)
					hp_map_put(c->ctx, &c->equal, k, (void *)1, NULL);
				return true;
			}
		}
		goto differ;
	}
differ:;
	const char *dn = describe(c->ctx, o), *dnn = describe(c->ctx, n);
	if (o->kind == DIFFER_REF_PIECE && n->kind == DIFFER_REF_PIECE && dn && dnn && !strcmp(dn, dnn))
		return differ_at(c, at, "contents of %s differ", dn);
	return differ_at(c, at, "reference %s -> %s", dn, dnn);
}

static uint8_t byte_at(const struct obj_sec *s, uint64_t off)
{
	return s->data ? s->data[off] : 0;
}

/* First offset in [from, to) where the two ranges' bytes differ, or to. */
static uint64_t first_diff(const struct obj_sec *os, uint64_t ostart, const struct obj_sec *ns,
			   uint64_t nstart, uint64_t from, uint64_t to)
{
	if (os->data && ns->data) {
		if (!memcmp(os->data + ostart + from, ns->data + nstart + from, to - from))
			return to;
	}
	for (uint64_t i = from; i < to; i++)
		if (byte_at(os, ostart + i) != byte_at(ns, nstart + i))
			return i;
	return to;
}

/* ===================================================================== */
/* Line numbers                                                           */
/* ===================================================================== */

/*
 * An inserted line moves every later line number, and every __LINE__ with it:
 * "movl $123, %edx" before a call to __assert_fail becomes "movl $124, %edx".
 * Such a function behaves as before. A byte difference is taken as a line
 * number when it lies in an immediate of the same instruction on both sides
 * (same length, same fields), and the value moved exactly as a line the DWARF
 * ties to that instruction moved (its line-table line, the call line of an
 * inlined call holding it, or the same for the call it prepares), staying
 * within a few lines of it. No list of function names is involved.
 */

static int decode_all(struct hp_ctx *ctx, struct disasm *d, const struct obj_sym *f,
		      struct dis_insn **v, size_t *n, size_t *cap)
{
	*n = 0;
	const uint8_t *bytes = obj_sym_bytes(f);
	if (!bytes)
		return -HP_ERROR;
	for (uint64_t at = 0; at < f->size;) {
		if (hp_grow(ctx, v, cap, *n, sizeof **v, 256) < 0)
			return -HP_ENOMEM;
		struct dis_insn *in = &(*v)[*n];
		size_t len = disasm_insn(d, bytes + at, (size_t)(f->size - at), at, in, NULL, 0);
		if (!len)
			return -HP_ERROR;
		(*n)++;
		at += len;
	}
	return 0;
}

/* The instruction of v holding offset at, or NULL. */
static const struct dis_insn *insn_at(const struct dis_insn *v, size_t n, uint64_t at, size_t *idx)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].addr + v[mid].len <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || v[lo].addr > at)
		return NULL;
	*idx = lo;
	return &v[lo];
}

static uint64_t field_value(const uint8_t *p, uint8_t size)
{
	switch (size) {
	case 1:
		return p[0];
	case 2:
		return hp_load_le16(p);
	case 4:
		return hp_load_le32(p);
	case 8:
		return hp_load_le64(p);
	}
	return UINT64_MAX;
}

/*
 * Whether value is a line number of instruction i of f: the line the line
 * table gives it, the line of an inlined call holding it (SQLITE_MISUSE_BKPT
 * passes __LINE__ to a function inlined there: the table gives the inlined
 * function's lines, DW_AT_call_line the call's), or the line of the next call
 * (the one it prepares an argument for).
 */
/* Anchors: lines near instruction i of f that a __LINE__ there could follow. */
#define MAX_ANCHORS 16

static size_t anchors_at(struct dw *dw, const struct obj_sym *f, uint64_t off,
			 const struct dw_site *sites, size_t nsites, uint64_t *out, size_t n)
{
	uint32_t line;
	if (n < MAX_ANCHORS && dw_line_at(dw, f->sec, f->value + off, &line) == 0 && line)
		out[n++] = line;
	uint64_t a = f->value + off;
	for (size_t k = 0; k < nsites && n < MAX_ANCHORS; k++)
		if (a >= sites[k].lo && a < sites[k].hi)
			out[n++] = sites[k].call_line;
	return n;
}

/*
 * The lines a __LINE__ in instruction i of f could be tied to: the line the
 * line table gives it, the call line of each inlined call holding it
 * (SQLITE_CORRUPT_BKPT passes __LINE__ to a function inlined there: the table
 * gives that function's lines, DW_AT_call_line the call's), and the same for
 * the next call, the one it prepares an argument for.
 */
static size_t anchors(struct dw *dw, const struct obj_sym *f, const struct dis_insn *v, size_t n,
		      size_t i, const struct dw_site *sites, size_t nsites, uint64_t *out)
{
	size_t k = anchors_at(dw, f, v[i].addr, sites, nsites, out, 0);
	const uint8_t *bytes = obj_sym_bytes(f);
	for (size_t j = i + 1; j < n && j < i + 16; j++)
		if (bytes[v[j].addr] == 0xe8) /* call rel32 */
			return anchors_at(dw, f, v[j].addr, sites, nsites, out, k);
	return k;
}

/*
 * Whether old value vo and new value vn are the same __LINE__ of code that
 * moved: some anchor line moved from a to b, and the value moved with it, by
 * the same amount, staying within a few lines of it (a call written over
 * several lines has __LINE__ on a later line than the call itself).
 */
static bool moved_with_a_line(uint64_t vo, uint64_t vn, const uint64_t *ao, size_t nao,
			      const uint64_t *an, size_t nan)
{
	for (size_t i = 0; i < nao; i++)
		for (size_t j = 0; j < nan; j++) {
			int64_t d = (int64_t)(vo - ao[i]);
			if (ao[i] != an[j] && (int64_t)(vn - an[j]) == d && d >= -16 && d <= 16)
				return true;
		}
	return false;
}

/*
 * Whether the difference at offset d (from the functions' start) is a line
 * number. *resume gets the offset after the field.
 */
static bool line_field(struct cmp *c, uint64_t d, uint64_t *resume)
{
	struct lines *L = c->lines;
	size_t io, in;
	const struct dis_insn *a = insn_at(L->io, L->nio, d, &io);
	const struct dis_insn *b = insn_at(L->in, L->nin, d, &in);
	if (!a || !b || a->addr != b->addr || a->len != b->len || a->nfields != b->nfields)
		return false;
	for (size_t k = 0; k < a->nfields; k++) {
		const struct dis_field *fa = &a->fields[k], *fb = &b->fields[k];
		if (fa->off != fb->off || fa->size != fb->size || fa->kind != fb->kind)
			return false;
		if (d < a->addr + fa->off || d >= a->addr + fa->off + fa->size)
			continue;
		if (fa->kind != DIS_IMM)
			return false;
		uint64_t vo = field_value(obj_sym_bytes(L->o) + a->addr + fa->off, fa->size);
		uint64_t vn = field_value(obj_sym_bytes(L->n) + b->addr + fb->off, fb->size);
		if (!L->sites_read) {
			L->sites_read = true;
			if (dw_inline_sites(L->dwo, L->o->sec, L->o->value, &L->so, &L->nso) < 0 ||
			    dw_inline_sites(L->dwn, L->n->sec, L->n->value, &L->sn, &L->nsn) < 0)
				return false;
		}
		uint64_t ao[MAX_ANCHORS], an[MAX_ANCHORS];
		size_t nao = anchors(L->dwo, L->o, L->io, L->nio, io, L->so, L->nso, ao);
		size_t nan = anchors(L->dwn, L->n, L->in, L->nin, in, L->sn, L->nsn, an);
		if (!moved_with_a_line(vo, vn, ao, nao, an, nan))
			return false;
		if (!L->accepted++) {
			L->from = (uint32_t)vo;
			L->to = (uint32_t)vn;
		}
		*resume = a->addr + fa->off + fa->size;
		return true;
	}
	return false;
}

/* Whether functions o and n differ only by line numbers. */
static bool only_lines(struct cmp *c, struct lines *L, struct obj_sym *o, struct obj_sym *n)
{
	if (!L->d && disasm_open(c->ctx, &L->d) < 0)
		return false;
	if ((!L->dwo && dw_get(c->ctx, (struct obj *)c->old, &L->dwo) < 0) || !L->dwo ||
	    (!L->dwn && dw_get(c->ctx, (struct obj *)c->new, &L->dwn) < 0) || !L->dwn)
		return false;
	L->o = o;
	L->n = n;
	L->accepted = 0;
	free(L->so);
	free(L->sn);
	L->so = L->sn = NULL;
	L->nso = L->nsn = 0;
	L->sites_read = false;
	if (decode_all(c->ctx, L->d, o, &L->io, &L->nio, &L->capo) < 0 ||
	    decode_all(c->ctx, L->d, n, &L->in, &L->nin, &L->capn) < 0)
		return false;
	const char *why = c->why;
	c->why = NULL;
	c->lines = L;
	bool eq = range_equal(c, o->sec, o->value, n->sec, n->value, n->size, 0);
	c->lines = NULL;
	c->why = why;
	return eq && L->accepted;
}

/*
 * Compare len bytes at os+ostart and ns+nstart, with their relocations. Sets
 * c->why on the first difference (offsets relative to the range's start).
 */
static bool range_equal(struct cmp *c, const struct obj_sec *os, uint64_t ostart,
			const struct obj_sec *ns, uint64_t nstart, uint64_t len, int depth)
{
	size_t i = obj_rel_lower_bound(os, ostart), j = obj_rel_lower_bound(ns, nstart);
	uint64_t pos = 0;
	for (;;) {
		uint64_t no = i < os->nrels && os->rels[i].offset < ostart + len
				      ? os->rels[i].offset - ostart
				      : len;
		uint64_t nn = j < ns->nrels && ns->rels[j].offset < nstart + len
				      ? ns->rels[j].offset - nstart
				      : len;
		uint64_t upto = no < nn ? no : nn;
		if (pos < upto) {
			uint64_t d = first_diff(os, ostart, ns, nstart, pos, upto);
			while (d < upto) {
				uint64_t resume;
				if (!c->lines || depth || !line_field(c, d, &resume) || resume > upto)
					return differ_at(c, d, "bytes differ");
				d = first_diff(os, ostart, ns, nstart, resume, upto);
			}
		}
		if (no == len && nn == len)
			return true;
		if (no != nn) {
			bool in_old = no < nn;
			const struct obj_rel *r = in_old ? &os->rels[i] : &ns->rels[j];
			struct differ_ref ref;
			if (differ_resolve(c->ctx, in_old ? c->old : c->new, in_old ? os : ns, r,
					   &ref) < 0)
				return differ_at(c, upto, "unreadable relocation");
			return differ_at(c, upto, "reference to %s only in %s",
					 describe(c->ctx, &ref), in_old ? "old" : "new");
		}
		const struct obj_rel *ro = &os->rels[i], *rn = &ns->rels[j];
		const struct reloc_info *ri = reloc_x86_64_info(ro->type);
		if (ro->type != rn->type)
			return differ_at(c, upto, "relocation type %s -> %s", ri->name,
					 reloc_x86_64_info(rn->type)->name);
		struct differ_ref ref_o, ref_n;
		if (differ_resolve(c->ctx, c->old, os, ro, &ref_o) < 0 ||
		    differ_resolve(c->ctx, c->new, ns, rn, &ref_n) < 0)
			return differ_at(c, upto, "unreadable relocation");
		if (!ref_equal(c, &ref_o, &ref_n, upto, depth))
			return false;
		pos = upto + ri->width;
		if (pos > len)
			return differ_at(c, upto, "relocation crosses the end");
		i++;
		j++;
	}
}

/* ===================================================================== */
/* The pass                                                               */
/* ===================================================================== */

static bool compared(const struct obj_sym *s)
{
	return obj_sym_is_func(s) || obj_sym_is_data(s);
}

/* Whether data s starts zero-filled: in .bss, or all zero bytes that no relocation fills. */
static bool zero_filled(const struct obj_sym *s)
{
	if (s->sec->type == SHT_NOBITS)
		return true;
	const uint8_t *b = obj_sym_bytes(s);
	if (!b)
		return false;
	for (uint64_t i = 0; i < s->size; i++)
		if (b[i])
			return false;
	size_t k = obj_rel_lower_bound(s->sec, s->value);
	return k == s->sec->nrels || s->sec->rels[k].offset >= s->value + s->size;
}

/*
 * A variable defined in new whose old twin is a common symbol (old built with
 * -fcommon): the process holds it, zero-filled, where the static linker put it.
 * It is the same variable when it is as large and starts zero-filled.
 */
static void compare_common(struct cmp *c, struct obj_sym *o, struct obj_sym *n)
{
	const char *why = NULL;
	if (o->size != n->size)
		why = hp_arena_printf(c->ctx, "size %#llx -> %#llx", (unsigned long long)o->size,
				      (unsigned long long)n->size);
	else if (!zero_filled(n))
		why = hp_arena_printf(c->ctx, "a common symbol (zero-filled) -> initialized in %s",
				      n->sec->name);
	n->status = o->status = why ? OBJ_CHANGED : OBJ_SAME;
	n->why = o->why = why;
}

static void compare_pair(struct cmp *c, struct lines *L, struct obj_sym *o, struct obj_sym *n)
{
	c->why = NULL;
	c->gave_up = false;
	bool eq;
	if (o->size != n->size) {
		c->why = hp_arena_printf(c->ctx, "size %#llx -> %#llx", (unsigned long long)o->size,
					 (unsigned long long)n->size);
		eq = false;
	} else if (obj_sym_is_data(n) && (o->sec->type == SHT_NOBITS) != (n->sec->type == SHT_NOBITS)) {
		c->why = hp_arena_printf(c->ctx, "moved from %s to %s", o->sec->name, n->sec->name);
		eq = false;
	} else if (obj_sym_is_data(n) && !piece_flags_equal(o->sec, n->sec)) {
		c->why = hp_arena_printf(c->ctx, "section flags changed: %s -> %s", o->sec->name,
					 n->sec->name);
		eq = false;
	} else {
		eq = range_equal(c, o->sec, o->value, n->sec, n->value, n->size, 0);
	}
	if (!eq && c->gave_up)
		c->why = "its data's pieces point at pieces too often to compare; taken as changed";
	/* Bytes differ, sizes do not: maybe only __LINE__ values moved. */
	if (!eq && !c->gave_up && obj_sym_is_func(n) && o->size == n->size) {
		size_t mark = c->ctx->ndiags;
		if (only_lines(c, L, o, n)) {
			eq = true;
			o->line_only = n->line_only = true;
			n->why = o->why = hp_arena_printf(c->ctx,
							  "line numbers only (%u -> %u, %u place%s)",
							  L->from, L->to, L->accepted,
							  L->accepted == 1 ? "" : "s");
		}
		hp_diag_rollback(c->ctx, mark); /* a failed attempt is just "changed" */
	}
	o->status = n->status = eq ? OBJ_SAME : OBJ_CHANGED;
	if (!eq)
		n->why = o->why = c->why ? c->why : "differs";
	else if (!n->line_only)
		n->why = o->why = NULL;
}

static int compare_all(struct cmp *c, struct lines *L, struct obj *old, struct obj *new);

int differ_compare(struct hp_ctx *ctx, struct obj *old, struct obj *new)
{
	struct cmp c = { ctx, old, new, NULL, NULL,
			 PIECE_BUDGET_PER_BYTE * (old->file_size + new->file_size) + PIECE_BUDGET_BASE,
			 false, { 0 } };
	struct lines L = { 0 };
	int err = hp_map_init(ctx, &c.equal, 64);
	if (err < 0)
		return err;
	err = compare_all(&c, &L, old, new);
	disasm_free(L.d);
	free(L.io);
	free(L.in);
	free(L.so);
	free(L.sn);
	return err;
}

static int compare_all(struct cmp *c0, struct lines *L, struct obj *old, struct obj *new)
{
	struct cmp *cp = c0;
	struct hp_ctx *ctx = cp->ctx;
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *n = &new->syms[i];
		if (!compared(n))
			continue;
		if (n->twin && obj_sym_is_data(n) && obj_sym_is_common(n->twin)) {
			compare_common(cp, n->twin, n);
			if (ctx->oom)
				return hp_nomem(ctx);
			continue;
		}
		if (!n->twin || !compared(n->twin) || obj_sym_is_func(n) != obj_sym_is_func(n->twin)) {
			n->status = OBJ_NEW;
			continue;
		}
		compare_pair(cp, L, n->twin, n);
		if (ctx->oom)
			return hp_nomem(ctx);
	}
	for (size_t i = 1; i < old->nsyms; i++) {
		struct obj_sym *o = &old->syms[i];
		if (compared(o) && (!o->twin || o->twin->status == OBJ_NEW))
			o->status = OBJ_REMOVED;
	}
	/* A cold part runs only as a continuation of its parent: a change in it is a
	 * change of the parent. */
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *n = &new->syms[i];
		if (!obj_sym_is_func(n) || !n->parent || n->status == OBJ_SAME)
			continue;
		struct obj_sym *p = n->parent;
		if (p->status == OBJ_SAME) {
			p->status = OBJ_CHANGED;
			p->why = hp_arena_printf(ctx, "its cold part %s %s", n->name,
						 n->status == OBJ_NEW ? "is new" : "changed");
			if (!p->why)
				return hp_nomem(ctx);
			if (p->twin) {
				p->twin->status = OBJ_CHANGED;
				p->twin->why = p->why;
			}
		}
	}
	return 0;
}
