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

static int read_unit(struct dw *dw, const struct dw_cu *cu, size_t *cap)
{
	Dwarf_Die cudie;
	int err = dw_die_at(dw, cu->die, &cudie);
	if (err < 0)
		return err;
	Dwarf_Unsigned version;
	Dwarf_Small tables;
	Dwarf_Line_Context lc;
	int rc = dwarf_srclines_b(cudie, &version, &tables, &lc, &dw->err);
	dwarf_dealloc(dw->dbg, cudie, DW_DLA_DIE);
	if (rc == DW_DLV_NO_ENTRY)
		return 0;
	if (rc != DW_DLV_OK)
		return dw_fail(dw, "reading a line table");
	Dwarf_Line *lines;
	Dwarf_Signed n;
	if (dwarf_srclines_from_linecontext(lc, &lines, &n, &dw->err) != DW_DLV_OK) {
		dwarf_srclines_dealloc_b(lc);
		return dw_fail(dw, "reading a line table's rows");
	}
	for (Dwarf_Signed i = 0; i < n && !err; i++) {
		Dwarf_Addr addr;
		Dwarf_Unsigned line;
		Dwarf_Bool end = 0;
		if (dwarf_lineaddr(lines[i], &addr, &dw->err) != DW_DLV_OK ||
		    dwarf_lineno(lines[i], &line, &dw->err) != DW_DLV_OK ||
		    dwarf_lineendsequence(lines[i], &end, &dw->err) != DW_DLV_OK) {
			err = dw_fail(dw, "reading a line table row");
			break;
		}
		err = push(dw, cap, (struct dw_row){ addr, (uint32_t)line, end != 0 });
	}
	dwarf_srclines_dealloc_b(lc);
	return err;
}

int dw_line_at(struct dw *dw, const struct obj_sec *sec, uint64_t off, uint32_t *line)
{
	*line = 0;
	if (!dw->rows_read) {
		dw->rows_read = true;
		size_t cap = 0;
		for (size_t i = 0; i < dw->ncus; i++) {
			int err = read_unit(dw, &dw->cus[i], &cap);
			if (err < 0) {
				free(dw->rows);
				dw->rows = NULL;
				dw->nrows = 0;
				return err;
			}
		}
		if (dw->nrows > 1)
			qsort(dw->rows, dw->nrows, sizeof *dw->rows, cmp_row);
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
