/*
 * dwarfread.h: what the DWARF of an object says (libdwarfread.a).
 *
 * Reads the .debug_* sections of a relocatable object that elfread.h has read
 * (struct obj), through libdwarf, relocating them itself (dwarfread.c), and
 * decodes the line tables without it (dwlines.c). Gives the concrete function
 * instances and what each inlines (dw_read_funcs, dw_inline_sites), source
 * lines of code offsets (dw_line_at), and a model read on demand of types,
 * variables with a static address and subprograms (dwtypes.c). Depends on
 * base.h, elfread.h, and libdwarf, libelf and zlib (-ldwarf -lelf -lz). Only
 * the differ uses it; the applier does not link it. dwarf_internal.h is what
 * its own files share.
 */
#ifndef HP_FORMATS_DWARFREAD_H
#define HP_FORMATS_DWARFREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/base.h"
#include "formats/elfread.h"

/* ===================================================================== */
/* dwarfread.c, dwtypes.c: what DWARF says (libdwarf)                   */
/* ===================================================================== */

/*
 * The DWARF of one object, opened by the first dw_get() and closed by obj_free().
 * Opening indexes the top-level entries of every unit (entry points, variables,
 * named types); everything else is read when asked for and kept: a check that
 * looks at three functions reads three functions. Addresses in a .o are
 * section-relative; the reader relocates the .debug_* sections itself with each
 * allocated section at its own address, so every address maps back to exactly
 * one (section, offset). gcc and clang, DWARF 4 and 5.
 *
 * Types, variables and subprograms are arena nodes that live as long as the ctx.
 * Types refer to each other by id (the DIE's offset; 0 is void), so that reading
 * a struct does not read everything its pointers reach.
 */
struct dw;

/*
 * The DWARF of obj, opened and indexed on first use. *out is NULL when the
 * object has no .debug_info (not an error). Malformed DWARF gives one
 * diagnostic and -HP_ECORRUPT, every time it is asked for.
 */
int dw_get(struct hp_ctx *ctx, struct obj *obj, struct dw **out);
/*
 * The source line of the code at (sec, off), from the line tables (read on
 * first use, formats/dwlines.c); *line 0 when the tables do not say.
 */
int dw_line_at(struct dw *dw, const struct obj_sec *sec, uint64_t off, uint32_t *line);

/* An inlined call: code of [lo, hi) comes from a function inlined at call_line. */
struct dw_site {
	uint64_t lo, hi;        /* offsets in the section asked about */
	uint32_t call_line;     /* DW_AT_call_line of the DW_TAG_inlined_subroutine */
};

/*
 * Every inlined call, at any depth, of the function whose entry is (sec,
 * entry). *out is malloc'd (free with free()); none when DWARF does not
 * describe the function.
 */
int dw_inline_sites(struct dw *dw, const struct obj_sec *sec, uint64_t entry,
		    struct dw_site **out, size_t *n);

enum dwt_kind {
	DWT_VOID,       /* void, or no type */
	DWT_BASE,       /* int, char, double, _Bool ...: name, size, encoding */
	DWT_STRUCT,
	DWT_UNION,
	DWT_ENUM,
	DWT_TYPEDEF,
	DWT_POINTER,
	DWT_ARRAY,
	DWT_CONST,
	DWT_VOLATILE,
	DWT_RESTRICT,
	DWT_ATOMIC,
	DWT_FUNC,       /* a function type, behind a function pointer */
	DWT_OTHER,      /* anything else: only its name and size are known */
};

/* A member of a struct or union, an enumerator, or a parameter of a function type. */
struct dw_member {
	const char *name;       /* NULL: anonymous struct/union member, unnamed parameter */
	uint64_t type;          /* its type's id; 0 for enumerators */
	uint64_t offset;        /* byte offset in the struct; a bit-field's: of its first bit's byte */
	uint64_t bit_offset;    /* bit-fields: bits from the start of the struct, whichever of
				   DW_AT_data_bit_offset or DW_AT_bit_offset the producer used */
	uint32_t bit_size;      /* bit-fields: width in bits; 0 for a plain member */
	int64_t value;          /* enumerators: the value */
	uint32_t decl_line;     /* 0 when unknown */
};

struct dw_type {
	uint64_t id;            /* DIE offset in .debug_info; 0 is void */
	enum dwt_kind kind;
	const char *name;       /* as declared, NULL when anonymous; an anonymous struct, union or
				   enum behind a typedef takes the typedef's name */
	bool typedef_name;      /* name is the typedef's */
	bool declaration;       /* declared, not defined, in this unit ("struct foo;") */
	uint64_t size;          /* DW_AT_byte_size; pointers 8; 0 when DWARF gives none */
	uint32_t encoding;      /* BASE: DW_ATE_* */
	uint64_t target;        /* TYPEDEF, qualifiers: the type; POINTER: the pointee; ARRAY: the
				   element; FUNC: the return type; ENUM: the underlying type; 0: none */
	struct dw_member *members; /* STRUCT/UNION members, ENUM enumerators, FUNC parameters */
	size_t nmembers;
	uint64_t *dims;         /* ARRAY: elements per dimension, outermost first; 0: unknown ([]) */
	size_t ndims;
	bool varargs;           /* FUNC: ends in "..." */
	const char *decl_file;  /* where it is declared, or NULL */
	uint32_t decl_line;
};

/* A variable with a static address: global, file static, static local or thread-local. */
struct dw_var {
	uint64_t id;            /* the DIE with its location */
	const char *name;       /* source name: "count" for the symbol "count.3" */
	uint64_t type;
	const char *scope;      /* the function a static local is declared in; NULL at file scope */
	struct obj_sec *sec;    /* where it lives (the piece asked for, when split) */
	uint64_t offset;        /* its offset in sec */
	bool split;             /* the compiler split it into one object per piece (clang -O2
				   makes a static struct one global per member: state.0, state.1) */
	uint64_t piece;         /* where in the variable (sec, offset) is: 0 unless split */
	bool transformed;       /* (sec, offset) holds the value in another form (clang -O2
				   shrinks a global that holds two values to one byte) */
	const char *encoding;   /* transformed: how, as the location's operations in hex */
	bool external;          /* visible to other units */
	bool artificial;        /* made by the compiler (DW_AT_artificial: __func__) */
	bool tls;               /* thread-local */
	const char *decl_file;
	uint32_t decl_line;
};

/* A parameter or a variable of a function's body. */
struct dw_local {
	const char *name;       /* NULL when unnamed */
	uint64_t type;
	const char *inlined;    /* the function inlined here that declares it; NULL: the function's own */
	bool param;
	uint32_t decl_line;
};

/* A function as DWARF describes it: a concrete, out-of-line instance. */
struct dw_subprogram {
	uint64_t id;            /* the DIE of the instance */
	const char *name;       /* source name (a clone "f.isra.0" is "f") */
	const char *cu;         /* its compilation unit's DW_AT_name */
	uint64_t ret;           /* return type, 0 for void */
	struct dw_local *params; /* declared parameters, in order (a clone's are its origin's) */
	size_t nparams;
	bool varargs;           /* declared with "..." */
	struct dw_local *locals; /* the rest: variables, lexical blocks, and every parameter and
				    variable of the functions inlined into it */
	size_t nlocals;
	const char **inlines;   /* names of the functions inlined into it, each once */
	size_t ninlines;
	bool external;
	const char *decl_file;
	uint32_t decl_line;
};

/* DW_ATE_signed, DW_ATE_signed_char / DW_ATE_float, without including libdwarf. */
static inline bool dw_type_is_signed(const struct dw_type *t)
{
	return t->kind == DWT_BASE && (t->encoding == 0x05 || t->encoding == 0x06);
}
static inline bool dw_type_is_float(const struct dw_type *t)
{
	return t->kind == DWT_BASE && (t->encoding == 0x04 || t->encoding == 0x03);
}

/* The function whose entry (low_pc, or the start of a range) is (sec, off); NULL if none. */
int dw_subprogram_at(struct dw *dw, const struct obj_sec *sec, uint64_t off,
		     const struct dw_subprogram **out);
/* The variable at (sec, off), statics inside functions included; NULL if none. */
int dw_var_at(struct dw *dw, const struct obj_sec *sec, uint64_t off, const struct dw_var **out);
/* The type with this id (0 gives void). */
int dw_type_get(struct dw *dw, uint64_t id, const struct dw_type **out);
/*
 * The id of the type called name of this kind (STRUCT, UNION, ENUM, TYPEDEF, BASE)
 * declared at the top level of the unit called cu (the first unit when no unit
 * has that name), preferring a definition to a declaration; 0 when there is none.
 * An anonymous struct behind "typedef struct {...} name" is found as STRUCT name.
 */
int dw_type_find(struct dw *dw, const char *cu, enum dwt_kind kind, const char *name,
		 uint64_t *out);
/* The name of the unit holding id ("" when unknown). */
const char *dw_unit_of(const struct dw *dw, uint64_t id);
/* The type behind typedefs and qualifiers. */
int dw_type_strip(struct dw *dw, uint64_t id, const struct dw_type **out);
/* sizeof the type: through typedefs and qualifiers, arrays as count x element. */
int dw_type_sizeof(struct dw *dw, uint64_t id, uint64_t *out);
/*
 * How C spells the type: "struct conn *", "const char *", "int[4]", "u32". With
 * resolve, typedefs are replaced by what they name, so two spellings of one
 * type compare equal. An arena string.
 */
int dw_type_spell(struct dw *dw, uint64_t id, bool resolve, const char **out);

/* A concrete function instance in the object's DWARF. */
struct dw_func {
	const char *name;       /* DW_AT_name, through abstract_origin/specification */
	struct obj_sec *sec;    /* where its entry (low_pc or first range) lies */
	uint64_t offset;        /* entry offset in sec */
	const char **inlines;   /* names of functions inlined into it, each once */
	size_t ninlines;
	const char *decl_file;  /* file of the declaration, or NULL */
	uint32_t decl_line;     /* line of the declaration, 0 when unknown */
};

struct dw_info {
	struct dw_func *funcs;  /* concrete function instances, in DIE order */
	size_t nfuncs;
	bool present;           /* the object has .debug_info */
};

/*
 * Read the concrete function instances of obj's DWARF (gcc and clang, DWARF 4
 * and 5) whose entry is one of the want symbols (every one when want is NULL).
 * A function split in hot and cold ranges gives one instance per range start.
 * An object without DWARF gives present = false and no error. Addresses in the
 * object are section-relative; the reader relocates the .debug_* sections itself
 * with each allocated section at its own address, so every address maps back
 * to (section, offset) exactly.
 */
int dw_read_funcs(struct hp_ctx *ctx, struct obj *obj, struct obj_sym *const *want,
		  size_t nwant, struct dw_info *out);
/* The instance whose entry is (sec, offset), or NULL. */
const struct dw_func *dw_func_at(const struct dw_info *dw, const struct obj_sec *sec,
				 uint64_t offset);

#endif
