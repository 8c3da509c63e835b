/*
 * dwlines.c: the DWARF line tables of an object, as one array of rows sorted
 * by address, read on first use. Addresses are in the layout dwarfread.c gives
 * the sections (each allocated section at an address of its own), so a row
 * belongs to exactly one section.
 *
 * The differ asks it which line an instruction comes from, to tell a change of
 * __LINE__ (an assert's line number moved by an inserted line) from a change of
 * behaviour.
 */
#include <stdlib.h>

#include "formats/dwarf_internal.h"

static int cmp_row(const void *a, const void *b)
{
	const struct dw_row *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* At one address an end of sequence comes before the next sequence's start. */
	return (int)y->end - (int)x->end;
}

/* A run of rows ending with an end_sequence row: addresses rise inside it. */
struct seq {
	uint64_t first;
	size_t start, n;
};

static int cmp_seq(const void *a, const void *b)
{
	const struct seq *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * Put the rows in address order. Each sequence is in order already (the
 * program only moves forward), so the sequences are sorted by where they start
 * and laid end to end: a few thousand to sort instead of every row.
 */
static int order_sequences(struct dw *dw)
{
	if (!dw->nrows)
		return 0; /* nothing to order, and rows may be NULL */
	size_t nseq = 0;
	for (size_t i = 0; i < dw->nrows; i++)
		nseq += dw->rows[i].end || i + 1 == dw->nrows;
	struct seq *q = malloc((nseq ? nseq : 1) * sizeof *q);
	struct dw_row *out = malloc((dw->nrows ? dw->nrows : 1) * sizeof *out);
	if (!q || !out) {
		free(q);
		free(out);
		return hp_nomem(dw->ctx);
	}
	size_t k = 0, start = 0;
	bool ordered = true;
	for (size_t i = 0; i < dw->nrows; i++) {
		if (i > start && dw->rows[i].addr < dw->rows[i - 1].addr)
			ordered = false; /* not forward inside a sequence: sort every row */
		if (dw->rows[i].end || i + 1 == dw->nrows) {
			q[k++] = (struct seq){ dw->rows[start].addr, start, i + 1 - start };
			start = i + 1;
		}
	}
	if (!ordered) {
		qsort(dw->rows, dw->nrows, sizeof *dw->rows, cmp_row);
	} else {
		qsort(q, k, sizeof *q, cmp_seq);
		size_t o = 0;
		for (size_t i = 0; i < k; i++) {
			memcpy(out + o, dw->rows + q[i].start, q[i].n * sizeof *out);
			o += q[i].n;
		}
		memcpy(dw->rows, out, dw->nrows * sizeof *out);
	}
	free(q);
	free(out);
	return 0;
}

static int push(struct dw *dw, size_t *cap, struct dw_row row)
{
	if (dw->nrows == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		struct dw_row *p = realloc(dw->rows, c * sizeof *p);
		if (!p)
			return hp_nomem(dw->ctx);
		dw->rows = p;
		*cap = c;
	}
	dw->rows[dw->nrows++] = row;
	return 0;
}

/*
 * A line-number program (DWARF 2 to 5, section 6.2): decoded here rather than
 * through libdwarf, whose per-row allocations made reading the 270k-line SQLite
 * table cost 0.4 s. Only what a row needs is kept: address, line, end of
 * sequence. Every read is bounds-checked against the section.
 */
struct lp {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static uint64_t lp_u(struct lp *c, size_t n)
{
	if (c->bad || n > c->len - c->off) {
		c->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[c->off + i] << (8 * i);
	c->off += n;
	return v;
}

static uint64_t lp_uleb(struct lp *c)
{
	uint64_t v = 0;
	for (int shift = 0; !c->bad; shift += 7) {
		if (c->off >= c->len || shift > 63) {
			c->bad = true;
			return 0;
		}
		uint8_t b = c->p[c->off++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	return v;
}

static int64_t lp_sleb(struct lp *c)
{
	int64_t v = 0;
	int shift = 0;
	uint8_t b = 0;
	do {
		if (c->off >= c->len || shift > 63) {
			c->bad = true;
			return 0;
		}
		b = c->p[c->off++];
		v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= -((int64_t)1 << shift);
	return v;
}

/* Decode the program of the unit at off; returns the offset after it. */
static int read_program(struct dw *dw, const uint8_t *sec, size_t size, size_t off,
			size_t *next, size_t *cap)
{
	struct lp c = { sec, size, off, false };
	uint64_t unit = lp_u(&c, 4);
	size_t offsz = 4;
	if (unit == 0xffffffffu) {
		unit = lp_u(&c, 8);
		offsz = 8;
	}
	if (c.bad || unit > size - c.off)
		return hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
			      "DWARF: a line table's length runs past .debug_line; the file is corrupt");
	size_t end = c.off + (size_t)unit;
	*next = end;
	c.len = end;
	unsigned version = (unsigned)lp_u(&c, 2);
	if (version < 2 || version > 5)
		return hp_err(dw->ctx, HP_EUNSUPPORTED, dw->obj->path, NULL,
			      "DWARF: line table version %u is not one of 2..5", version);
	if (version >= 5)
		lp_u(&c, 2); /* address_size, segment_selector_size */
	uint64_t hlen = lp_u(&c, offsz);
	size_t program = c.off + (size_t)hlen;
	unsigned min_len = (unsigned)lp_u(&c, 1);
	if (version >= 4)
		lp_u(&c, 1); /* maximum_operations_per_instruction */
	bool default_stmt = lp_u(&c, 1) != 0;
	int line_base = (int8_t)lp_u(&c, 1);
	unsigned line_range = (unsigned)lp_u(&c, 1);
	unsigned opcode_base = (unsigned)lp_u(&c, 1);
	const uint8_t *lengths = c.p + c.off;
	if (c.bad || !line_range || !opcode_base || hlen > end - (c.off - 1) ||
	    opcode_base - 1 > end - c.off || program > end)
		return hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
			      "DWARF: a line table header is malformed; the file is corrupt");
	(void)default_stmt;
	c.off = program;
	uint64_t addr = 0;
	int64_t line = 1;
	int err = 0;
	while (c.off < end && !c.bad && !err) {
		unsigned op = (unsigned)lp_u(&c, 1);
		if (op >= opcode_base) {
			unsigned adj = op - opcode_base;
			addr += (uint64_t)(adj / line_range) * min_len;
			line += line_base + (int)(adj % line_range);
			err = push(dw, cap, (struct dw_row){ addr, (uint32_t)line, false });
			continue;
		}
		switch (op) {
		case 0: { /* extended */
			uint64_t len = lp_uleb(&c);
			if (c.bad || !len || len > end - c.off) {
				c.bad = true;
				break;
			}
			size_t after = c.off + (size_t)len;
			unsigned sub = (unsigned)lp_u(&c, 1);
			if (sub == 1) { /* DW_LNE_end_sequence */
				err = push(dw, cap, (struct dw_row){ addr, (uint32_t)line, true });
				addr = 0;
				line = 1;
			} else if (sub == 2 && len == 9) { /* DW_LNE_set_address */
				addr = lp_u(&c, 8);
			}
			c.off = after;
			break;
		}
		case 1: /* DW_LNS_copy */
			err = push(dw, cap, (struct dw_row){ addr, (uint32_t)line, false });
			break;
		case 2: /* DW_LNS_advance_pc */
			addr += lp_uleb(&c) * min_len;
			break;
		case 3: /* DW_LNS_advance_line */
			line += lp_sleb(&c);
			break;
		case 8: /* DW_LNS_const_add_pc */
			addr += (uint64_t)((255 - opcode_base) / line_range) * min_len;
			break;
		case 9: /* DW_LNS_fixed_advance_pc */
			addr += lp_u(&c, 2);
			break;
		default: /* the others only take operands: their count is in the header */
			for (unsigned k = 0; k < lengths[op - 1] && !c.bad; k++)
				lp_uleb(&c);
			break;
		}
	}
	if (c.bad && !err)
		err = hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
			     "DWARF: a line-number program runs past its table; the file is corrupt");
	return err;
}

static int read_tables(struct dw *dw)
{
	struct obj_sec *sec = obj_find_sec(dw->obj, ".debug_line");
	if (!sec)
		return 0;
	const uint8_t *p;
	int err = dw_section_bytes(dw, sec, &p);
	if (err < 0 || !p)
		return err;
	size_t cap = 0;
	for (size_t off = 0, next = 0; off < sec->size && !err; off = next)
		err = read_program(dw, p, (size_t)sec->size, off, &next, &cap);
	return err;
}

int dw_line_at(struct dw *dw, const struct obj_sec *sec, uint64_t off, uint32_t *line)
{
	*line = 0;
	if (!dw->rows_read) {
		dw->rows_read = true;
		int err = read_tables(dw);
		if (err == 0)
			err = order_sequences(dw);
		if (err < 0) {
			free(dw->rows);
			dw->rows = NULL;
			dw->nrows = 0;
			return err;
		}

	}
	if (!dw->base[sec->index])
		return 0;
	uint64_t a = dw->base[sec->index] + off;
	/* The last row at or before a. */
	size_t lo = 0, hi = dw->nrows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dw->rows[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || dw->rows[lo - 1].end)
		return 0;
	/* A row of another section (no row yet in this one) does not count. */
	if (dw->rows[lo - 1].addr < dw->base[sec->index])
		return 0;
	*line = dw->rows[lo - 1].line;
	return 0;
}

/* ===================================================================== */
/* Inlined call sites                                                     */
/* ===================================================================== */

struct sites {
	struct dw_site *v;
	size_t n, cap;
};

static int add_site(struct dw *dw, struct sites *s, struct dw_site x)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? 2 * s->cap : 64;
		struct dw_site *p = realloc(s->v, c * sizeof *p);
		if (!p)
			return hp_nomem(dw->ctx);
		s->v = p;
		s->cap = c;
	}
	s->v[s->n++] = x;
	return 0;
}

/* Every inlined subroutine below die, with its ranges and call line. */
static int walk_sites(struct dw *dw, Dwarf_Die die, struct sites *s, int depth)
{
	Dwarf_Die child = NULL;
	int rc = dwarf_child(die, &child, &dw->err);
	if (rc == DW_DLV_ERROR)
		return dw_fail(dw, "reading a function's children");
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = dw_tag(dw, child);
		if (tag == DW_TAG_inlined_subroutine) {
			uint64_t r[256][2];
			size_t nr = 0;
			Dwarf_Unsigned line = 0;
			Dwarf_Attribute attr;
			if (dwarf_attr(child, DW_AT_call_line, &attr, &dw->err) == DW_DLV_OK) {
				if (dwarf_formudata(attr, &line, &dw->err) != DW_DLV_OK)
					dw_forget(dw);
				dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
			} else {
				dw_forget(dw);
			}
			err = dw_ranges(dw, child, r, 256, &nr);
			for (size_t i = 0; i < nr && !err && line; i++)
				err = add_site(dw, s, (struct dw_site){ r[i][0], r[i][1], (uint32_t)line });
		}
		if (!err && depth < 64 &&
		    (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block))
			err = walk_sites(dw, child, s, depth + 1);
		Dwarf_Die next = NULL;
		rc = dwarf_siblingof_b(dw->dbg, child, 1, &next, &dw->err);
		dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
		child = next;
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading a sibling");
	}
	return err;
}

int dw_inline_sites(struct dw *dw, const struct obj_sec *sec, uint64_t entry,
		    struct dw_site **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!dw->base[sec->index])
		return 0;
	uint64_t a = dw->base[sec->index] + entry;
	const struct dw_at *at = NULL;
	for (size_t i = 0; i < dw->nfuncs && !at; i++)
		if (dw->funcs[i].addr == a)
			at = &dw->funcs[i];
	if (!at)
		return 0;
	Dwarf_Die die;
	int err = dw_die_at(dw, at->die, &die);
	if (err < 0)
		return err;
	struct sites s = { 0 };
	err = walk_sites(dw, die, &s, 0);
	dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
	if (err < 0) {
		free(s.v);
		return err;
	}
	/* As offsets in sec; ranges elsewhere (a cold part's) are kept as they are
	 * relative to their own section's base, which no address of sec reaches. */
	for (size_t i = 0; i < s.n; i++) {
		s.v[i].lo -= dw->base[sec->index];
		s.v[i].hi -= dw->base[sec->index];
	}
	*out = s.v;
	*n = s.n;
	return 0;
}
