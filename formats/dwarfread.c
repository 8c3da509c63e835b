/*
 * dwarfread.c: what the DWARF of a relocatable object says about its functions.
 * The only file that includes libdwarf (20210528, the "consumer" API).
 *
 * In a .o every address is relative to a section that has no address yet: with
 * -ffunction-sections every function starts at low_pc 0, and libdwarf cannot
 * say which section an address is in. So libdwarf does not read the file here.
 * It reads our object model through its object-access interface
 * (dwarf_object_init_b), and we hand it .debug_* sections that we relocated
 * ourselves, having given every allocated section an address of its own (from
 * 0x10000 up, like libdwfl's offline layout). An address in the DWARF then maps
 * back to exactly one (section, offset).
 */
#include <elf.h>
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <stdlib.h>

#include "formats.h"

#define FIRST_ADDR 0x10000ull

struct dwobj {
	struct hp_ctx *ctx;
	struct obj *obj;
	uint64_t *base;         /* per section: its address, 0 for non-allocated sections */
	uint8_t **copy;         /* per section: relocated copy given to libdwarf, or NULL */
	int failed;             /* an error raised in a callback, returned after init */
};

/* ----- the object-access interface ----------------------------------- */

static int get_section_info(void *p, Dwarf_Half i, Dwarf_Obj_Access_Section *out, int *err)
{
	struct dwobj *d = p;
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
	return ((struct dwobj *)p)->obj->nsecs;
}

/*
 * Apply sec's relocations to a copy of its bytes: S + A with S the address we
 * gave the symbol's section. Debug sections use R_X86_64_64 and _32 for
 * addresses and offsets into other debug sections, and DTPOFF for TLS
 * variables' locations.
 */
static int relocate(struct dwobj *d, struct obj_sec *sec, uint8_t **out)
{
	int err = obj_load_rels(d->ctx, d->obj, sec);
	if (err < 0)
		return err;
	uint8_t *buf = malloc(sec->size ? sec->size : 1);
	if (!buf)
		return hp_nomem(d->ctx);
	if (sec->size)
		memcpy(buf, sec->data, sec->size);
	for (size_t k = 0; k < sec->nrels; k++) {
		const struct obj_rel *r = &sec->rels[k];
		const struct obj_sym *s = r->sym;
		uint64_t S = s->sec ? d->base[s->sec->index] + s->value : s->value;
		uint64_t v = S + (uint64_t)r->addend;
		switch (r->type) {
		case R_X86_64_64:
		case R_X86_64_DTPOFF64:
			hp_store_le64(buf + r->offset, v);
			break;
		case R_X86_64_32:
		case R_X86_64_32S:
		case R_X86_64_DTPOFF32:
			hp_store_le32(buf + r->offset, (uint32_t)v);
			break;
		case R_X86_64_NONE:
			break;
		default:
			/* PC-relative forms do not occur in .debug_*; leave the field. */
			break;
		}
	}
	*out = buf;
	return 0;
}

static int load_section(void *p, Dwarf_Half i, Dwarf_Small **data, int *error)
{
	struct dwobj *d = p;
	if (i >= d->obj->nsecs)
		return DW_DLV_NO_ENTRY;
	struct obj_sec *s = &d->obj->secs[i];
	if (!s->data) {
		*error = DW_DLE_MDE;
		return DW_DLV_NO_ENTRY;
	}
	if (!obj_sec_is_alloc(s) && s->relsec) {
		if (!d->copy[i]) {
			int err = relocate(d, s, &d->copy[i]);
			if (err < 0) {
				d->failed = err;
				*error = DW_DLE_RELOC_SECTION_PTR_NULL;
				return DW_DLV_ERROR;
			}
		}
		*data = d->copy[i];
		return DW_DLV_OK;
	}
	*data = (Dwarf_Small *)s->data;
	return DW_DLV_OK;
}

static const Dwarf_Obj_Access_Methods methods = {
	get_section_info, get_byte_order, get_length_size, get_pointer_size,
	get_section_count, load_section, NULL,
};

/* ----- addresses ------------------------------------------------------ */

static void assign_addresses(struct dwobj *d)
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
static struct obj_sec *addr_to_sec(const struct dwobj *d, uint64_t a, uint64_t *off)
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

/* ----- walking the DIEs ----------------------------------------------- */

struct walk {
	struct dwobj *d;
	Dwarf_Debug dbg;
	Dwarf_Error err;
	const uint64_t *want; /* sorted addresses of the functions asked for; NULL: all */
	size_t nwant;
	struct dw_func *funcs;
	size_t nfuncs, capfuncs;
	const char **names;   /* scratch for one function's inlines */
	size_t nnames, capnames;
	char **files;         /* the current unit's file table (dwarf_srcfiles) */
	Dwarf_Signed nfiles;
	int version;          /* the current unit's DWARF version */
};

static int dwarf_fail(struct walk *w, const char *what)
{
	if (w->d->failed)
		return w->d->failed;
	int e = hp_err(w->d->ctx, HP_ECORRUPT, w->d->obj->path, NULL, "DWARF: %s: %s", what,
		       w->err ? dwarf_errmsg(w->err) : "unreadable");
	if (w->err) {
		dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
		w->err = NULL;
	}
	return e;
}

static bool has_attr(struct walk *w, Dwarf_Die die, Dwarf_Half at)
{
	Dwarf_Bool b = 0;
	if (dwarf_hasattr(die, at, &b, &w->err) == DW_DLV_ERROR) {
		dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
		w->err = NULL;
		return false;
	}
	return b;
}

/* The DIE a reference attribute points at, or NULL. */
static Dwarf_Die follow(struct walk *w, Dwarf_Die die, Dwarf_Half at)
{
	Dwarf_Attribute attr;
	Dwarf_Off off;
	Dwarf_Die target = NULL;
	if (dwarf_attr(die, at, &attr, &w->err) != DW_DLV_OK)
		goto out;
	int rc = dwarf_global_formref(attr, &off, &w->err);
	dwarf_dealloc(w->dbg, attr, DW_DLA_ATTR);
	if (rc != DW_DLV_OK)
		goto out;
	if (dwarf_offdie_b(w->dbg, off, 1, &target, &w->err) != DW_DLV_OK)
		target = NULL;
out:
	if (w->err) {
		dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
		w->err = NULL;
	}
	return target;
}

/* An unsigned constant attribute of die; false when absent or unreadable. */
static bool udata(struct walk *w, Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *out)
{
	Dwarf_Attribute attr;
	bool ok = false;
	if (dwarf_attr(die, at, &attr, &w->err) == DW_DLV_OK) {
		/* gcc's DWARF 5 puts constants shared by many DIEs in the abbreviation
		 * (DW_FORM_implicit_const), which dwarf_formudata does not read. */
		Dwarf_Half form = 0;
		Dwarf_Signed sv;
		if (dwarf_whatform(attr, &form, &w->err) == DW_DLV_OK &&
		    form == DW_FORM_implicit_const) {
			ok = dwarf_formsdata(attr, &sv, &w->err) == DW_DLV_OK && sv >= 0;
			*out = (Dwarf_Unsigned)sv;
		} else {
			ok = dwarf_formudata(attr, out, &w->err) == DW_DLV_OK;
		}
		dwarf_dealloc(w->dbg, attr, DW_DLA_ATTR);
	}
	if (w->err) {
		dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
		w->err = NULL;
	}
	return ok;
}

/* DW_AT_name of die, through abstract_origin and specification; arena copy. */
static const char *die_name(struct walk *w, Dwarf_Die die, int depth)
{
	char *name = NULL;
	if (dwarf_diename(die, &name, &w->err) == DW_DLV_OK) {
		const char *copy = hp_arena_strdup(w->d->ctx, name);
		dwarf_dealloc(w->dbg, name, DW_DLA_STRING);
		return copy;
	}
	if (w->err) {
		dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
		w->err = NULL;
	}
	if (depth > 4)
		return NULL;
	static const Dwarf_Half via[] = { DW_AT_abstract_origin, DW_AT_specification };
	for (size_t i = 0; i < 2; i++) {
		Dwarf_Die t = follow(w, die, via[i]);
		if (t) {
			const char *n = die_name(w, t, depth + 1);
			dwarf_dealloc(w->dbg, t, DW_DLA_DIE);
			if (n)
				return n;
		}
	}
	return NULL;
}

static int add_name(struct walk *w, const char *n)
{
	for (size_t i = 0; i < w->nnames; i++)
		if (!strcmp(w->names[i], n))
			return 0;
	if (w->nnames == w->capnames) {
		size_t cap = w->capnames ? 2 * w->capnames : 8;
		const char **p = realloc(w->names, cap * sizeof *p);
		if (!p)
			return hp_nomem(w->d->ctx);
		w->names = p;
		w->capnames = cap;
	}
	w->names[w->nnames++] = n;
	return 0;
}

/* Collect the names of inlined subroutines below die, at any depth. */
static int collect_inlines(struct walk *w, Dwarf_Die die, int depth)
{
	Dwarf_Die child = NULL;
	int rc = dwarf_child(die, &child, &w->err);
	if (rc == DW_DLV_ERROR)
		return dwarf_fail(w, "reading a function's children");
	int err = 0;
	while (rc == DW_DLV_OK && !err) {
		Dwarf_Half tag = 0;
		if (dwarf_tag(child, &tag, &w->err) != DW_DLV_OK) {
			err = dwarf_fail(w, "reading a tag");
			break;
		}
		if (tag == DW_TAG_inlined_subroutine) {
			const char *n = die_name(w, child, 0);
			if (n)
				err = add_name(w, n);
		}
		if (!err && depth < 64 &&
		    (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block))
			err = collect_inlines(w, child, depth + 1);
		Dwarf_Die next = NULL;
		rc = dwarf_siblingof_b(w->dbg, child, 1, &next, &w->err);
		dwarf_dealloc(w->dbg, child, DW_DLA_DIE);
		child = next;
		if (rc == DW_DLV_ERROR && !err)
			err = dwarf_fail(w, "reading a sibling");
	}
	if (child && rc == DW_DLV_OK)
		dwarf_dealloc(w->dbg, child, DW_DLA_DIE);
	return err;
}

static bool wanted(const struct walk *w, uint64_t a)
{
	if (!w->want)
		return true;
	size_t lo = 0, hi = w->nwant;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->want[mid] == a)
			return true;
		if (w->want[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The entry addresses of a subprogram: low_pc, or the start of each range. */
static int entries_of(struct walk *w, Dwarf_Die die, uint64_t *v, size_t cap, size_t *n)
{
	*n = 0;
	Dwarf_Addr lo;
	if (dwarf_lowpc(die, &lo, &w->err) == DW_DLV_OK) {
		v[(*n)++] = lo;
		return 0;
	}
	if (w->err) {
		dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
		w->err = NULL;
	}
	Dwarf_Attribute attr;
	if (dwarf_attr(die, DW_AT_ranges, &attr, &w->err) != DW_DLV_OK) {
		if (w->err) {
			dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
			w->err = NULL;
		}
		return 0;
	}
	Dwarf_Half version = 0, offset_size = 0, form = 0;
	Dwarf_Unsigned val = 0;
	int rc = dwarf_get_version_of_die(die, &version, &offset_size);
	if (rc == DW_DLV_OK)
		rc = dwarf_whatform(attr, &form, &w->err);
	if (rc == DW_DLV_OK)
		rc = form == DW_FORM_rnglistx ? dwarf_formudata(attr, &val, &w->err)
					      : dwarf_global_formref(attr, &val, &w->err);
	if (rc != DW_DLV_OK) {
		dwarf_dealloc(w->dbg, attr, DW_DLA_ATTR);
		return dwarf_fail(w, "reading DW_AT_ranges");
	}
	if (version >= 5) {
		Dwarf_Rnglists_Head head;
		Dwarf_Unsigned count = 0, global = 0;
		rc = dwarf_rnglists_get_rle_head(attr, form, val, &head, &count, &global, &w->err);
		dwarf_dealloc(w->dbg, attr, DW_DLA_ATTR);
		if (rc != DW_DLV_OK)
			return dwarf_fail(w, "reading .debug_rnglists");
		for (Dwarf_Unsigned i = 0; i < count && *n < cap; i++) {
			unsigned len, code;
			Dwarf_Unsigned r1, r2, c1, c2;
			Dwarf_Bool noaddr = 0;
			if (dwarf_get_rnglists_entry_fields_a(head, i, &len, &code, &r1, &r2, &noaddr,
							      &c1, &c2, &w->err) != DW_DLV_OK) {
				dwarf_dealloc_rnglists_head(head);
				return dwarf_fail(w, "reading a range");
			}
			if (code != DW_RLE_end_of_list && code != DW_RLE_base_address &&
			    code != DW_RLE_base_addressx && !noaddr)
				v[(*n)++] = c1;
		}
		dwarf_dealloc_rnglists_head(head);
		return 0;
	}
	dwarf_dealloc(w->dbg, attr, DW_DLA_ATTR);
	Dwarf_Ranges *r;
	Dwarf_Signed count;
	Dwarf_Unsigned bytes;
	Dwarf_Off real;
	if (dwarf_get_ranges_b(w->dbg, val, die, &real, &r, &count, &bytes, &w->err) != DW_DLV_OK)
		return dwarf_fail(w, "reading .debug_ranges");
	/* In a .o the CU's base is 0 and our relocation made every entry absolute,
	 * except where a base-address entry says otherwise. */
	uint64_t base = 0;
	for (Dwarf_Signed i = 0; i < count && *n < cap; i++) {
		if (r[i].dwr_type == DW_RANGES_ADDRESS_SELECTION)
			base = r[i].dwr_addr2;
		else if (r[i].dwr_type == DW_RANGES_ENTRY)
			v[(*n)++] = base + r[i].dwr_addr1;
	}
	dwarf_ranges_dealloc(w->dbg, r, count);
	return 0;
}

static int add_func(struct walk *w, Dwarf_Die die, uint64_t addr)
{
	struct dwobj *d = w->d;
	uint64_t off;
	struct obj_sec *sec = addr_to_sec(d, addr, &off);
	if (!sec)
		return 0; /* an address we did not give out: nothing to attach it to */
	w->nnames = 0;
	int err = collect_inlines(w, die, 0);
	if (err < 0)
		return err;
	if (w->nfuncs == w->capfuncs) {
		size_t cap = w->capfuncs ? 2 * w->capfuncs : 64;
		struct dw_func *p = realloc(w->funcs, cap * sizeof *p);
		if (!p)
			return hp_nomem(d->ctx);
		w->funcs = p;
		w->capfuncs = cap;
	}
	struct dw_func *f = &w->funcs[w->nfuncs++];
	memset(f, 0, sizeof *f);
	f->name = die_name(w, die, 0);
	f->sec = sec;
	f->offset = off;
	f->ninlines = w->nnames;
	f->inlines = hp_arena_array(d->ctx, w->nnames, sizeof *f->inlines);
	if (!f->inlines)
		return hp_nomem(d->ctx);
	if (w->nnames)
		memcpy(f->inlines, w->names, w->nnames * sizeof *f->inlines);
	/* Declaration: on the DIE, or on its abstract origin / specification. */
	Dwarf_Die decl = die, owned = NULL;
	if (!has_attr(w, die, DW_AT_decl_line)) {
		owned = follow(w, die, DW_AT_abstract_origin);
		if (!owned)
			owned = follow(w, die, DW_AT_specification);
		if (owned)
			decl = owned;
	}
	Dwarf_Unsigned line, file;
	if (udata(w, decl, DW_AT_decl_line, &line))
		f->decl_line = (uint32_t)line;
	if (udata(w, decl, DW_AT_decl_file, &file)) {
		/* DWARF 5 numbers files from 0, earlier versions from 1 (file 0 unused). */
		Dwarf_Signed k = w->version >= 5 ? (Dwarf_Signed)file : (Dwarf_Signed)file - 1;
		if (k >= 0 && k < w->nfiles) {
			f->decl_file = hp_arena_strdup(d->ctx, w->files[k]);
			if (!f->decl_file)
				err = hp_nomem(d->ctx);
		}
	}
	if (owned)
		dwarf_dealloc(w->dbg, owned, DW_DLA_DIE);
	return err;
}

static int walk_subprogram(struct walk *w, Dwarf_Die die)
{
	if (has_attr(w, die, DW_AT_declaration))
		return 0;
	uint64_t entries[16];
	size_t n;
	int err = entries_of(w, die, entries, 16, &n);
	for (size_t i = 0; i < n && !err; i++)
		if (wanted(w, entries[i]))
			err = add_func(w, die, entries[i]);
	return err;
}

static int walk_cus(struct walk *w)
{
	for (;;) {
		Dwarf_Unsigned next = 0;
		Dwarf_Half cu_type = 0, version = 0;
		int rc = dwarf_next_cu_header_d(w->dbg, 1, NULL, &version, NULL, NULL, NULL, NULL,
						NULL, NULL, &next, &cu_type, &w->err);
		if (rc == DW_DLV_NO_ENTRY)
			return 0;
		if (rc != DW_DLV_OK)
			return dwarf_fail(w, "reading a compilation unit header");
		Dwarf_Die cu = NULL;
		if (dwarf_siblingof_b(w->dbg, NULL, 1, &cu, &w->err) != DW_DLV_OK)
			return dwarf_fail(w, "reading a compilation unit");
		w->version = version;
		w->files = NULL;
		w->nfiles = 0;
		if (dwarf_srcfiles(cu, &w->files, &w->nfiles, &w->err) != DW_DLV_OK) {
			w->files = NULL;
			w->nfiles = 0;
			if (w->err) {
				dwarf_dealloc(w->dbg, w->err, DW_DLA_ERROR);
				w->err = NULL;
			}
		}
		Dwarf_Die child = NULL;
		rc = dwarf_child(cu, &child, &w->err);
		int err = 0;
		while (rc == DW_DLV_OK && !err) {
			Dwarf_Half tag = 0;
			if (dwarf_tag(child, &tag, &w->err) != DW_DLV_OK)
				err = dwarf_fail(w, "reading a tag");
			else if (tag == DW_TAG_subprogram)
				err = walk_subprogram(w, child);
			Dwarf_Die sib = NULL;
			rc = dwarf_siblingof_b(w->dbg, child, 1, &sib, &w->err);
			dwarf_dealloc(w->dbg, child, DW_DLA_DIE);
			child = sib;
			if (rc == DW_DLV_ERROR && !err)
				err = dwarf_fail(w, "reading a sibling");
		}
		if (rc == DW_DLV_ERROR && !err)
			err = dwarf_fail(w, "reading the first child");
		for (Dwarf_Signed i = 0; i < w->nfiles; i++)
			dwarf_dealloc(w->dbg, w->files[i], DW_DLA_STRING);
		if (w->files)
			dwarf_dealloc(w->dbg, w->files, DW_DLA_LIST);
		w->files = NULL;
		w->nfiles = 0;
		dwarf_dealloc(w->dbg, cu, DW_DLA_DIE);
		if (err)
			return err;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int dw_read_funcs(struct hp_ctx *ctx, struct obj *obj, struct obj_sym *const *want,
		  size_t nwant, struct dw_info *out)
{
	memset(out, 0, sizeof *out);
	if (!obj_find_sec(obj, ".debug_info"))
		return 0;
	out->present = true;
	if (want && !nwant)
		return 0;

	struct dwobj d = { ctx, obj, NULL, NULL, 0 };
	struct walk w = { 0 };
	uint64_t *addrs = NULL;
	int err = 0;
	d.base = hp_arena_array(ctx, obj->nsecs, sizeof *d.base);
	d.copy = calloc(obj->nsecs, sizeof *d.copy);
	if (!d.base || !d.copy) {
		err = hp_nomem(ctx);
		goto out;
	}
	assign_addresses(&d);
	if (want) {
		addrs = malloc(nwant * sizeof *addrs);
		if (!addrs) {
			err = hp_nomem(ctx);
			goto out;
		}
		for (size_t i = 0; i < nwant; i++)
			addrs[i] = want[i]->sec ? d.base[want[i]->sec->index] + want[i]->value : 0;
		qsort(addrs, nwant, sizeof *addrs, cmp_u64);
		w.want = addrs;
		w.nwant = nwant;
	}
	Dwarf_Obj_Access_Interface iface = { &d, &methods };
	w.d = &d;
	if (dwarf_object_init_b(&iface, NULL, NULL, DW_GROUPNUMBER_ANY, &w.dbg, &w.err) !=
	    DW_DLV_OK) {
		err = dwarf_fail(&w, "cannot open");
		w.dbg = NULL;
		goto out;
	}
	err = walk_cus(&w);
	if (!err) {
		out->nfuncs = w.nfuncs;
		out->funcs = hp_arena_array(ctx, w.nfuncs, sizeof *out->funcs);
		if (!out->funcs)
			err = hp_nomem(ctx);
		else if (w.nfuncs)
			memcpy(out->funcs, w.funcs, w.nfuncs * sizeof *w.funcs);
	}
out:
	if (w.dbg)
		dwarf_object_finish(w.dbg, NULL);
	if (d.copy)
		for (size_t i = 0; i < obj->nsecs; i++)
			free(d.copy[i]);
	free(d.copy);
	free(w.funcs);
	free(w.names);
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
