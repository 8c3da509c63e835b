/*
 * dwarfread.c: open the DWARF of a relocatable object and index it. One of the
 * two files that include libdwarf (20210528, the "consumer" API); dwtypes.c
 * builds the model of types, variables and functions on this index.
 *
 * In a .o every address is relative to a section that has no address yet: with
 * -ffunction-sections every function starts at low_pc 0, and libdwarf cannot
 * say which section an address is in. So libdwarf does not read the file here.
 * It reads our object model through its object-access interface
 * (dwarf_object_init_b), and we hand it .debug_* sections that we relocated
 * ourselves, having given every allocated section an address of its own (from
 * 0x10000 up, like libdwfl's offline layout). An address in the DWARF then maps
 * back to exactly one (section, offset).
 *
 * Opening walks the top-level entries of every unit once: the entry points of
 * concrete subprograms (low_pc, or each range's start for a function split in
 * hot and cold parts), the variables with a static address, and the named
 * types. Statics declared inside functions need a walk of every function's
 * body; that happens only when one is asked for and not found at the top.
 */
#include <elf.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/dwarf_internal.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

#define FIRST_ADDR 0x10000ull

/* ===================================================================== */
/* The object-access interface                                           */
/* ===================================================================== */

static int get_section_info(void *p, Dwarf_Half i, Dwarf_Obj_Access_Section *out, int *err)
{
	struct dw *d = p;
	(void)err;
	if (i >= d->obj->nsecs)
		return DW_DLV_NO_ENTRY;
	const struct obj_sec *s = &d->obj->secs[i];
	memset(out, 0, sizeof *out);
	out->addr = d->base[i];
	out->type = s->type;
	out->size = s->size;
	out->name = s->name;
	/* Hide the link between .rela.debug_* and their targets: we relocate. */
	out->link = s->type == SHT_RELA ? 0 : s->link;
	out->info = s->type == SHT_RELA ? 0 : s->info;
	out->entrysize = s->entsize;
	return DW_DLV_OK;
}

static Dwarf_Endianness get_byte_order(void *p)
{
	(void)p;
	return DW_OBJECT_LSB;
}

static Dwarf_Small get_length_size(void *p)
{
	(void)p;
	return 4;
}

static Dwarf_Small get_pointer_size(void *p)
{
	(void)p;
	return 8;
}

static Dwarf_Unsigned get_section_count(void *p)
{
	return ((struct dw *)p)->obj->nsecs;
}

/* Store S + A into the field of a relocation of a debug section. */
static int apply(struct dw *d, const struct obj_sec *sec, uint8_t *buf, uint64_t off,
		 uint32_t type, const struct obj_sym *s, int64_t addend)
{
	uint64_t S = s->sec ? d->base[s->sec->index] + s->value : s->value;
	uint64_t v = S + (uint64_t)addend;
	unsigned width;
	switch (type) {
	case R_X86_64_64:
	case R_X86_64_DTPOFF64:
		width = 8;
		break;
	case R_X86_64_32:
	case R_X86_64_32S:
	case R_X86_64_DTPOFF32:
		width = 4;
		break;
	default:
		/* NONE, and PC-relative forms, which do not occur in .debug_*: leave the field. */
		return 0;
	}
	if (!hp_range_ok(off, width, sec->size))
		return hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
			      "relocation at %#llx lies outside %s; the file is corrupt",
			      (unsigned long long)off, sec->name);
	if (width == 8)
		hp_store_le64(buf + off, v);
	else
		hp_store_le32(buf + off, (uint32_t)v);
	return 0;
}

/*
 * Apply sec's relocations to a copy of its bytes: S + A with S the address we
 * gave the symbol's section. Debug sections use R_X86_64_64 and _32 for
 * addresses and offsets into other debug sections, and DTPOFF for TLS
 * variables' locations. The entries are read straight from the SHT_RELA bytes:
 * .debug_info has more relocations than the rest of the object together, and
 * the differ never needs them as obj_rel.
 */
static int relocate(struct dw *d, struct obj_sec *sec, uint8_t **out)
{
	const struct obj_sec *rs = sec->relsec;
	if (!sec->rels_loaded && (rs->entsize != 24 || rs->size % 24 || (!rs->data && rs->size)))
		return hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
			      "%s: not a table of Elf64_Rela; the file is corrupt", rs->name);
	uint8_t *buf = malloc(sec->size ? sec->size : 1);
	if (!buf)
		return hp_nomem(d->ctx);
	if (sec->size)
		memcpy(buf, sec->data, sec->size);
	int err = 0;
	if (sec->rels_loaded) {
		for (size_t k = 0; k < sec->nrels && !err; k++) {
			const struct obj_rel *r = &sec->rels[k];
			err = apply(d, sec, buf, r->offset, r->type, r->sym, r->addend);
		}
	} else {
		for (uint64_t at = 0; at < rs->size && !err; at += 24) {
			const uint8_t *e = rs->data + at;
			uint64_t info = hp_load_le64(e + 8);
			uint64_t symi = info >> 32;
			if (symi >= d->obj->nsyms) {
				err = hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
					     "%s: symbol index %llu out of range; the file is corrupt",
					     rs->name, (unsigned long long)symi);
				break;
			}
			err = apply(d, sec, buf, hp_load_le64(e), (uint32_t)info, &d->obj->syms[symi],
				    (int64_t)hp_load_le64(e + 16));
		}
	}
	if (err < 0) {
		free(buf);
		return err;
	}
	*out = buf;
	return 0;
}

/*
 * Sections whose relocated contents are never read here: location lists
 * (variables are found by their DW_OP_addr expressions, never by lists).
 * libdwarf still reads their headers, which hold no relocated field.
 */
static bool unrelocated(const struct obj_sec *s)
{
	return !strcmp(s->name, ".debug_loclists") || !strcmp(s->name, ".debug_loc");
}

/*
 * libdwarf 20210528 reads every header of .debug_rnglists and .debug_loclists
 * as soon as it reads .debug_info, and when one is malformed it frees its list
 * of headers and goes on using it: a double free (fixed in later libdwarf, but
 * this is the one Debian 12 ships). So every header is checked here first, as
 * its internal_read_header() reads it:
 *   unit_length:u32 (0xffffffff: then u64), at most the section's size
 *   version:u16 = 5, address_size:u8 in {2, 4, 8}, segment_selector_size:u8,
 *   offset_entry_count:u32, all inside the section
 * and the next header starts after unit_length's bytes; no fragment of a
 * header may follow the last one (1 to 3 bytes did it again, fuzzing later).
 */
static bool lists_headers_ok(const uint8_t *p, uint64_t n)
{
	uint64_t at = 0;
	while (at < n) {
		uint64_t len, fields;
		if (n - at < 4)
			return false; /* libdwarf reads a header there too, and double-frees */
		if (hp_load_le32(p + at) == 0xffffffffu) {
			if (n - at < 12)
				return false;
			len = hp_load_le64(p + at + 4);
			fields = at + 12;
		} else {
			len = hp_load_le32(p + at);
			fields = at + 4;
		}
		if (len > n || n - fields < 8 || hp_load_le16(p + fields) != 5)
			return false;
		uint8_t asize = p[fields + 2];
		if (asize != 2 && asize != 4 && asize != 8)
			return false;
		at = fields + len;
	}
	return true;
}

bool dw_uleb(const uint8_t *p, size_t n, size_t *at, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*at >= n)
			return false;
		uint8_t b = p[(*at)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

bool dw_sleb(const uint8_t *p, size_t n, size_t *at, int64_t *out)
{
	uint64_t v = 0; /* two's complement in unsigned arithmetic: no shift is UB */
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*at >= n)
			return false;
		uint8_t b = p[(*at)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (shift + 7 < 64 && (b & 0x40))
				v |= ~UINT64_C(0) << (shift + 7);
			*out = (int64_t)v;
			return true;
		}
	}
	return false;
}

/* Skip a NUL-terminated string at *at, the NUL included; false if it runs past n. */
static bool skip_string(const uint8_t *p, uint64_t n, uint64_t *at)
{
	while (*at < n && p[*at])
		(*at)++;
	return (*at)++ < n;
}

/* Skip one value of form; its value in *v when it is a number. */
static bool line_form(const uint8_t *p, uint64_t n, uint64_t *at, uint64_t form, unsigned offsize,
		      uint64_t *v)
{
	uint64_t len = 0;
	*v = 0;
	switch (form) {
	case DW_FORM_string:
		return skip_string(p, n, at);
	case DW_FORM_udata:
		return dw_uleb(p, n, at, v);
	case DW_FORM_sdata:
		return dw_uleb(p, n, at, &len);
	case DW_FORM_block:
		if (!dw_uleb(p, n, at, &len))
			return false;
		break;
	case DW_FORM_data1:
	case DW_FORM_data2:
	case DW_FORM_data4:
	case DW_FORM_data8:
		len = form == DW_FORM_data1 ? 1 : form == DW_FORM_data2 ? 2 : form == DW_FORM_data4 ? 4 : 8;
		if (len > n - *at)
			return false;
		for (uint64_t i = 0; i < len; i++)
			*v |= (uint64_t)p[*at + i] << (8 * i);
		break;
	case DW_FORM_data16:
		len = 16;
		break;
	case DW_FORM_strp:
	case DW_FORM_line_strp:
		len = offsize;
		break;
	default:
		return false;
	}
	if (len > n - *at)
		return false;
	*at += len;
	return true;
}

/*
 * libdwarf 20210528's dwarf_srcfiles() joins each file name to the directory
 * its entry names without checking that the directory exists: an index past
 * the table made it read a string pointer from beyond the array (a crash,
 * found by the hpdiff fuzz target). So every line table header is read here
 * first, as far as its file table, and every file's directory index must name
 * a directory: DWARF 5 (formats of entries, then entries), DWARF 2 to 4
 * (strings, then files of "name, dir, mtime, size"). A header this cannot
 * read (a form no compiler uses there) is refused too.
 */
static bool line_headers_ok(const uint8_t *p, uint64_t n)
{
	uint64_t at = 0;
	while (at < n) {
		uint64_t len, start, ndirs = 0, v;
		unsigned offsize = 4;
		if (n - at < 4)
			return true;
		if (hp_load_le32(p + at) == 0xffffffffu) {
			if (n - at < 12)
				return false;
			len = hp_load_le64(p + at + 4);
			start = at + 12;
			offsize = 8;
		} else {
			len = hp_load_le32(p + at);
			start = at + 4;
		}
		if (len > n - start || len < 2)
			return false;
		uint64_t end = start + len, q = start;
		uint16_t version = hp_load_le16(p + q);
		q += 2;
		if (version < 2 || version > 5)
			return false;
		if (version == 5)
			q += 2; /* address_size, segment_selector_size */
		q += offsize; /* header_length */
		/* minimum_instruction_length, maximum_operations_per_instruction (4+),
		 * default_is_stmt, line_base, line_range, opcode_base */
		q += version >= 4 ? 6 : 5;
		if (q > end)
			return false;
		uint8_t opcode_base = p[q - 1];
		q += opcode_base ? opcode_base - 1u : 0; /* standard_opcode_lengths */
		if (q > end)
			return false;
		if (version == 5) {
			for (int table = 0; table < 2; table++) {
				if (q >= end)
					return false;
				uint8_t nformats = p[q++];
				uint64_t formats[2 * 255];
				for (unsigned i = 0; i < 2u * nformats; i++)
					if (!dw_uleb(p, end, &q, &formats[i]))
						return false;
				uint64_t count;
				if (!dw_uleb(p, end, &q, &count))
					return false;
				/* Entries without formats would take no bytes, and libdwarf
				 * allocates for each: refuse them. Every form read here takes
				 * a byte at least, so the bytes bound the entries. */
				if (count && !nformats)
					return false;
				for (uint64_t e = 0; e < count; e++)
					for (unsigned i = 0; i < nformats; i++) {
						if (!line_form(p, end, &q, formats[2 * i + 1], offsize, &v))
							return false;
						if (table == 1 && formats[2 * i] == DW_LNCT_directory_index &&
						    v >= ndirs)
							return false;
					}
				if (table == 0)
					ndirs = count;
			}
		} else {
			for (;;) { /* include_directories, then an empty string */
				if (q >= end)
					return false;
				if (!p[q])
					break;
				if (!skip_string(p, end, &q))
					return false;
				ndirs++;
			}
			for (q++;;) { /* file_names: name, dir, mtime, size; then an empty string */
				if (q >= end)
					return false;
				if (!p[q])
					break;
				if (!skip_string(p, end, &q))
					return false;
				uint64_t dir, skip;
				if (!dw_uleb(p, end, &q, &dir) || dir > ndirs ||
				    !dw_uleb(p, end, &q, &skip) || !dw_uleb(p, end, &q, &skip))
					return false;
			}
		}
		at = end;
	}
	return true;
}

/*
 * libdwarf 20210528 trusts .debug_abbrev: an abbreviation with tag 0 and a
 * children flag of 0x34 sent dwarf_siblingof_b() into an endless loop inside
 * libdwarf (found by the dwarf fuzz target). So every abbreviation is read
 * here first: code, a tag that is not 0, a children flag of 0 or 1, then
 * (attribute, form) pairs up to (0, 0), each attribute not 0 and each form
 * one DWARF 2 to 5 or GNU defines, DW_FORM_indirect aside (no compiler
 * writes it, and its form comes from the entry itself).
 */
static bool abbrev_form_ok(uint64_t form)
{
	return (form >= 0x01 && form <= 0x2c && form != 0x02 && form != 0x16) || form == 0x1f01 ||
	       form == 0x1f02 || form == 0x1f20 || form == 0x1f21;
}

static bool abbrevs_ok(const uint8_t *p, uint64_t n)
{
	uint64_t at = 0, code, tag, attr, form, skip;
	while (at < n) {
		if (!dw_uleb(p, n, &at, &code))
			return false;
		if (code == 0)
			continue; /* the end of one unit's abbreviations */
		if (!dw_uleb(p, n, &at, &tag) || tag == 0 || at >= n || p[at] > 1)
			return false;
		at++;
		for (;;) {
			if (!dw_uleb(p, n, &at, &attr) || !dw_uleb(p, n, &at, &form))
				return false;
			if (attr == 0 && form == 0)
				break;
			if (attr == 0 || !abbrev_form_ok(form))
				return false;
			if (form == DW_FORM_implicit_const && !dw_uleb(p, n, &at, &skip))
				return false;
		}
	}
	return true;
}

/*
 * libdwarf 20210528 also trusts DW_AT_sibling inside a subtree: skipping a
 * DIE's children, dwarf_siblingof_b() follows each child's sibling pointer, and
 * one that points back loops forever (found by the hpdiff fuzz target). So
 * every DIE of every unit is walked here first, with the unit's abbreviations,
 * and each DW_AT_sibling must point forward, inside its unit.
 */
struct abbrev_ref {
	uint64_t code, at; /* at: its (attribute, form) pairs in .debug_abbrev */
	uint64_t fixed;    /* the size of its values when all are of fixed size and none
			    * is a DW_AT_sibling, else VARIABLE: then each is read */
};
#define VARIABLE UINT64_MAX

static int cmp_abbrev(const void *a, const void *b)
{
	const struct abbrev_ref *x = a, *y = b;
	return x->code < y->code ? -1 : x->code > y->code;
}

/* Skip one attribute value; *v gets it when it is a fixed-size or LEB number. */
static bool die_form(const uint8_t *p, uint64_t n, uint64_t *at, uint64_t form, unsigned offsize,
		     unsigned asize, unsigned version, uint64_t *v)
{
	uint64_t len = 0;
	*v = 0;
	switch (form) {
	case DW_FORM_flag_present:
	case DW_FORM_implicit_const:
		return true;
	case DW_FORM_udata:
	case DW_FORM_ref_udata:
	case DW_FORM_strx:
	case DW_FORM_addrx:
	case DW_FORM_loclistx:
	case DW_FORM_rnglistx:
	case DW_FORM_GNU_addr_index:
	case DW_FORM_GNU_str_index:
	case DW_FORM_sdata:
		return dw_uleb(p, n, at, v);
	case DW_FORM_string:
		return skip_string(p, n, at);
	case DW_FORM_block1:
	case DW_FORM_block2:
	case DW_FORM_block4: {
		unsigned w = form == DW_FORM_block1 ? 1 : form == DW_FORM_block2 ? 2 : 4;
		if (w > n - *at)
			return false;
		for (unsigned i = 0; i < w; i++)
			len |= (uint64_t)p[*at + i] << (8 * i);
		*at += w;
		return len <= n - *at && (*at += len, true);
	}
	case DW_FORM_block:
	case DW_FORM_exprloc:
		return dw_uleb(p, n, at, &len) && len <= n - *at && (*at += len, true);
	case DW_FORM_addr:
		len = asize;
		break;
	case DW_FORM_data1:
	case DW_FORM_ref1:
	case DW_FORM_flag:
	case DW_FORM_strx1:
	case DW_FORM_addrx1:
		len = 1;
		break;
	case DW_FORM_data2:
	case DW_FORM_ref2:
	case DW_FORM_strx2:
	case DW_FORM_addrx2:
		len = 2;
		break;
	case DW_FORM_strx3:
	case DW_FORM_addrx3:
		len = 3;
		break;
	case DW_FORM_data4:
	case DW_FORM_ref4:
	case DW_FORM_strx4:
	case DW_FORM_addrx4:
	case DW_FORM_ref_sup4:
		len = 4;
		break;
	case DW_FORM_data8:
	case DW_FORM_ref8:
	case DW_FORM_ref_sig8:
	case DW_FORM_ref_sup8:
		len = 8;
		break;
	case DW_FORM_data16:
		len = 16;
		break;
	case DW_FORM_ref_addr:
		len = version == 2 ? asize : offsize;
		break;
	case DW_FORM_strp:
	case DW_FORM_line_strp:
	case DW_FORM_sec_offset:
	case DW_FORM_strp_sup:
	case DW_FORM_GNU_ref_alt:
	case DW_FORM_GNU_strp_alt:
		len = offsize;
		break;
	default:
		return false;
	}
	if (len > n - *at)
		return false;
	for (uint64_t i = 0; i < len && i < 8; i++)
		*v |= (uint64_t)p[*at + i] << (8 * i);
	*at += len;
	return true;
}

/* The size of a value of form, or VARIABLE when it depends on the value. */
static uint64_t form_size(uint64_t form, unsigned offsize, unsigned asize, unsigned version)
{
	uint64_t at = 0, v;
	switch (form) {
	case DW_FORM_udata: case DW_FORM_ref_udata: case DW_FORM_strx: case DW_FORM_addrx:
	case DW_FORM_loclistx: case DW_FORM_rnglistx: case DW_FORM_GNU_addr_index:
	case DW_FORM_GNU_str_index: case DW_FORM_sdata: case DW_FORM_string: case DW_FORM_block:
	case DW_FORM_exprloc: case DW_FORM_block1: case DW_FORM_block2: case DW_FORM_block4:
		return VARIABLE;
	}
	/* Every other form die_form() knows has a size of its own: measure it on
	 * enough zero bytes. */
	static const uint8_t zeros[16];
	return die_form(zeros, sizeof zeros, &at, form, offsize, asize, version, &v) ? at : VARIABLE;
}

/* The abbreviations of the table at off, sorted by code (malloc'ed); NULL if unreadable. */
static struct abbrev_ref *read_abbrevs(const uint8_t *a, uint64_t an, uint64_t off, size_t *count,
				       unsigned offsize, unsigned asize, unsigned version)
{
	size_t cap = 64, k = 0;
	struct abbrev_ref *v = malloc(cap * sizeof *v);
	uint64_t at = off, code, tag, attr, form, skip;
	while (v && at < an) {
		if (!dw_uleb(a, an, &at, &code))
			break;
		if (code == 0) {
			qsort(v, k, sizeof *v, cmp_abbrev);
			*count = k;
			return v;
		}
		if (!dw_uleb(a, an, &at, &tag) || at >= an)
			break;
		if (k == cap) {
			struct abbrev_ref *w = realloc(v, 2 * cap * sizeof *w);
			if (!w)
				break;
			v = w;
			cap *= 2;
		}
		struct abbrev_ref *r = &v[k++];
		*r = (struct abbrev_ref){ code, at, 0 }; /* at: the children flag, then the pairs */
		at++;
		do {
			if (!dw_uleb(a, an, &at, &attr) || !dw_uleb(a, an, &at, &form))
				goto bad;
			if (form == DW_FORM_implicit_const && !dw_uleb(a, an, &at, &skip))
				goto bad;
			if (!attr && !form)
				break;
			uint64_t size = form_size(form, offsize, asize, version);
			if (attr == DW_AT_sibling || size == VARIABLE)
				r->fixed = VARIABLE;
			else if (r->fixed != VARIABLE)
				r->fixed += size;
		} while (attr || form);
	}
	if (v && at >= an && off < an) { /* a table may end with the section */
		qsort(v, k, sizeof *v, cmp_abbrev);
		*count = k;
		return v;
	}
bad:
	free(v);
	return NULL;
}

/* What info_siblings_ok() found wrong: the entry, and where its sibling points. */
struct sibling_fault {
	uint64_t die, target;
	bool unreadable; /* the entry itself could not be read */
};

/* One unit's DIEs, from at to end; cu is where the unit starts. */
static bool unit_siblings_ok(const uint8_t *p, uint64_t cu, uint64_t at, uint64_t end,
			     const uint8_t *a, uint64_t an, const struct abbrev_ref *ab, size_t nab,
			     unsigned offsize, unsigned asize, unsigned version,
			     struct sibling_fault *f)
{
	while (at < end) {
		uint64_t die = at, code, attr, form, v, skip;
		*f = (struct sibling_fault){ die, 0, true };
		if (!dw_uleb(p, end, &at, &code))
			return false;
		if (code == 0)
			continue;
		/* Compilers number abbreviations 1, 2, 3 ...: then the code is the index. */
		const struct abbrev_ref *r = NULL;
		if (code <= nab && ab[code - 1].code == code) {
			r = &ab[code - 1];
		} else {
			struct abbrev_ref key = { code, 0 };
			r = bsearch(&key, ab, nab, sizeof *ab, cmp_abbrev);
		}
		if (!r)
			return false;
		if (r->fixed != VARIABLE) { /* most entries: nothing to check in them */
			if (r->fixed > end - at)
				return false;
			at += r->fixed;
			continue;
		}
		uint64_t q = r->at + 1; /* past the children flag */
		for (;;) {
			if (!dw_uleb(a, an, &q, &attr) || !dw_uleb(a, an, &q, &form))
				return false;
			if (!attr && !form)
				break;
			if (form == DW_FORM_implicit_const && !dw_uleb(a, an, &q, &skip))
				return false;
			if (!die_form(p, end, &at, form, offsize, asize, version, &v))
				return false;
			if (attr != DW_AT_sibling)
				continue;
			if (form != DW_FORM_ref_addr && form != DW_FORM_ref1 && form != DW_FORM_ref2 &&
			    form != DW_FORM_ref4 && form != DW_FORM_ref8 && form != DW_FORM_ref_udata)
				return false;
			uint64_t target = form == DW_FORM_ref_addr ? v : cu + v;
			if (target <= die || target >= end || v > end) {
				*f = (struct sibling_fault){ die, target, false };
				return false;
			}
		}
	}
	return true;
}

/*
 * A unit header libdwarf itself refuses (a length past the section, an unknown
 * version) ends the walk with success: libdwarf says precisely what is wrong,
 * and cannot reach the units after it.
 */
static bool info_siblings_ok(const uint8_t *p, uint64_t n, const uint8_t *a, uint64_t an,
			     struct sibling_fault *f)
{
	uint64_t at = 0;
	while (at < n) {
		uint64_t cu = at, len, abbrev_off = 0;
		unsigned offsize = 4, asize = 8, version;
		if (n - at < 4)
			return true;
		len = (uint64_t)p[at] | (uint64_t)p[at + 1] << 8 | (uint64_t)p[at + 2] << 16 |
		      (uint64_t)p[at + 3] << 24;
		at += 4;
		if (len == 0xffffffff) {
			if (n - at < 8)
				return true;
			len = 0;
			for (int i = 0; i < 8; i++)
				len |= (uint64_t)p[at + i] << (8 * i);
			at += 8;
			offsize = 8;
		}
		if (len > n - at || len < 2)
			return true;
		uint64_t end = at + len;
		version = (unsigned)(p[at] | p[at + 1] << 8);
		at += 2;
		if (version < 2 || version > 5)
			return true;
		if (version == 5) {
			if (end - at < 2 + offsize)
				return true;
			unsigned type = p[at];
			asize = p[at + 1];
			at += 2;
			for (unsigned i = 0; i < offsize; i++)
				abbrev_off |= (uint64_t)p[at + i] << (8 * i);
			at += offsize;
			uint64_t extra = type == DW_UT_skeleton || type == DW_UT_split_compile ? 8
					 : type == DW_UT_type || type == DW_UT_split_type ? 8 + offsize
											   : 0;
			if (end - at < extra)
				return true;
			at += extra;
		} else {
			if (end - at < offsize + 1)
				return true;
			for (unsigned i = 0; i < offsize; i++)
				abbrev_off |= (uint64_t)p[at + i] << (8 * i);
			at += offsize;
			asize = p[at++];
		}
		if (asize != 4 && asize != 8)
			return true;
		size_t nab = 0;
		struct abbrev_ref *ab = abbrev_off < an ? read_abbrevs(a, an, abbrev_off, &nab, offsize, asize, version)
					     : NULL;
		if (!ab)
			return true; /* libdwarf refuses the unit's abbreviation offset */
		bool ok = unit_siblings_ok(p, cu, at, end, a, an, ab, nab, offsize, asize, version, f);
		free(ab);
		if (!ok)
			return false;
		at = end;
	}
	return true;
}

static bool is_lists_section(const char *name)
{
	return !strncmp(name, ".debug_rnglists", 15) || !strncmp(name, ".debug_loclists", 15);
}

static int load_section(void *p, Dwarf_Half i, Dwarf_Small **data, int *error)
{
	struct dw *d = p;
	if (i >= d->obj->nsecs)
		return DW_DLV_NO_ENTRY;
	struct obj_sec *s = &d->obj->secs[i];
	if (!s->data) {
		*error = DW_DLE_MDE;
		return DW_DLV_NO_ENTRY;
	}
	if (!obj_sec_is_alloc(s) && s->relsec && !unrelocated(s)) {
		if (!d->copy[i]) {
			int err = relocate(d, s, &d->copy[i]);
			if (err < 0) {
				d->failed = err;
				*error = DW_DLE_RELOC_SECTION_PTR_NULL;
				return DW_DLV_ERROR;
			}
		}
		*data = d->copy[i];
	} else {
		*data = (Dwarf_Small *)s->data;
	}
	if (is_lists_section(s->name) && !lists_headers_ok(*data, s->size)) {
		d->failed = hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
				   "DWARF: section %u '%s': a list header is malformed; the file is corrupt",
				   s->index, s->name);
		*error = DW_DLE_SECTION_SIZE_ERROR;
		return DW_DLV_ERROR;
	}
	if (!strcmp(s->name, ".debug_info")) {
		const struct obj_sec *ab = obj_find_sec(d->obj, ".debug_abbrev");
		struct sibling_fault f;
		if (ab && ab->data && abbrevs_ok(ab->data, ab->size) &&
		    !info_siblings_ok(*data, s->size, ab->data, ab->size, &f)) {
			if (f.unreadable)
				d->failed = hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
						   "DWARF: section %u '%s': the entry at %#llx cannot be read (an undefined abbreviation, or a value past its unit); the file is corrupt",
						   s->index, s->name, (unsigned long long)f.die);
			else
				d->failed = hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
						   "DWARF: section %u '%s': the DW_AT_sibling of the entry at %#llx points to %#llx, not forward inside its unit; the file is corrupt",
						   s->index, s->name, (unsigned long long)f.die,
						   (unsigned long long)f.target);
			*error = DW_DLE_SECTION_SIZE_ERROR;
			return DW_DLV_ERROR;
		}
	}
	if (!strncmp(s->name, ".debug_abbrev", 13) && !abbrevs_ok(*data, s->size)) {
		d->failed = hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
				   "DWARF: section %u '%s': an abbreviation is malformed; the file is corrupt",
				   s->index, s->name);
		*error = DW_DLE_SECTION_SIZE_ERROR;
		return DW_DLV_ERROR;
	}
	if (!strncmp(s->name, ".debug_line", 11) && strncmp(s->name, ".debug_line_str", 15) &&
	    !line_headers_ok(*data, s->size)) {
		d->failed = hp_err(d->ctx, HP_ECORRUPT, d->obj->path, NULL,
				   "DWARF: section %u '%s': a line table header is malformed or names a directory it does not have; the file is corrupt",
				   s->index, s->name);
		*error = DW_DLE_SECTION_SIZE_ERROR;
		return DW_DLV_ERROR;
	}
	return DW_DLV_OK;
}

int dw_section_bytes(struct dw *d, struct obj_sec *s, const uint8_t **out)
{
	*out = NULL;
	if (!s->data)
		return 0;
	if (!obj_sec_is_alloc(s) && s->relsec && !unrelocated(s)) {
		if (!d->copy[s->index]) {
			int err = relocate(d, s, &d->copy[s->index]);
			if (err < 0)
				return err;
		}
		*out = d->copy[s->index];
		return 0;
	}
	*out = s->data;
	return 0;
}

static const Dwarf_Obj_Access_Methods methods = {
	get_section_info, get_byte_order, get_length_size, get_pointer_size,
	get_section_count, load_section, NULL,
};

/* ===================================================================== */
/* Addresses                                                              */
/* ===================================================================== */

static void assign_addresses(struct dw *d)
{
	uint64_t a = FIRST_ADDR;
	for (size_t i = 1; i < d->obj->nsecs; i++) {
		const struct obj_sec *s = &d->obj->secs[i];
		if (!obj_sec_is_alloc(s))
			continue;
		uint64_t al = s->align > 16 && s->align < (1u << 20) ? s->align : 16;
		a = (a + al - 1) & ~(al - 1);
		d->base[i] = a;
		a += s->size + 16; /* a gap, so an empty section has an address of its own */
	}
}

/* The section and offset of a, or NULL. Bases grow with the section index. */
struct obj_sec *dw_addr_to_sec(const struct dw *d, uint64_t a, uint64_t *off)
{
	size_t lo = 1, hi = d->obj->nsecs;
	struct obj_sec *best = NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		/* Skip non-allocated sections (base 0) by scanning to the nearest one. */
		size_t m = mid;
		while (m < hi && !d->base[m])
			m++;
		if (m == hi) {
			hi = mid;
			continue;
		}
		if (d->base[m] <= a) {
			best = &d->obj->secs[m];
			lo = m + 1;
		} else {
			hi = mid;
		}
	}
	if (!best || a - d->base[best->index] > best->size)
		return NULL;
	*off = a - d->base[best->index];
	return best;
}

uint64_t dw_sec_to_addr(const struct dw *d, const struct obj_sec *sec, uint64_t off)
{
	return sec && sec->index < d->obj->nsecs ? d->base[sec->index] + off : 0;
}

/* ===================================================================== */
/* Helpers over libdwarf                                                  */
/* ===================================================================== */

void dw_forget(struct dw *dw)
{
	if (dw->err) {
		dwarf_dealloc(dw->dbg, dw->err, DW_DLA_ERROR);
		dw->err = NULL;
	}
}

int dw_fail(struct dw *dw, const char *what)
{
	if (dw->failed) {
		dw_forget(dw);
		return dw->failed;
	}
	int e = hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL, "DWARF: %s: %s", what,
		       dw->err ? dwarf_errmsg(dw->err) : "unreadable");
	dw_forget(dw);
	dw->failed = e;
	return e;
}

int dw_next_sibling(struct dw *dw, Dwarf_Die die, Dwarf_Die *next)
{
	*next = NULL;
	int rc = dwarf_siblingof_b(dw->dbg, die, 1, next, &dw->err);
	if (rc != DW_DLV_OK)
		return rc;
	Dwarf_Off a = 0, b = 0;
	if (dwarf_dieoffset(die, &a, &dw->err) != DW_DLV_OK ||
	    dwarf_dieoffset(*next, &b, &dw->err) != DW_DLV_OK || b <= a) {
		dwarf_dealloc(dw->dbg, *next, DW_DLA_DIE);
		*next = NULL;
		dw_forget(dw);
		if (!dw->failed)
			dw->failed = hp_err(dw->ctx, HP_ECORRUPT, dw->obj->path, NULL,
					    "DWARF: the entry after the one at %#llx starts at %#llx, not after it; the file is corrupt",
					    (unsigned long long)a, (unsigned long long)b);
		return DW_DLV_ERROR;
	}
	return DW_DLV_OK;
}

int dw_die_at(struct dw *dw, uint64_t off, Dwarf_Die *out)
{
	*out = NULL;
	if (dwarf_offdie_b(dw->dbg, off, 1, out, &dw->err) != DW_DLV_OK) {
		*out = NULL;
		return dw_fail(dw, "reading an entry");
	}
	return 0;
}

uint64_t dw_die_offset(struct dw *dw, Dwarf_Die die)
{
	Dwarf_Off off = 0;
	if (dwarf_dieoffset(die, &off, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return 0;
	}
	return off;
}

Dwarf_Half dw_tag(struct dw *dw, Dwarf_Die die)
{
	Dwarf_Half tag = 0;
	if (dwarf_tag(die, &tag, &dw->err) != DW_DLV_OK)
		dw_forget(dw);
	return tag;
}

bool dw_has(struct dw *dw, Dwarf_Die die, Dwarf_Half at)
{
	Dwarf_Bool b = 0;
	if (dwarf_hasattr(die, at, &b, &dw->err) == DW_DLV_ERROR) {
		dw_forget(dw);
		return false;
	}
	return b;
}

bool dw_ref(struct dw *dw, Dwarf_Die die, Dwarf_Half at, uint64_t *off)
{
	Dwarf_Attribute attr;
	Dwarf_Off o = 0;
	bool ok = false;
	if (dwarf_attr(die, at, &attr, &dw->err) == DW_DLV_OK) {
		ok = dwarf_global_formref(attr, &o, &dw->err) == DW_DLV_OK;
		dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
	}
	dw_forget(dw);
	*off = ok ? o : 0;
	return ok;
}

/*
 * A constant attribute as its form holds it: signed (*neg tells the sign of
 * *v) or unsigned. gcc's DWARF 5 puts constants shared by many DIEs in the
 * abbreviation (DW_FORM_implicit_const), which dwarf_formudata does not read.
 */
static bool read_const(struct dw *dw, Dwarf_Die die, Dwarf_Half at, bool *neg, uint64_t *v)
{
	Dwarf_Attribute attr;
	bool ok = false;
	*neg = false;
	*v = 0;
	if (dwarf_attr(die, at, &attr, &dw->err) == DW_DLV_OK) {
		Dwarf_Half form = 0;
		Dwarf_Signed sv;
		Dwarf_Unsigned uv;
		if (dwarf_whatform(attr, &form, &dw->err) == DW_DLV_OK &&
		    (form == DW_FORM_implicit_const || form == DW_FORM_sdata)) {
			ok = dwarf_formsdata(attr, &sv, &dw->err) == DW_DLV_OK;
			*neg = ok && sv < 0;
			*v = ok ? (uint64_t)sv : 0;
		} else {
			ok = dwarf_formudata(attr, &uv, &dw->err) == DW_DLV_OK;
			*v = ok ? uv : 0;
		}
		dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
	}
	dw_forget(dw);
	return ok;
}

bool dw_udata(struct dw *dw, Dwarf_Die die, Dwarf_Half at, uint64_t *out)
{
	bool neg;
	return read_const(dw, die, at, &neg, out) && !neg;
}

bool dw_sdata(struct dw *dw, Dwarf_Die die, Dwarf_Half at, int64_t *out)
{
	bool neg;
	uint64_t v;
	bool ok = read_const(dw, die, at, &neg, &v);
	*out = (int64_t)v;
	return ok;
}

const char *dw_own_name(struct dw *dw, Dwarf_Die die)
{
	char *name = NULL;
	if (dwarf_diename(die, &name, &dw->err) == DW_DLV_OK) {
		const char *copy = hp_arena_strdup(dw->ctx, name);
		dwarf_dealloc(dw->dbg, name, DW_DLA_STRING);
		return copy;
	}
	dw_forget(dw);
	return NULL;
}

/* Depth-limited: abstract_origin and specification chains are short. */
static const char *name_via(struct dw *dw, Dwarf_Die die, int depth)
{
	const char *n = dw_own_name(dw, die);
	if (n || depth > 4)
		return n;
	static const Dwarf_Half via[] = { DW_AT_abstract_origin, DW_AT_specification };
	for (size_t i = 0; i < 2; i++) {
		uint64_t off;
		Dwarf_Die t;
		if (!dw_ref(dw, die, via[i], &off) || dwarf_offdie_b(dw->dbg, off, 1, &t, &dw->err) !=
								DW_DLV_OK) {
			dw_forget(dw);
			continue;
		}
		n = name_via(dw, t, depth + 1);
		dwarf_dealloc(dw->dbg, t, DW_DLA_DIE);
		if (n)
			return n;
	}
	return NULL;
}

const char *dw_name(struct dw *dw, Dwarf_Die die)
{
	return name_via(dw, die, 0);
}

bool dw_ref_via_origin(struct dw *dw, Dwarf_Die die, Dwarf_Half at, uint64_t *out)
{
	if (dw_ref(dw, die, at, out))
		return true;
	Dwarf_Die cur = NULL;
	for (int depth = 0; depth < 4; depth++) {
		uint64_t off;
		Dwarf_Die from = cur ? cur : die;
		if (!dw_ref(dw, from, DW_AT_abstract_origin, &off) &&
		    !dw_ref(dw, from, DW_AT_specification, &off))
			break;
		Dwarf_Die t;
		if (dwarf_offdie_b(dw->dbg, off, 1, &t, &dw->err) != DW_DLV_OK) {
			dw_forget(dw);
			break;
		}
		if (cur)
			dwarf_dealloc(dw->dbg, cur, DW_DLA_DIE);
		cur = t;
		if (dw_ref(dw, cur, at, out)) {
			dwarf_dealloc(dw->dbg, cur, DW_DLA_DIE);
			return true;
		}
	}
	if (cur)
		dwarf_dealloc(dw->dbg, cur, DW_DLA_DIE);
	*out = 0;
	return false;
}

const struct dw_cu *dw_cu_of(const struct dw *dw, uint64_t off)
{
	size_t lo = 0, hi = dw->ncus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (off < dw->cus[mid].start)
			hi = mid;
		else if (off >= dw->cus[mid].end)
			lo = mid + 1;
		else
			return &dw->cus[mid];
	}
	return NULL;
}

static int read_files(struct dw *dw, struct dw_cu *cu);

void dw_decl(struct dw *dw, Dwarf_Die die, const char **file, uint32_t *line)
{
	*file = NULL;
	*line = 0;
	Dwarf_Die decl = die, owned = NULL;
	if (!dw_has(dw, die, DW_AT_decl_line)) {
		uint64_t off;
		if ((dw_ref(dw, die, DW_AT_abstract_origin, &off) ||
		     dw_ref(dw, die, DW_AT_specification, &off)) &&
		    dwarf_offdie_b(dw->dbg, off, 1, &owned, &dw->err) == DW_DLV_OK)
			decl = owned;
		else
			dw_forget(dw);
	}
	uint64_t l, f;
	if (dw_udata(dw, decl, DW_AT_decl_line, &l))
		*line = (uint32_t)l;
	struct dw_cu *cu = (struct dw_cu *)dw_cu_of(dw, dw_die_offset(dw, decl));
	if (cu && dw_udata(dw, decl, DW_AT_decl_file, &f) && read_files(dw, cu) == 0) {
		/* DWARF 5 numbers files from 0, earlier versions from 1 (file 0 unused). */
		uint64_t k = cu->version >= 5 ? f : f - 1;
		if (f + (cu->version >= 5) > 0 && k < cu->nfiles)
			*file = cu->files[k];
	}
	if (owned)
		dwarf_dealloc(dw->dbg, owned, DW_DLA_DIE);
}

/* How many bytes the LEB128 at p[0, n) takes; 0 when it is not one. */
static size_t uleb_len(const uint8_t *p, size_t n)
{
	size_t at = 0;
	uint64_t v;
	return dw_uleb(p, n, &at, &v) ? at : 0;
}

static size_t sleb_len(const uint8_t *p, size_t n)
{
	size_t at = 0;
	int64_t v;
	return dw_sleb(p, n, &at, &v) ? at : 0;
}

/* The address a DW_OP_addrx index names, or false. */
static bool addrx(struct dw *dw, Dwarf_Die die, uint64_t idx, uint64_t *out)
{
	Dwarf_Addr a;
	if (dwarf_debug_addr_index_to_addr(die, idx, &a, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return false;
	}
	*out = a;
	return true;
}

/*
 * The size of the operands of DWARF expression op at p (len bytes follow the
 * opcode), or -1 for an opcode not in DWARF 5 nor a GNU extension we know.
 */
static int64_t operand_size(uint8_t op, const uint8_t *p, size_t len)
{
	size_t u1 = 0, u2 = 0;
	uint64_t n;
	if ((op >= 0x30 && op <= 0x6f) || (op >= 0x12 && op <= 0x2e && op != 0x15 && op != 0x23 &&
					   op != 0x28) || op == 0x06 || op == 0x96 || op == 0x97 ||
	    op == 0x9b || op == 0x9c || op == 0x9f || op == 0xe0)
		return 0; /* lit, reg, stack ops, deref, nop, tls, cfa, stack_value */
	switch (op) {
	case 0x08: case 0x09: case 0x15: case 0x94: case 0x95:
		return 1;
	case 0x0a: case 0x0b: case 0x28: case 0x2f: case 0x98:
		return 2;
	case 0x0c: case 0x0d: case 0x99: case 0x9a:
		return 4;
	case 0x03: case 0x0e: case 0x0f:
		return 8;
	case 0x10: case 0x23: case 0x90: case 0x93: case 0xa1: case 0xa2: case 0xa8: case 0xa9:
	case 0xfb: case 0xfc: case 0xf7: case 0xf9:
		u1 = uleb_len(p, len);
		return u1 ? (int64_t)u1 : -1;
	case 0x11: case 0x91:
		u1 = sleb_len(p, len);
		return u1 ? (int64_t)u1 : -1;
	case 0x92: /* bregx: register, offset */
	case 0x9d: /* bit_piece: size, offset */
	case 0xa5: /* regval_type: register, type */
		u1 = uleb_len(p, len);
		if (!u1)
			return -1;
		if (op == 0x92)
			u2 = sleb_len(p + u1, len - u1);
		else
			u2 = uleb_len(p + u1, len - u1);
		return u2 ? (int64_t)(u1 + u2) : -1;
	case 0x70 ... 0x8f: /* breg0..31 */
		u1 = sleb_len(p, len);
		return u1 ? (int64_t)u1 : -1;
	case 0x9e: /* implicit_value: length, bytes */
	case 0xa3: /* entry_value: length, expression */
	case 0xf3: /* GNU_entry_value */
		if (!dw_uleb(p, len, &u1, &n))
			return -1;
		return n <= len - u1 ? (int64_t)(u1 + n) : -1;
	case 0xa0: /* implicit_pointer: 4-byte reference, offset */
	case 0xf2:
		if (len < 4)
			return -1;
		u2 = sleb_len(p + 4, len - 4);
		return u2 ? (int64_t)(4 + u2) : -1;
	case 0xa4: /* const_type: type, size byte, bytes */
		u1 = uleb_len(p, len);
		if (!u1 || u1 >= len)
			return -1;
		return u1 + 1 + p[u1] <= len ? (int64_t)(u1 + 1 + p[u1]) : -1;
	case 0xa6: /* deref_type: size byte, type */
	case 0xa7:
		if (len < 1)
			return -1;
		u2 = uleb_len(p + 1, len - 1);
		return u2 ? (int64_t)(1 + u2) : -1;
	default:
		return -1;
	}
}

/*
 * Parse a location expression for the static addresses it names:
 *   DW_OP_addr A | DW_OP_addrx i                           one address
 *   DW_OP_const4u/const8u/constx X; form_tls_address         a thread-local's offset
 *   (ops DW_OP_piece N)...                                   a variable the compiler split
 *                                                            (clang -O2 turns a static
 *                                                            struct into one global per
 *                                                            member)
 * An address followed by other operations (clang -O2 shrinks a global that only
 * holds two values to a byte and describes it as "addr; deref_size 1; ...;
 * stack_value") still belongs to the variable: it is returned with exact false,
 * so that it is never taken for data the compiler made. Returns how many
 * addresses; 0 also when an operation is unknown before any address.
 */
static size_t parse_location(struct dw *dw, Dwarf_Die die, const uint8_t *p, size_t len,
			     struct dw_loc *out, size_t cap, bool *tls)
{
	size_t n = 0, i = 0, used, ops = 0;
	uint64_t piece = 0, addr = 0;
	bool have = false;
	*tls = false;
	while (i < len) {
		uint8_t op = p[i++];
		int64_t size = operand_size(op, p + i, len - i);
		if (size < 0 || (uint64_t)size > len - i)
			break; /* not understood: keep what was found */
		ops++;
		if (op == DW_OP_addr || op == DW_OP_addrx || op == DW_OP_GNU_addr_index ||
		    op == DW_OP_constx || op == DW_OP_GNU_const_index || op == DW_OP_const4u ||
		    op == DW_OP_const8u) {
			bool is_const = op == DW_OP_constx || op == DW_OP_GNU_const_index ||
					op == DW_OP_const4u || op == DW_OP_const8u;
			uint64_t a;
			if (op == DW_OP_addr) {
				a = hp_load_le64(p + i);
			} else if (op == DW_OP_const4u) {
				a = hp_load_le32(p + i);
			} else if (op == DW_OP_const8u) {
				a = hp_load_le64(p + i);
			} else if (used = 0, !dw_uleb(p + i, len - i, &used, &a) || !addrx(dw, die, a, &a)) {
				i += (size_t)size;
				continue;
			}
			/* A constant is an address only for form_tls_address, just after it. */
			bool tls_next = i + (size_t)size < len &&
					(p[i + (size_t)size] == DW_OP_form_tls_address ||
					 p[i + (size_t)size] == DW_OP_GNU_push_tls_address);
			if (!is_const || tls_next) {
				if (have && n < cap)
					out[n++] = (struct dw_loc){ addr, piece, false };
				addr = a;
				have = true;
				ops = 1;
				*tls |= tls_next;
			}
		} else if (op == DW_OP_form_tls_address || op == DW_OP_GNU_push_tls_address) {
			ops--; /* part of the address */
		} else if (op == DW_OP_piece) {
			if (have && n < cap)
				out[n++] = (struct dw_loc){ addr, piece, ops == 2 };
			uint64_t bytes = 0;
			used = 0;
			dw_uleb(p + i, len - i, &used, &bytes); /* operand_size() read it */
			piece += bytes;
			have = false;
			ops = 0;
		}
		i += (size_t)size;
	}
	if (have && n < cap)
		out[n++] = (struct dw_loc){ addr, piece, ops == 1 && i == len };
	return n;
}

const char *dw_location_shape(struct dw *dw, Dwarf_Die die)
{
	Dwarf_Attribute attr;
	if (dwarf_attr(die, DW_AT_location, &attr, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return NULL;
	}
	Dwarf_Half form = 0;
	Dwarf_Unsigned len = 0;
	Dwarf_Ptr block = NULL;
	char buf[512];
	size_t o = 0;
	buf[0] = 0;
	if (dwarf_whatform(attr, &form, &dw->err) == DW_DLV_OK && form == DW_FORM_exprloc &&
	    dwarf_formexprloc(attr, &len, &block, &dw->err) == DW_DLV_OK) {
		const uint8_t *p = block;
		for (size_t i = 0; i < len && o + 40 < sizeof buf;) {
			uint8_t op = p[i++];
			int64_t size = operand_size(op, p + i, len - i);
			if (size < 0 || (uint64_t)size > len - i)
				size = (int64_t)(len - i);
			bool address = op == DW_OP_addr || op == DW_OP_addrx ||
				       op == DW_OP_GNU_addr_index || op == DW_OP_constx ||
				       op == DW_OP_GNU_const_index;
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%02x", o ? " " : "", op);
			for (int64_t k = 0; k < size && !address && o + 4 < sizeof buf; k++)
				o += (size_t)snprintf(buf + o, sizeof buf - o, "%02x", p[i + (size_t)k]);
			i += (size_t)size;
		}
	}
	dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
	dw_forget(dw);
	return hp_arena_strdup(dw->ctx, buf);
}

size_t dw_static_locations(struct dw *dw, Dwarf_Die die, struct dw_loc *out, size_t cap,
			   bool *tls)
{
	Dwarf_Attribute attr;
	*tls = false;
	if (dwarf_attr(die, DW_AT_location, &attr, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return 0;
	}
	Dwarf_Half form = 0;
	Dwarf_Unsigned len = 0;
	Dwarf_Ptr block = NULL;
	size_t n = 0;
	if (dwarf_whatform(attr, &form, &dw->err) == DW_DLV_OK && form == DW_FORM_exprloc &&
	    dwarf_formexprloc(attr, &len, &block, &dw->err) == DW_DLV_OK)
		n = parse_location(dw, die, block, len, out, cap, tls);
	dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
	dw_forget(dw);
	return n;
}

const char *dw_type_key(struct hp_ctx *ctx, int kind, const char *name)
{
	return hp_arena_printf(ctx, "%c:%s", 'a' + kind, name);
}

/* ===================================================================== */
/* Walking the units                                                       */
/* ===================================================================== */

/* The entry addresses of a subprogram: low_pc, or the start of each range. */
/*
 * The address ranges [v[i][0], v[i][1]) of die: low_pc and high_pc, or each
 * entry of DW_AT_ranges (.debug_rnglists in DWARF 5, .debug_ranges before).
 * In a .o the unit's base is 0 and the relocation made entries absolute,
 * except where a base-address entry says otherwise.
 */
int dw_ranges(struct dw *dw, Dwarf_Die die, uint64_t (*v)[2], size_t cap, size_t *n)
{
	*n = 0;
	Dwarf_Addr lo, hi;
	Dwarf_Half form;
	enum Dwarf_Form_Class cls;
	if (dwarf_lowpc(die, &lo, &dw->err) == DW_DLV_OK) {
		v[0][0] = v[0][1] = lo; /* an entry, if no extent is given */
		if (dwarf_highpc_b(die, &hi, &form, &cls, &dw->err) == DW_DLV_OK)
			v[0][1] = cls == DW_FORM_CLASS_CONSTANT ? lo + hi : hi;
		else
			dw_forget(dw);
		*n = cap ? 1 : 0;
		return 0;
	}
	dw_forget(dw);
	Dwarf_Attribute attr;
	if (dwarf_attr(die, DW_AT_ranges, &attr, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		return 0;
	}
	Dwarf_Half version = 0, offset_size = 0;
	Dwarf_Unsigned val = 0;
	int rc = dwarf_get_version_of_die(die, &version, &offset_size);
	if (rc == DW_DLV_OK)
		rc = dwarf_whatform(attr, &form, &dw->err);
	if (rc == DW_DLV_OK)
		rc = form == DW_FORM_rnglistx ? dwarf_formudata(attr, &val, &dw->err)
					      : dwarf_global_formref(attr, &val, &dw->err);
	if (rc != DW_DLV_OK) {
		dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
		return dw_fail(dw, "reading DW_AT_ranges");
	}
	if (version >= 5) {
		Dwarf_Rnglists_Head head;
		Dwarf_Unsigned count = 0, global = 0;
		rc = dwarf_rnglists_get_rle_head(attr, form, val, &head, &count, &global, &dw->err);
		dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
		if (rc != DW_DLV_OK)
			return dw_fail(dw, "reading .debug_rnglists");
		for (Dwarf_Unsigned i = 0; i < count && *n < cap; i++) {
			unsigned len, code;
			Dwarf_Unsigned r1, r2, c1, c2;
			Dwarf_Bool noaddr = 0;
			if (dwarf_get_rnglists_entry_fields_a(head, i, &len, &code, &r1, &r2, &noaddr,
							      &c1, &c2, &dw->err) != DW_DLV_OK) {
				dwarf_dealloc_rnglists_head(head);
				return dw_fail(dw, "reading a range");
			}
			if (code != DW_RLE_end_of_list && code != DW_RLE_base_address &&
			    code != DW_RLE_base_addressx && !noaddr) {
				v[*n][0] = c1;
				v[*n][1] = c2;
				(*n)++;
			}
		}
		dwarf_dealloc_rnglists_head(head);
		return 0;
	}
	dwarf_dealloc(dw->dbg, attr, DW_DLA_ATTR);
	Dwarf_Ranges *r;
	Dwarf_Signed count;
	Dwarf_Unsigned bytes;
	Dwarf_Off real;
	if (dwarf_get_ranges_b(dw->dbg, val, die, &real, &r, &count, &bytes, &dw->err) != DW_DLV_OK)
		return dw_fail(dw, "reading .debug_ranges");
	uint64_t base = 0;
	for (Dwarf_Signed i = 0; i < count && *n < cap; i++) {
		if (r[i].dwr_type == DW_RANGES_ADDRESS_SELECTION) {
			base = r[i].dwr_addr2;
		} else if (r[i].dwr_type == DW_RANGES_ENTRY) {
			v[*n][0] = base + r[i].dwr_addr1;
			v[*n][1] = base + r[i].dwr_addr2;
			(*n)++;
		}
	}
	dwarf_ranges_dealloc(dw->dbg, r, count);
	return 0;
}

/* The entry addresses of a subprogram: low_pc, or the start of each range. */
static int entries_of(struct dw *w, Dwarf_Die die, uint64_t *v, size_t cap, size_t *n)
{
	uint64_t r[16][2];
	int err = dw_ranges(w, die, r, cap < 16 ? cap : 16, n);
	for (size_t i = 0; i < *n; i++)
		v[i] = r[i][0];
	return err;
}

static int push_at(struct dw *dw, struct dw_at **v, size_t *n, size_t *cap, uint64_t addr,
		   uint64_t die, uint64_t scope)
{
	if (hp_grow(dw->ctx, v, cap, *n, sizeof **v, 256) < 0)
		return -HP_ENOMEM;
	(*v)[(*n)++] = (struct dw_at){ addr, die, scope, 0, true };
	return 0;
}

/* Index the static addresses of a variable: one, or one per piece. */
static int push_vars(struct dw *dw, Dwarf_Die die, uint64_t off, uint64_t scope)
{
	struct dw_loc locs[64];
	bool tls;
	size_t n = dw_static_locations(dw, die, locs, 64, &tls);
	for (size_t i = 0; i < n; i++) {
		int err = push_at(dw, &dw->vars, &dw->nvars, &dw->capvars, locs[i].addr, off, scope);
		if (err < 0)
			return err;
		dw->vars[dw->nvars - 1].piece = locs[i].piece;
		dw->vars[dw->nvars - 1].exact = locs[i].exact;
	}
	return 0;
}

static int index_type_named(struct dw *dw, struct dw_cu *cu, Dwarf_Die die, int kind,
			    uint64_t off, const char *name);

/* Record one top-level type under "KIND:name" in its unit, definitions first. */
static int index_type(struct dw *dw, struct dw_cu *cu, Dwarf_Die die, Dwarf_Half tag,
		      uint64_t off)
{
	int kind = tag == DW_TAG_structure_type ? DWT_STRUCT
		   : tag == DW_TAG_union_type   ? DWT_UNION
		   : tag == DW_TAG_enumeration_type ? DWT_ENUM
		   : tag == DW_TAG_typedef      ? DWT_TYPEDEF
						: DWT_BASE;
	char *name = NULL;
	if (dwarf_diename(die, &name, &dw->err) != DW_DLV_OK) {
		dw_forget(dw);
		name = NULL;
	}
	int err = index_type_named(dw, cu, die, kind, off, name);
	if (name)
		dwarf_dealloc(dw->dbg, name, DW_DLA_STRING);
	return err;
}

static int index_type_named(struct dw *dw, struct dw_cu *cu, Dwarf_Die die, int kind,
			    uint64_t off, const char *name)
{
	if (kind == DWT_TYPEDEF) {
		uint64_t target;
		if (name && dw_ref(dw, die, DW_AT_type, &target) &&
		    !hp_map_get_u64(&cu->typedef_of, target)) {
			const char *n = hp_arena_strdup(dw->ctx, name);
			if (!n)
				return hp_nomem(dw->ctx);
			int err = hp_map_put_u64(dw->ctx, &cu->typedef_of, target, (void *)n, NULL);
			if (err < 0)
				return err;
		}
	}
	if (!name)
		return 0;
	const char *key = dw_type_key(dw->ctx, kind, name);
	if (!key)
		return hp_nomem(dw->ctx);
	/* Values: offset + 1, with bit 63 set for a declaration. */
	uint64_t v = (off + 1) | (dw_has(dw, die, DW_AT_declaration) ? 1ull << 63 : 0);
	uint64_t old = (uint64_t)(uintptr_t)hp_map_get(&cu->types, key);
	if (old && !(old >> 63))
		return 0; /* a definition is already there */
	if (old) {
		if (v >> 63)
			return 0;
		/* Replace a declaration by a definition. */
		return hp_map_set(dw->ctx, &cu->types, key, (void *)(uintptr_t)v);
	}
	return hp_map_put(dw->ctx, &cu->types, key, (void *)(uintptr_t)v, NULL);
}

static int index_top(struct dw *dw, struct dw_cu *cu, Dwarf_Die die, size_t *capfuncs)
{
	Dwarf_Half tag = dw_tag(dw, die);
	uint64_t off = dw_die_offset(dw, die);
	switch (tag) {
	case DW_TAG_subprogram: {
		if (dw_has(dw, die, DW_AT_declaration))
			return 0;
		uint64_t entries[16];
		size_t n;
		int err = entries_of(dw, die, entries, 16, &n);
		for (size_t i = 0; i < n && !err; i++)
			err = push_at(dw, &dw->funcs, &dw->nfuncs, capfuncs, entries[i], off, 0);
		return err;
	}
	case DW_TAG_variable:
		return push_vars(dw, die, off, 0);
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_enumeration_type:
	case DW_TAG_typedef:
	case DW_TAG_base_type:
		return index_type(dw, cu, die, tag, off);
	default:
		return 0;
	}
}

/* Read the unit's file table into arena strings, the first time a name is needed. */
static int read_files(struct dw *dw, struct dw_cu *cu)
{
	if (cu->files_read)
		return 0;
	cu->files_read = true;
	char **files = NULL;
	Dwarf_Signed n = 0;
	Dwarf_Die cudie;
	int err = dw_die_at(dw, cu->die, &cudie);
	if (err < 0)
		return err;
	int rc = dwarf_srcfiles(cudie, &files, &n, &dw->err);
	dwarf_dealloc(dw->dbg, cudie, DW_DLA_DIE);
	if (rc != DW_DLV_OK) {
		dw_forget(dw);
		return 0;
	}
	cu->files = hp_arena_array(dw->ctx, (size_t)n, sizeof *cu->files);
	if (!cu->files && n)
		err = hp_nomem(dw->ctx);
	for (Dwarf_Signed i = 0; i < n; i++) {
		if (!err && !(cu->files[i] = hp_arena_strdup(dw->ctx, files[i])))
			err = hp_nomem(dw->ctx);
		dwarf_dealloc(dw->dbg, files[i], DW_DLA_STRING);
	}
	dwarf_dealloc(dw->dbg, files, DW_DLA_LIST);
	cu->nfiles = err ? 0 : (size_t)n;
	return err;
}

static int walk_units(struct dw *dw)
{
	size_t capcus = 0, capfuncs = 0;
	uint64_t start = 0;
	for (;;) {
		Dwarf_Unsigned next = 0;
		Dwarf_Half cu_type = 0, version = 0;
		int rc = dwarf_next_cu_header_d(dw->dbg, 1, NULL, &version, NULL, NULL, NULL, NULL,
						NULL, NULL, &next, &cu_type, &dw->err);
		if (rc == DW_DLV_NO_ENTRY)
			return 0;
		if (rc != DW_DLV_OK)
			return dw_fail(dw, "reading a compilation unit header");
		Dwarf_Die cudie = NULL;
		if (dwarf_siblingof_b(dw->dbg, NULL, 1, &cudie, &dw->err) != DW_DLV_OK)
			return dw_fail(dw, "reading a compilation unit");
		if (dw->ncus == capcus) {
			size_t c = capcus ? 2 * capcus : 4;
			struct dw_cu *p = realloc(dw->cus, c * sizeof *p);
			if (!p) {
				dwarf_dealloc(dw->dbg, cudie, DW_DLA_DIE);
				return hp_nomem(dw->ctx);
			}
			dw->cus = p;
			capcus = c;
		}
		struct dw_cu *cu = &dw->cus[dw->ncus++];
		memset(cu, 0, sizeof *cu);
		cu->start = start;
		cu->end = next;
		start = next;
		cu->die = dw_die_offset(dw, cudie);
		cu->version = version;
		cu->name = dw_own_name(dw, cudie);
		if (!cu->name)
			cu->name = "";
		int err = hp_map_init(dw->ctx, &cu->types, 256);
		Dwarf_Die child = NULL;
		rc = err ? DW_DLV_NO_ENTRY : dwarf_child(cudie, &child, &dw->err);
		while (rc == DW_DLV_OK && !err) {
			err = index_top(dw, cu, child, &capfuncs);
			Dwarf_Die sib = NULL;
			rc = dw_next_sibling(dw, child, &sib);
			dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
			child = sib;
			if (rc == DW_DLV_ERROR && !err)
				err = dw_fail(dw, "reading a sibling");
		}
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading the first child");
		dwarf_dealloc(dw->dbg, cudie, DW_DLA_DIE);
		if (err)
			return err;
	}
}

static int cmp_at(const void *a, const void *b)
{
	const struct dw_at *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->die < y->die ? -1 : x->die > y->die;
}

/* vars by address (qsort wants a non-NULL array even when empty). */
static void sort_vars(struct dw *dw)
{
	if (dw->nvars)
		qsort(dw->vars, dw->nvars, sizeof *dw->vars, cmp_at);
}

/* func_order: indices into funcs (which stay in DIE order), by address. */
static int sort_funcs(struct dw *dw)
{
	size_t n = dw->nfuncs ? dw->nfuncs : 1;
	struct dw_at *tmp = malloc(n * sizeof *tmp);
	dw->func_order = malloc(n * sizeof *dw->func_order);
	if (!tmp || !dw->func_order) {
		free(tmp);
		return hp_nomem(dw->ctx);
	}
	for (size_t i = 0; i < dw->nfuncs; i++)
		tmp[i] = (struct dw_at){ dw->funcs[i].addr, i, 0, 0, true };
	qsort(tmp, dw->nfuncs, sizeof *tmp, cmp_at);
	for (size_t i = 0; i < dw->nfuncs; i++)
		dw->func_order[i] = (size_t)tmp[i].die;
	free(tmp);
	return 0;
}

/* ----- statics declared inside functions --------------------------------- */

/*
 * Record the variables with a static address below die. With origins, also
 * walk the abstract body of every function inlined here (each once): gcc keeps
 * the DIE of a static local of an inlined function there.
 */
static int walk_function(struct dw *dw, uint64_t off);

static int deep_walk(struct dw *dw, Dwarf_Die die, uint64_t scope, bool origins, int depth)
{
	Dwarf_Die child = NULL;
	int rc = dwarf_child(die, &child, &dw->err);
	if (rc == DW_DLV_ERROR)
		return dw_fail(dw, "reading a function's children");
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = dw_tag(dw, child);
		uint64_t o;
		if (tag == DW_TAG_variable) {
			err = push_vars(dw, child, dw_die_offset(dw, child), scope);
		} else if ((tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine ||
			    tag == DW_TAG_subprogram) &&
			   depth < 64) {
			err = deep_walk(dw, child, scope, origins, depth + 1);
			if (!err && origins && tag == DW_TAG_inlined_subroutine &&
			    dw_ref(dw, child, DW_AT_abstract_origin, &o))
				err = walk_function(dw, o);
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

/* Walk the function whose DIE is at off, and its abstract origin, once each. */
static int walk_function(struct dw *dw, uint64_t off)
{
	if (hp_map_get_u64(&dw->walked, off))
		return 0;
	int err = hp_map_put_u64(dw->ctx, &dw->walked, off, (void *)1, NULL);
	if (err < 0)
		return err;
	Dwarf_Die die;
	err = dw_die_at(dw, off, &die);
	if (err < 0)
		return err;
	uint64_t o;
	bool has_origin = dw_ref(dw, die, DW_AT_abstract_origin, &o);
	err = deep_walk(dw, die, has_origin ? o : off, true, 0);
	dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
	if (!err && has_origin)
		err = walk_function(dw, o);
	return err;
}

int dw_index_statics(struct dw *dw, const struct obj_sec *sec, bool *complete)
{
	*complete = true;
	if (dw->deep)
		return 0;
	const struct obj *obj = dw->obj;
	int err = 0;
	for (size_t i = 1; i < obj->nsecs && !err; i++) {
		struct obj_sec *from = &obj->secs[i];
		if (!obj_sec_is_alloc(from) || !from->nrels || from->type == SHT_X86_64_UNWIND ||
		    !strcmp(from->name, ".eh_frame"))
			continue;
		bool refers = false;
		for (size_t k = 0; k < from->nrels && !refers; k++)
			refers = from->rels[k].sym->sec == sec;
		if (!refers)
			continue;
		if (!obj_sec_is_text(from)) {
			*complete = false; /* data refers to it: its function is not known */
			continue;
		}
		for (size_t k = 0; k < from->nsyms && !err; k++) {
			if (!obj_sym_is_func(from->syms[k]))
				continue;
			size_t f = dw_func_index_at(dw, dw_sec_to_addr(dw, from, from->syms[k]->value));
			if (f < dw->nfuncs)
				err = walk_function(dw, dw->funcs[f].die);
		}
	}
	if (!err)
		sort_vars(dw);
	return err;
}

int dw_index_deep(struct dw *dw)
{
	if (dw->deep)
		return 0;
	dw->deep = true;
	int err = 0;
	for (size_t c = 0; c < dw->ncus && !err; c++) {
		Dwarf_Die cudie, child = NULL;
		if ((err = dw_die_at(dw, dw->cus[c].die, &cudie)) < 0)
			return err;
		int rc = dwarf_child(cudie, &child, &dw->err);
		while (rc == DW_DLV_OK && !err) {
			uint64_t off = dw_die_offset(dw, child);
			if (dw_tag(dw, child) == DW_TAG_subprogram && !hp_map_get_u64(&dw->walked, off))
				err = deep_walk(dw, child, off, false, 0);
			Dwarf_Die sib = NULL;
			rc = dw_next_sibling(dw, child, &sib);
			dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
			child = sib;
		}
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading a sibling");
		dwarf_dealloc(dw->dbg, cudie, DW_DLA_DIE);
	}
	if (!err)
		sort_vars(dw);
	return err;
}

/* ===================================================================== */
/* Opening and closing                                                     */
/* ===================================================================== */

void dw_close(struct dw *dw)
{
	if (!dw)
		return;
	if (dw->dbg)
		dwarf_object_finish(dw->dbg, NULL);
	if (dw->copy)
		for (size_t i = 0; i < dw->obj->nsecs; i++)
			free(dw->copy[i]);
	free(dw->copy);
	free(dw->cus);
	free(dw->funcs);
	free(dw->func_order);
	free(dw->vars);
	dw_lines_free(dw);
	free(dw);
}

int dw_open(struct hp_ctx *ctx, struct obj *obj, struct dw **out)
{
	*out = NULL;
	/* The old GNU .zdebug_* compression is inflated by libdwarf itself, into a
	 * buffer of the size the section declares: refuse it (-gz and
	 * --compress-debug-sections write SHF_COMPRESSED, which elfread.c inflates
	 * with a bound). */
	for (size_t i = 1; i < obj->nsecs; i++)
		if (!strncmp(obj->secs[i].name, ".zdebug", 7))
			return hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
				      "section %zu '%s': .zdebug compression is not supported; build with -gz or without compressed debug info",
				      i, obj->secs[i].name);
	struct dw *dw = calloc(1, sizeof *dw);
	if (!dw)
		return hp_nomem(ctx);
	dw->ctx = ctx;
	dw->obj = obj;
	int err = 0;
	dw->base = hp_arena_array(ctx, obj->nsecs, sizeof *dw->base);
	dw->copy = calloc(obj->nsecs, sizeof *dw->copy);
	if (!dw->base || !dw->copy) {
		err = hp_nomem(ctx);
		goto fail;
	}
	assign_addresses(dw);
	dw->iface = (Dwarf_Obj_Access_Interface){ dw, &methods };
	if (dwarf_object_init_b(&dw->iface, NULL, NULL, DW_GROUPNUMBER_ANY, &dw->dbg, &dw->err) !=
	    DW_DLV_OK) {
		dw->dbg = NULL;
		err = dw_fail(dw, "cannot open");
		goto fail;
	}
	if ((err = walk_units(dw)) < 0 || (err = sort_funcs(dw)) < 0)
		goto fail;
	sort_vars(dw);
	*out = dw;
	return 0;
fail:
	dw_close(dw);
	return err;
}

static void close_cb(struct dw *dw)
{
	dw_close(dw);
}

int dw_get(struct hp_ctx *ctx, struct obj *obj, struct dw **out)
{
	*out = NULL;
	if (obj->dwarf) {
		*out = obj->dwarf;
		return (*out)->failed;
	}
	if (!obj_find_sec(obj, ".debug_info"))
		return 0;
	int err = dw_open(ctx, obj, out);
	if (err < 0)
		return err;
	obj->dwarf = *out;
	obj->dwarf_close = close_cb;
	return 0;
}

const char *dw_unit_of(const struct dw *dw, uint64_t id)
{
	const struct dw_cu *cu = dw_cu_of(dw, id);
	return cu ? cu->name : "";
}

/* ===================================================================== */
/* dw_read_funcs: the concrete instances and what they inline              */
/* ===================================================================== */

struct names {
	const char **v;
	size_t n, cap;
};

static int add_name(struct dw *dw, struct names *ns, const char *n)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i], n))
			return 0;
	if (hp_grow(dw->ctx, &ns->v, &ns->cap, ns->n, sizeof *ns->v, 8) < 0)
		return -HP_ENOMEM;
	ns->v[ns->n++] = n;
	return 0;
}

static int walk_inlines(struct dw *dw, Dwarf_Die die, dw_visit_fn *visit, void *arg, int depth)
{
	Dwarf_Die child = NULL;
	int rc = dwarf_child(die, &child, &dw->err);
	if (rc == DW_DLV_ERROR)
		return dw_fail(dw, "reading a function's children");
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = dw_tag(dw, child);
		if (tag == DW_TAG_inlined_subroutine)
			err = visit(dw, child, arg);
		if (!err && depth < 64 &&
		    (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block))
			err = walk_inlines(dw, child, visit, arg, depth + 1);
		Dwarf_Die next = NULL;
		rc = dw_next_sibling(dw, child, &next);
		dwarf_dealloc(dw->dbg, child, DW_DLA_DIE);
		child = next;
		if (rc == DW_DLV_ERROR && !err)
			err = dw_fail(dw, "reading a sibling");
	}
	return err;
}

int dw_each_inline(struct dw *dw, Dwarf_Die die, dw_visit_fn *visit, void *arg)
{
	return walk_inlines(dw, die, visit, arg, 0);
}

static int visit_name(struct dw *dw, Dwarf_Die die, void *ns)
{
	const char *n = dw_name(dw, die);
	return n ? add_name(dw, ns, n) : 0;
}

int dw_inlines_of(struct dw *dw, Dwarf_Die die, const char ***out, size_t *n)
{
	struct names ns = { 0 };
	int err = dw_each_inline(dw, die, visit_name, &ns);
	*out = NULL;
	*n = 0;
	if (!err) {
		*out = hp_arena_array(dw->ctx, ns.n, sizeof **out);
		if (!*out)
			err = hp_nomem(dw->ctx);
		else if (ns.n)
			memcpy(*out, ns.v, ns.n * sizeof **out);
		*n = err ? 0 : ns.n;
	}
	free(ns.v);
	return err;
}

static bool wanted(const uint64_t *want, size_t nwant, uint64_t a)
{
	if (!want)
		return true;
	size_t lo = 0, hi = nwant;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (want[mid] == a)
			return true;
		if (want[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int describe_func(struct dw *dw, const struct dw_at *at, struct dw_func *f)
{
	uint64_t off;
	memset(f, 0, sizeof *f);
	f->sec = dw_addr_to_sec(dw, at->addr, &off);
	f->offset = off;
	Dwarf_Die die;
	int err = dw_die_at(dw, at->die, &die);
	if (err < 0)
		return err;
	f->name = dw_name(dw, die);
	err = dw_inlines_of(dw, die, &f->inlines, &f->ninlines);
	if (!err)
		dw_decl(dw, die, &f->decl_file, &f->decl_line);
	dwarf_dealloc(dw->dbg, die, DW_DLA_DIE);
	return err;
}

int dw_read_funcs(struct hp_ctx *ctx, struct obj *obj, struct obj_sym *const *want,
		  size_t nwant, struct dw_info *out)
{
	memset(out, 0, sizeof *out);
	struct dw *dw;
	int err = dw_get(ctx, obj, &dw);
	if (err < 0)
		return err;
	if (!dw)
		return 0;
	out->present = true;
	if (want && !nwant)
		return 0;
	uint64_t *addrs = NULL;
	if (want) {
		addrs = malloc(nwant * sizeof *addrs);
		if (!addrs)
			return hp_nomem(ctx);
		for (size_t i = 0; i < nwant; i++)
			addrs[i] = want[i]->sec ? dw_sec_to_addr(dw, want[i]->sec, want[i]->value) : 0;
		qsort(addrs, nwant, sizeof *addrs, cmp_u64);
	}
	size_t n = 0;
	for (size_t i = 0; i < dw->nfuncs; i++) {
		uint64_t off;
		n += wanted(addrs, nwant, dw->funcs[i].addr) &&
		     dw_addr_to_sec(dw, dw->funcs[i].addr, &off);
	}
	out->funcs = hp_arena_array(ctx, n, sizeof *out->funcs);
	if (!out->funcs)
		err = hp_nomem(ctx);
	for (size_t i = 0; i < dw->nfuncs && !err; i++) {
		uint64_t off;
		if (!wanted(addrs, nwant, dw->funcs[i].addr) ||
		    !dw_addr_to_sec(dw, dw->funcs[i].addr, &off))
			continue; /* an address we did not give out: nothing to attach it to */
		err = describe_func(dw, &dw->funcs[i], &out->funcs[out->nfuncs++]);
	}
	free(addrs);
	if (err < 0)
		memset(out, 0, sizeof *out);
	return err;
}

const struct dw_func *dw_func_at(const struct dw_info *dw, const struct obj_sec *sec,
				 uint64_t offset)
{
	for (size_t i = 0; i < dw->nfuncs; i++)
		if (dw->funcs[i].sec == sec && dw->funcs[i].offset == offset)
			return &dw->funcs[i];
	return NULL;
}

size_t dw_func_index_at(const struct dw *dw, uint64_t a)
{
	size_t lo = 0, hi = dw->nfuncs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dw->funcs[dw->func_order[mid]].addr < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < dw->nfuncs && dw->funcs[dw->func_order[lo]].addr == a ? dw->func_order[lo]
									 : dw->nfuncs;
}
