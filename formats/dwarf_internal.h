/*
 * dwarf_internal.h: what the two files that include libdwarf share.
 *
 *   dwarfread.c  opens an object's DWARF (libdwarf reads our relocated copies of
 *                the .debug_* sections), walks the units once for an index of
 *                their top-level entries, and answers dw_read_funcs()
 *   dwtypes.c    the model built on demand from that index: types, variables and
 *                subprograms (formats/dwarfread.h)
 *
 * Nothing outside formats/ includes this header, and nothing outside these two
 * files includes libdwarf (docs/dependencies.md: the 0.x API differs).
 */
#ifndef HP_DWARF_INTERNAL_H
#define HP_DWARF_INTERNAL_H

#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

/* ===================================================================== */
/* The open DWARF of one object                                          */
/* ===================================================================== */

/* One compilation unit. */
struct dw_cu {
	uint64_t start, end;    /* its bytes in .debug_info: header to the next header */
	uint64_t die;           /* offset of its DW_TAG_compile_unit DIE */
	int version;            /* DWARF version of the unit */
	const char *name;       /* DW_AT_name, "" when absent */
	const char **files;     /* the line table's file names, for DW_AT_decl_file */
	size_t nfiles;
	bool files_read;        /* files is read on first use (it loads .debug_line) */
	struct hp_map types;    /* "KIND:name" -> DIE offset + 1 of a top-level type (see type_key) */
	struct hp_map typedef_of; /* anonymous struct/union/enum DIE -> the name of a typedef of it */
};

/* Where an entry point or a variable is, and which DIE describes it. */
struct dw_at {
	uint64_t addr;          /* in the layout dwarfread.c gives the sections */
	uint64_t die;
	uint64_t scope;         /* variables: the function declaring a static local, 0 at file scope */
	uint64_t piece;         /* variables: offset in the variable of the piece at addr */
	bool exact;             /* variables: addr holds the value as its type says */
};

/* One static address of a variable, and where in the variable it is. */
struct dw_loc {
	uint64_t addr;
	uint64_t piece;         /* 0 unless the compiler split the variable into pieces */
	bool exact;             /* the piece is the value at addr, not a computation from it */
};

struct dw {
	struct hp_ctx *ctx;
	struct obj *obj;
	uint64_t *base;         /* per section: its address, 0 for non-allocated sections */
	uint8_t **copy;         /* per section: relocated copy given to libdwarf, or NULL */
	int failed;             /* an error raised inside a libdwarf callback */
	Dwarf_Obj_Access_Interface iface; /* libdwarf keeps a pointer to it */
	Dwarf_Debug dbg;
	Dwarf_Error err;

	struct dw_cu *cus;      /* in section order */
	size_t ncus;
	struct dw_at *funcs;    /* entries of concrete subprograms, in DIE order */
	size_t nfuncs;
	size_t *func_order;     /* indices into funcs, by address */
	struct dw_at *vars;     /* variables with a static address, by address */
	size_t nvars, capvars;
	bool deep;              /* vars also holds the statics declared inside functions */

	struct ltab *lines;     /* the line tables' index of sequences (dwlines.c) */
	bool lines_read;
	struct hp_map types;    /* DIE offset -> struct dw_type; these four have integer keys */
	struct hp_map subprograms; /* DIE offset -> struct dw_subprogram */
	struct hp_map varmodels;   /* address -> struct dw_var */
	struct hp_map walked;      /* functions whose statics are in vars already */
};

/* One row of a line table: from addr on, code is from line (until the next row). */
struct dw_row {
	uint64_t addr;
	uint32_t line;
	bool end;               /* end of a sequence: no code from here */
};

/*
 * The bytes of a .debug_* section as libdwarf sees them: relocated, with each
 * allocated section at its own address (cached; NULL for a section without
 * bytes).
 */
int dw_section_bytes(struct dw *d, struct obj_sec *s, const uint8_t **out);

/* The address ranges of die (low_pc/high_pc or DW_AT_ranges), at most cap. */
int dw_ranges(struct dw *dw, Dwarf_Die die, uint64_t (*v)[2], size_t cap, size_t *n);

/*
 * The LEB128 number at p[*at], *at in [0, n): advances *at past it. False when
 * it runs off the end or takes more than 10 bytes (64 bits).
 */
bool dw_uleb(const uint8_t *p, size_t n, size_t *at, uint64_t *out);
bool dw_sleb(const uint8_t *p, size_t n, size_t *at, int64_t *out);
/* Free what dw_line_at() read (dwlines.c). */
void dw_lines_free(struct dw *dw);

/* Open libdwarf on obj and index it (dwarfread.c). */
int dw_open(struct hp_ctx *ctx, struct obj *obj, struct dw **out);
void dw_close(struct dw *dw);

/* ----- helpers over libdwarf, for both files ------------------------- */

/* Record "DWARF: what: libdwarf's message" as a corrupt-input error. */
int dw_fail(struct dw *dw, const char *what);
/* Forget a libdwarf error that the caller treats as "absent". */
void dw_forget(struct dw *dw);
/* The DIE at offset off (free with dwarf_dealloc(.., DW_DLA_DIE)). */
int dw_die_at(struct dw *dw, uint64_t off, Dwarf_Die *out);
/*
 * dwarf_siblingof_b(), refusing a sibling that does not start after die:
 * libdwarf 20210528 follows a DW_AT_sibling wherever it points, and one
 * pointing back made a walk endless (found by the dwarf fuzz target). Every
 * loop over siblings steps with this, so a walk reads each entry once.
 */
int dw_next_sibling(struct dw *dw, Dwarf_Die die, Dwarf_Die *next);
/*
 * Call visit on every DW_TAG_inlined_subroutine below die, at any depth
 * (through lexical blocks and inlined calls, 64 levels at most); stops at the
 * first nonzero return, which it returns.
 */
typedef int dw_visit_fn(struct dw *dw, Dwarf_Die die, void *arg);
int dw_each_inline(struct dw *dw, Dwarf_Die die, dw_visit_fn *visit, void *arg);
uint64_t dw_die_offset(struct dw *dw, Dwarf_Die die);
Dwarf_Half dw_tag(struct dw *dw, Dwarf_Die die);
bool dw_has(struct dw *dw, Dwarf_Die die, Dwarf_Half at);
/* The offset of the DIE a reference attribute points at; false when absent. */
bool dw_ref(struct dw *dw, Dwarf_Die die, Dwarf_Half at, uint64_t *off);
/* An unsigned / signed constant attribute (DW_FORM_implicit_const too). */
bool dw_udata(struct dw *dw, Dwarf_Die die, Dwarf_Half at, uint64_t *out);
bool dw_sdata(struct dw *dw, Dwarf_Die die, Dwarf_Half at, int64_t *out);
/* DW_AT_name of die itself, an arena copy, or NULL. */
const char *dw_own_name(struct dw *dw, Dwarf_Die die);
/* DW_AT_name through DW_AT_abstract_origin and DW_AT_specification. */
const char *dw_name(struct dw *dw, Dwarf_Die die);
/* The DIE an attribute refers to, following abstract_origin/specification when
 * die lacks it; *out is the offset of the DIE that has it. */
bool dw_ref_via_origin(struct dw *dw, Dwarf_Die die, Dwarf_Half at, uint64_t *out);
/* File and line of die's declaration, through abstract_origin/specification. */
void dw_decl(struct dw *dw, Dwarf_Die die, const char **file, uint32_t *line);
/* The unit holding a DIE offset, or NULL. */
const struct dw_cu *dw_cu_of(const struct dw *dw, uint64_t off);
/* The (section, offset) of an address we gave out, or NULL. */
struct obj_sec *dw_addr_to_sec(const struct dw *dw, uint64_t a, uint64_t *off);
/* The address we gave (sec, off). */
uint64_t dw_sec_to_addr(const struct dw *dw, const struct obj_sec *sec, uint64_t off);
/*
 * The static addresses a DW_AT_location names: DW_OP_addr or DW_OP_addrx (and
 * the GNU form); a TLS offset pushed by DW_OP_const4u/const8u/constx then
 * DW_OP_form_tls_address / DW_OP_GNU_push_tls_address; or, for a variable the
 * compiler split, one per DW_OP_piece that has an address. Returns how many
 * (at most cap): 0 for registers, frame offsets, location lists.
 */
size_t dw_static_locations(struct dw *dw, Dwarf_Die die, struct dw_loc *out, size_t cap,
			   bool *tls);
/* The operations of die's DW_AT_location in hex, address operands left out. */
const char *dw_location_shape(struct dw *dw, Dwarf_Die die);
/*
 * Add to vars the statics declared inside the functions whose code refers to
 * sec (and inside what they inline). *complete is false when data refers to sec
 * too: then only dw_index_deep() can be sure.
 */
int dw_index_statics(struct dw *dw, const struct obj_sec *sec, bool *complete);
/* Walk every subprogram of every unit for statics declared inside functions. */
int dw_index_deep(struct dw *dw);
/* The names of the functions inlined into die (at any depth), each once. */
int dw_inlines_of(struct dw *dw, Dwarf_Die die, const char ***out, size_t *n);
/* The index in funcs of the entry at address a, or nfuncs when none. */
size_t dw_func_index_at(const struct dw *dw, uint64_t a);
/* The type key of the per-unit map: kind letter and name. */
const char *dw_type_key(struct hp_ctx *ctx, int kind, const char *name);

#endif
