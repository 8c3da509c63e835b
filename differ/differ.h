/*
 * differ.h: passes 3 to 6 of the pipeline, which decide what changed between two
 * builds of one object, and the report that says so.
 *
 *   differ_recover()      recover what the assembler resolved (objects without
 *                         -ffunction-sections), so functions compare one by one
 *   differ_correlate()    pair each symbol and section of new with its twin in old
 *   differ_compare()      set status and why on every function and data object
 *   differ_explain()      add what DWARF says: which functions each one inlines
 *   differ_report_build() gather the verdicts in a stable order for printing
 *   differ_run()          all of the above, in order: what hpdiff, hpbuild and
 *                         the fuzz target call
 *
 * The passes write only the twin/status/why/aux fields of the model, and
 * allocate from the ctx arena.
 */
#ifndef HP_DIFFER_H
#define HP_DIFFER_H

#include <stdio.h>

#include "formats/base.h"
#include "formats/elfread.h"

/* ===================================================================== */
/* disasm.c: x86-64 instructions (the LLVM-C disassembler)               */
/* ===================================================================== */

#define DIS_MAX_FIELDS 4

enum dis_kind {
	DIS_IMM,    /* an immediate */
	DIS_BRANCH, /* a relative branch's displacement; target is where it goes */
	DIS_PCREL,  /* a RIP-relative memory operand's displacement; target is the address */
};

/* An immediate or displacement field of an instruction. */
struct dis_field {
	uint8_t off, size;      /* bytes from the instruction's start; width */
	uint8_t kind;           /* enum dis_kind */
	uint64_t target;        /* DIS_BRANCH, DIS_PCREL: the address referred to */
};

struct dis_insn {
	uint64_t addr;          /* where it was decoded (the pc given) */
	uint8_t len;            /* 0: undecodable */
	uint8_t nfields;
	struct dis_field fields[DIS_MAX_FIELDS];
};

struct disasm;

/* A disassembler; free with disasm_free(). */
int disasm_open(struct hp_ctx *ctx, struct disasm **out);
void disasm_free(struct disasm *d);
/*
 * Decode the instruction at p (n bytes available), as if at address pc. Fills
 * *out and, when text is not NULL, its AT&T text. Returns its length, 0 when
 * the bytes are not an instruction.
 */
size_t disasm_insn(struct disasm *d, const uint8_t *p, size_t n, uint64_t pc, struct dis_insn *out,
		   char *text, size_t textsz);
/*
 * Print the disassembly of function o of old and n of new (either may be NULL)
 * as a unified diff: each instruction with its offset, relocated operands shown
 * by what they refer to ("<- printf", "<- \"hello\""), differing instructions
 * marked - and +. Instructions are matched on their bytes, relocated fields
 * excluded, and on their targets.
 */
int differ_print_disasm(struct hp_ctx *ctx, FILE *f, const struct obj *old, const struct obj_sym *o,
			const struct obj *new, const struct obj_sym *n);

/* ===================================================================== */
/* recover.c                                                             */
/* ===================================================================== */

/*
 * Make an object built without -ffunction-sections -fdata-sections comparable
 * function by function: decode the code of every section that holds several
 * functions (or that refers to a section holding several objects through its
 * section symbol), give each PC-relative relocation its exact distance to the
 * end of its instruction, and add a relocation for each reference the
 * assembler resolved itself: a call, jump or address from one function to
 * another in the same section. Those synthetic relocations point at the
 * function referred to. A section that cannot be decoded is refused.
 */
int differ_recover(struct hp_ctx *ctx, struct obj *obj);

/* ===================================================================== */
/* correlate.c                                                           */
/* ===================================================================== */

/*
 * Pair symbols and sections of new with those of old (sets twin on both sides).
 * Global names pair exactly. Local names pair exactly, then by their name
 * without compiler numbering ("count.3" with "count.7", "f.constprop.0" with
 * "f.constprop.1"), then, where several statics share a base name, by the set
 * of functions that refer to each.
 */
int differ_correlate(struct hp_ctx *ctx, struct obj *old, struct obj *new);

/*
 * The name without compiler numbering: "count.3" -> "count", "f.constprop.0" ->
 * "f.constprop", "f.part.1.cold" -> "f.part.cold", "f.llvm.8812" -> "f". Returns
 * name itself when nothing is stripped, else an arena copy (NULL on exhaustion).
 */
const char *differ_canonical_name(struct hp_ctx *ctx, const char *name);

/* ===================================================================== */
/* compare.c                                                             */
/* ===================================================================== */

/*
 * Set status and why on every defined function and data object of both objects:
 * NEW (no twin, in new), REMOVED (no twin, in old), CHANGED or SAME. A function
 * is CHANGED when its bytes differ outside relocated fields, or when a
 * relocation's target differs (by twin symbol and addend, by string contents,
 * or by the contents of the anonymous piece of data it points into). A cold part
 * that changed makes its parent CHANGED too.
 */
int differ_compare(struct hp_ctx *ctx, struct obj *old, struct obj *new);

/* Where a relocation points, independent of layout. */
enum differ_ref_kind {
	DIFFER_REF_ABS,   /* no symbol: the addend is the value */
	DIFFER_REF_SYM,   /* a named symbol (function, object, undefined) plus off */
	DIFFER_REF_PIECE, /* an anonymous piece of a section (a string, a constant, a table) */
};

struct differ_ref {
	enum differ_ref_kind kind;
	const struct obj_sym *sym; /* REF_SYM */
	const struct obj_sec *sec; /* REF_PIECE: the section holding the piece */
	uint64_t start, len;       /* REF_PIECE: the piece's bytes in sec */
	int64_t off;               /* S + A relative to sym's value or to the piece's start */
};

/*
 * Resolve relocation r, which applies to section from, to what it refers to.
 * Section symbols and local labels (.LC0, .L.str.3) are resolved to the symbol
 * that covers the address, or to the anonymous piece (a NUL-terminated string,
 * one constant of a merge section, or the stretch between two referenced
 * addresses) that holds it.
 */
int differ_resolve(struct hp_ctx *ctx, const struct obj *obj, const struct obj_sec *from,
		   const struct obj_rel *r, struct differ_ref *out);
/* A short rendering of a target: "name+off", "\"a string\"", ".rodata.cst8+0x10" (arena). */
const char *differ_describe_ref(struct hp_ctx *ctx, const struct differ_ref *r);

/* ===================================================================== */
/* explain.c                                                             */
/* ===================================================================== */

/* A function DWARF says is inlined into another. */
struct differ_inline {
	const char *name;
	bool changed;           /* its out-of-line copy changed too */
};

/* What the differ knows about one function beyond its status. */
struct differ_func_info {
	struct differ_inline *inlines;
	size_t ninlines;
};

/*
 * Read new's DWARF and attach to every CHANGED or NEW function (in sym->aux, a
 * struct differ_func_info) the functions inlined into it; a changed function
 * that inlines a function whose out-of-line copy also changed says so in why.
 * An object without DWARF is not an error.
 */
int differ_explain(struct hp_ctx *ctx, struct obj *old, struct obj *new);

/* ===================================================================== */
/* layout.c                                                              */
/* ===================================================================== */

/* The rules of the safety gate (docs/architecture.md), as named in reports. */
enum differ_rule {
	DIFFER_RULE_TYPE_LAYOUT,   /* "type-layout": changed code uses a type whose layout changed */
	DIFFER_RULE_VARIABLE,      /* "variable": an existing variable's size, type or initial value */
	DIFFER_RULE_TLS,           /* "tls": a new thread-local variable */
	DIFFER_RULE_CONSTRUCTOR,   /* "constructor": constructors, destructors and their tables */
	DIFFER_RULE_SIGNATURE,     /* "signature": a changed signature that unchanged code calls */
	DIFFER_RULE_TOO_SMALL,     /* "too-small": no room for the 5-byte entry jump */
	DIFFER_RULE_UNKNOWN,       /* "not-understood": cannot tell, so refused */
};

/* One difference inside a finding: "member 'len' offset 8 -> 12". */
struct differ_change {
	const char *member;        /* "len", "pt.x", "[3]", or NULL for the entity itself */
	const char *what;          /* "size", "offset", "type", "bit-field", "value", "initial value",
				      "removed", "added", "parameter 2", "return type", ... */
	const char *old, *new;     /* the values as text; NULL when there is none on that side */
};

/* One reason a change cannot be absorbed by a running process. */
struct differ_finding {
	enum differ_rule rule;
	const char *file;          /* the object it was found in */
	const char *symbol;        /* the function or variable it is about */
	const char *entity;        /* what changed: "struct conn", "variable 'limits'", ".init_array" */
	const char *via;           /* how symbol reaches entity ("parameter 'c'"), or NULL */
	const char *decl_file;     /* where entity is declared (new build), or NULL */
	uint32_t decl_line;
	struct differ_change *changes;
	size_t nchanges;
	const char *text;          /* "what; why": the diagnostic after "tool: file: symbol: " */
};

struct differ_findings {
	struct differ_finding *v;
	size_t n;
};

/* The report name of a rule: "type-layout", "variable", ... */
const char *differ_rule_name(enum differ_rule rule);

/* The linker and the layout check say the same about a function too small to redirect. */
#define DIFFER_TOO_SMALL_FMT "only %llu bytes long; the 5-byte jump to its new version does not fit"

/*
 * Pass 5, the safety gate: find every change a running process cannot absorb
 * (docs/architecture.md), from the ELF and the DWARF of both objects:
 *   - a struct, union, enum or typedef whose layout changed and that changed or
 *     new code uses (return value, parameter, local, a global it touches, and
 *     whatever those reach through pointers and members);
 *   - an existing variable (global, static, static local, const or not) whose
 *     size, type or initial value changed;
 *   - a new thread-local variable; a new, removed or changed constructor or
 *     destructor (.init_array, .fini_array, .ctors, .dtors, .preinit_array);
 *   - a changed signature where unchanged code calls the function (a SAME
 *     caller, data holding its address, or other objects for a global);
 *   - a replaced function shorter than the 5-byte jump;
 *   - anything it cannot tell (no DWARF, unknown DWARF forms): refused.
 * Data the compiler made (gcc's CSWTCH.N switch tables: no DW_TAG_variable, or
 * DW_AT_artificial) is not a variable: when it changes, every function that
 * reads it becomes CHANGED ("reads ...") and the table is marked artificial, so
 * differ_collect() carries the new table with them.
 *
 * Each finding becomes one diagnostic of the given level (hpbuild: errors,
 * hpdiff: warnings) and is stored in *out (arena). Returns -HP_EUNPATCHABLE when
 * level is HP_LEVEL_ERROR and anything was found, 0 when nothing was or when
 * findings are warnings, another negative code when an object cannot be read.
 * Run after differ_compare() and before differ_report_build().
 */
int differ_check_layout(struct hp_ctx *ctx, struct obj *old, struct obj *new,
			enum hp_level level, struct differ_findings *out);

/* ===================================================================== */
/* collect.c                                                             */
/* ===================================================================== */

enum differ_item_kind {
	DIFFER_ITEM_FUNC,  /* a function of new */
	DIFFER_ITEM_DATA,  /* a data object of new */
	DIFFER_ITEM_PIECE, /* an anonymous piece of a section of new (string, table, constant) */
};

/* Something of new that travels in the patch. */
struct differ_item {
	enum differ_item_kind kind;
	struct obj_sym *sym;       /* FUNC, DATA */
	const struct obj_sec *sec; /* where its bytes are */
	uint64_t start, size;      /* its bytes in sec */
	bool replaces;             /* a CHANGED function: its old twin is redirected here */
	bool check_only;           /* a cold part: its old twin is checked, never redirected */
};

struct differ_closure {
	struct differ_item *items; /* roots first, then what they need, in discovery order */
	size_t nitems, cap;
	struct hp_map pieces; /* "section index:start" -> item index + 1 */
};

/*
 * Compute what must travel in the patch: every CHANGED function, the cold part
 * of each, and, transitively, the NEW functions and NEW data they refer to and
 * the anonymous pieces (strings, jump tables, constants) they use, and the
 * CHANGED data differ_check_layout() marked artificial (tables the compiler
 * made). Everything with a SAME twin stays in the process and is referred to
 * there. Marks include on the symbols. Run differ_check_layout() first: it
 * refuses changed variables with the reason; here any other CHANGED data
 * object is refused with a plain one (-HP_EUNPATCHABLE, one diagnostic each).
 */
int differ_collect(struct hp_ctx *ctx, struct obj *old, struct obj *new,
		   struct differ_closure *out);

/*
 * Add sym, a NEW function or data object of new that code of another object
 * in the same patch refers to, and what it needs in turn, to a closure
 * differ_collect() made. Nothing happens if it is already included.
 */
int differ_collect_add(struct hp_ctx *ctx, struct obj *new, struct differ_closure *closure,
		       struct obj_sym *sym);

/* ===================================================================== */
/* report.c                                                              */
/* ===================================================================== */

enum differ_kind { DIFFER_FUNC, DIFFER_OBJECT };

struct differ_entry {
	enum differ_kind kind;
	enum obj_status status;
	const char *name;          /* name in new, or in old when REMOVED */
	const char *old_name;      /* name in old when it differs ("count.0" -> "count.1") */
	const struct obj_sym *old; /* NULL when NEW */
	const struct obj_sym *new; /* NULL when REMOVED */
	const char *why;           /* first difference; for a SAME line_only one, the lines */
	bool line_only;            /* SAME: only __LINE__ values differ (differ_compare) */
	const char *part_of;       /* cold part: the function it was split from */
	const struct differ_inline *inlines; /* see struct differ_func_info */
	size_t ninlines;
};

struct differ_report {
	const char *old_path, *new_path;
	struct differ_entry *entries; /* functions then data, each sorted by name */
	size_t nentries;
	size_t nfunc[4], ndata[4];    /* counts by enum obj_status */
	size_t nline_only;            /* SAME functions whose bytes differ only in line numbers */
	const struct differ_findings *findings; /* differ_check_layout()'s, or NULL */
};

/* Gather every function and data object with its verdict. */
int differ_report_build(struct hp_ctx *ctx, const struct obj *old, const struct obj *new,
			struct differ_report *out);
/* True when the report holds anything but SAME. */
bool differ_report_has_changes(const struct differ_report *r);
/* Print one line per entry (SAME ones only when all), then a summary line. */
void differ_report_text(FILE *f, const struct differ_report *r, bool all);
/* Print the report as JSON (differ/report-format.md). */
void differ_report_json(FILE *f, const struct differ_report *r);

/* ===================================================================== */
/* pairs.c: the object pairs of one patch                                */
/* ===================================================================== */

/* One object pair and everything the passes know about it. */
struct differ_pair {
	const char *old_path, *new_path, *name;
	struct obj *old, *new;
	struct differ_closure closure;
	struct differ_findings findings;
	struct differ_report report;
	bool identical;          /* byte-identical files: skipped */
};

/*
 * Pair every .o under new_dir with the file of the same relative path under
 * old_dir, sorted by path, in the ctx arena. A new object without a
 * counterpart is refused (-HP_EUNPATCHABLE: a new translation unit cannot be
 * added to a running process); byte-identical files are marked identical.
 */
int differ_pairs_from_dirs(struct hp_ctx *ctx, const char *old_dir, const char *new_dir,
			   struct differ_pair **out, size_t *n);
/* Read both objects of p, run every pass (refusing, at HP_LEVEL_ERROR, what a
 * running process cannot absorb), and collect what travels. */
int differ_pair_run(struct hp_ctx *ctx, struct differ_pair *p);
/*
 * Code of one pair that refers to a global new in another pair takes that
 * global (and what it needs) into its pair's closure, until no closure grows;
 * a new global defined in two pairs is refused, as ld would.
 */
int differ_cross_object(struct hp_ctx *ctx, struct differ_pair *pairs, size_t n);

/* ===================================================================== */
/* run.c: the passes in order, for every caller                          */
/* ===================================================================== */

/*
 * Every pass on one pair, in the one order all callers share: recover (both
 * objects, both diagnosed), correlate, compare, explain, the layout check at
 * level (HP_LEVEL_WARNING: say what hpbuild would refuse; HP_LEVEL_ERROR:
 * refuse it), and the report, whose findings point at *findings. Returns 0;
 * -HP_EUNPATCHABLE when the layout check refused, with the report built all
 * the same (it says why); or another error.
 */
int differ_run(struct hp_ctx *ctx, struct obj *old, struct obj *new, enum hp_level level,
	       struct differ_report *rep, struct differ_findings *findings);

#endif
