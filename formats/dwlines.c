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

#include "formats/base.h"
#include "formats/dwarf_internal.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

/*
 * A line-number program (DWARF 2 to 5, section 6.2), decoded here rather than
 * through libdwarf, whose per-row allocations made reading the 270k-line SQLite
 * table cost 0.4 s. The first lookup walks every program once, keeping only an
 * index of its sequences (address span, where its opcodes start); a lookup then
 * decodes the one sequence that holds the address, and keeps its rows. Every
 * read is bounds-checked against the section.
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
	if (!c->bad && !dw_uleb(c->p, c->len, &c->off, &v))
		c->bad = true;
	return v;
}

static int64_t lp_sleb(struct lp *c)
{
	int64_t v = 0;
	if (!c->bad && !dw_sleb(c->p, c->len, &c->off, &v))
		c->bad = true;
	return v;
}

/* What a unit's header says about its program. */
struct lunit {
	size_t end;             /* where the unit's program ends in .debug_line */
	const uint8_t *lengths; /* standard_opcode_lengths */
	unsigned min_len, line_range, opcode_base;
	int line_base;
};

/* One sequence: from a start state to its end_sequence. */
struct lseq {
	uint64_t lo, hi;        /* addresses it covers */
	size_t start;           /* its first opcode in .debug_line */
	size_t unit;
	struct dw_row *rows;    /* decoded on first lookup */
	size_t nrows;
};

struct ltab {
	const uint8_t *sec;
	size_t size;
	struct lunit *units;
	size_t nunits;
	struct lseq *seqs;      /* by lo */
	size_t nseqs;
};

static int corrupt_program(struct dw *dw)
{
	return hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
		      "DWARF: a line-number program runs past its table; the file is corrupt");
}

/*
 * Run the program of unit u from start. Each row goes to row() (NULL: rows are
 * not wanted); each end of sequence to seq() with the span and where that
 * sequence began. With one_sequence, stop after the first end of sequence.
 */
struct lsink {
	struct dw *dw;
	int (*row)(struct lsink *k, uint64_t addr, uint32_t line, bool end);
	int (*seq)(struct lsink *k, uint64_t lo, uint64_t hi, size_t start);
	struct dw_row *rows;
	size_t nrows, cap;
	struct lseq *seqs;
	size_t nseqs, capseqs;
	size_t unit;
};

static int run(struct lsink *k, const struct ltab *t, const struct lunit *u, size_t start,
	       bool one_sequence)
{
	struct lp c = { t->sec, u->end, start, false };
	uint64_t addr = 0, lo = UINT64_MAX, hi = 0;
	int64_t line = 1;
	size_t seq_start = start;
	int err = 0;
#define ROW(end_)                                                                                  \
	do {                                                                                       \
		lo = addr < lo ? addr : lo;                                                        \
		hi = addr > hi ? addr : hi;                                                        \
		if (k->row)                                                                        \
			err = k->row(k, addr, (uint32_t)line, end_);                               \
	} while (0)
	while (c.off < u->end && !c.bad && !err) {
		unsigned op = (unsigned)lp_u(&c, 1);
		if (op >= u->opcode_base) {
			unsigned adj = op - u->opcode_base;
			addr += (uint64_t)(adj / u->line_range) * u->min_len;
			line += u->line_base + (int)(adj % u->line_range);
			ROW(false);
			continue;
		}
		switch (op) {
		case 0: { /* extended */
			uint64_t len = lp_uleb(&c);
			if (c.bad || !len || len > u->end - c.off) {
				c.bad = true;
				break;
			}
			size_t after = c.off + (size_t)len;
			unsigned sub = (unsigned)lp_u(&c, 1);
			if (sub == 1) { /* DW_LNE_end_sequence */
				ROW(true);
				if (!err && k->seq && lo <= hi)
					err = k->seq(k, lo, hi, seq_start);
				if (one_sequence)
					return err;
				addr = 0;
				line = 1;
				lo = UINT64_MAX;
				hi = 0;
				seq_start = after;
			} else if (sub == 2 && len == 9) { /* DW_LNE_set_address */
				addr = lp_u(&c, 8);
			}
			c.off = after;
			break;
		}
		case 1: /* DW_LNS_copy */
			ROW(false);
			break;
		case 2: /* DW_LNS_advance_pc */
			addr += lp_uleb(&c) * u->min_len;
			break;
		case 3: /* DW_LNS_advance_line */
			line += lp_sleb(&c);
			break;
		case 8: /* DW_LNS_const_add_pc */
			addr += (uint64_t)((255 - u->opcode_base) / u->line_range) * u->min_len;
			break;
		case 9: /* DW_LNS_fixed_advance_pc */
			addr += lp_u(&c, 2);
			break;
		default: /* the others only take operands: their count is in the header */
			for (unsigned i = 0; i < u->lengths[op - 1] && !c.bad; i++)
				lp_uleb(&c);
			break;
		}
	}
#undef ROW
	if (c.bad && !err)
		err = corrupt_program(k->dw);
	return err;
}

static int keep_seq(struct lsink *k, uint64_t lo, uint64_t hi, size_t start)
{
	if (hp_grow(k->dw->ctx, &k->seqs, &k->capseqs, k->nseqs, sizeof *k->seqs, 256) < 0)
		return -HP_ENOMEM;
	k->seqs[k->nseqs++] = (struct lseq){ lo, hi + 1, start, k->unit, NULL, 0 };
	return 0;
}

static int keep_row(struct lsink *k, uint64_t addr, uint32_t line, bool end)
{
	if (hp_grow(k->dw->ctx, &k->rows, &k->cap, k->nrows, sizeof *k->rows, 256) < 0)
		return -HP_ENOMEM;
	k->rows[k->nrows++] = (struct dw_row){ addr, line, end };
	return 0;
}

/* Parse the header of the unit at off; *next is the offset after the unit. */
static int read_header(struct dw *dw, struct ltab *t, size_t off, struct lunit *u, size_t *prog,
		       size_t *next)
{
	struct lp c = { t->sec, t->size, off, false };
	uint64_t unit = lp_u(&c, 4);
	size_t offsz = 4;
	if (unit == 0xffffffffu) {
		unit = lp_u(&c, 8);
		offsz = 8;
	}
	if (c.bad || unit > t->size - c.off)
		return hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
			      "DWARF: a line table's length runs past .debug_line; the file is corrupt");
	u->end = c.off + (size_t)unit;
	*next = u->end;
	c.len = u->end;
	unsigned version = (unsigned)lp_u(&c, 2);
	if (version < 2 || version > 5)
		return hp_err(dw->ctx, HP_EUNSUPPORTED, dw->obj->path, NULL,
			      "DWARF: line table version %u is not one of 2..5", version);
	if (version >= 5)
		lp_u(&c, 2); /* address_size, segment_selector_size */
	uint64_t hlen = lp_u(&c, offsz);
	size_t program = c.off + (size_t)hlen;
	u->min_len = (unsigned)lp_u(&c, 1);
	if (version >= 4)
		lp_u(&c, 1); /* maximum_operations_per_instruction */
	lp_u(&c, 1);         /* default_is_stmt */
	u->line_base = (int8_t)lp_u(&c, 1);
	u->line_range = (unsigned)lp_u(&c, 1);
	u->opcode_base = (unsigned)lp_u(&c, 1);
	u->lengths = c.p + c.off;
	if (c.bad || !u->line_range || !u->opcode_base || hlen > u->end - (c.off - 1) ||
	    u->opcode_base - 1 > u->end - c.off || program > u->end)
		return hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
			      "DWARF: a line table header is malformed; the file is corrupt");
	*prog = program;
	return 0;
}

static int cmp_lseq(const void *a, const void *b)
{
	const struct lseq *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Index every sequence of every unit (once). */
static int index_tables(struct dw *dw)
{
	struct obj_sec *sec = obj_find_sec(dw->obj, ".debug_line");
	if (!sec)
		return 0;
	struct ltab *t = calloc(1, sizeof *t);
	if (!t)
		return hp_nomem(dw->ctx);
	dw->lines = t;
	int err = dw_section_bytes(dw, sec, &t->sec);
	if (err < 0 || !t->sec)
		return err;
	t->size = (size_t)sec->size;
	struct lsink k = { dw, NULL, keep_seq, NULL, 0, 0, NULL, 0, 0, 0 };
	size_t capunits = 0;
	for (size_t off = 0, next = 0; off < t->size && !err; off = next) {
		if (t->nunits == capunits) {
			size_t c = capunits ? 2 * capunits : 8;
			struct lunit *p = realloc(t->units, c * sizeof *p);
			if (!p) {
				err = hp_nomem(dw->ctx);
				break;
			}
			t->units = p;
			capunits = c;
		}
		struct lunit *u = &t->units[t->nunits];
		size_t prog = 0;
		if ((err = read_header(dw, t, off, u, &prog, &next)) < 0)
			break;
		k.unit = t->nunits++;
		err = run(&k, t, u, prog, false);
	}
	t->seqs = k.seqs;
	t->nseqs = k.nseqs;
	if (!err && t->nseqs > 1)
		qsort(t->seqs, t->nseqs, sizeof *t->seqs, cmp_lseq);
	return err;
}

void dw_lines_free(struct dw *dw)
{
	struct ltab *t = dw->lines;
	if (!t)
		return;
	for (size_t i = 0; i < t->nseqs; i++)
		free(t->seqs[i].rows);
	free(t->seqs);
	free(t->units);
	free(t);
	dw->lines = NULL;
}

int dw_line_at(struct dw *dw, const struct obj_sec *sec, uint64_t off, uint32_t *line)
{
	*line = 0;
	if (!dw->lines_read) {
		dw->lines_read = true;
		int err = index_tables(dw);
		if (err < 0) {
			dw_lines_free(dw);
			return err;
		}
	}
	struct ltab *t = dw->lines;
	if (!t || !dw->base[sec->index])
		return 0;
	uint64_t a = dw->base[sec->index] + off;
	/* The sequence holding a: the last one starting at or before it. */
	size_t lo = 0, hi = t->nseqs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->seqs[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || a >= t->seqs[lo - 1].hi)
		return 0;
	struct lseq *q = &t->seqs[lo - 1];
	if (!q->rows) {
		struct lsink k = { dw, keep_row, NULL, NULL, 0, 0, NULL, 0, 0, q->unit };
		int err = run(&k, t, &t->units[q->unit], q->start, true);
		if (err < 0) {
			free(k.rows);
			return err;
		}
		q->rows = k.rows;
		q->nrows = k.nrows;
	}
	/* The last row at or before a, in the sequence's own (rising) order. */
	lo = 0;
	hi = q->nrows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (q->rows[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || q->rows[lo - 1].end)
		return 0;
	*line = q->rows[lo - 1].line;
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
	if (hp_grow(dw->ctx, &s->v, &s->cap, s->n, sizeof *s->v, 64) < 0)
		return -HP_ENOMEM;
	s->v[s->n++] = x;
	return 0;
}

/* One inlined call: each of its ranges, with the line it was called from. */
static int visit_site(struct dw *dw, Dwarf_Die die, void *arg)
{
	uint64_t r[256][2];
	size_t nr = 0;
	uint64_t line = 0;
	if (!dw_udata(dw, die, DW_AT_call_line, &line) || line == 0 || line > UINT32_MAX)
		return 0; /* no call line: nothing to place */
	int err = dw_ranges(dw, die, r, 256, &nr);
	for (size_t i = 0; i < nr && !err; i++)
		err = add_site(dw, arg, (struct dw_site){ r[i][0], r[i][1], (uint32_t)line });
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
	err = dw_each_inline(dw, die, visit_site, &s);
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
