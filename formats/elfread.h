/*
 * elfread.h: what ELF files mean (libelfread.a).
 *
 * Reads ELF64 x86-64 files through libelf, every offset and size checked again
 * before use: relocatable objects, from a path or from memory (elfread.c), and
 * linked executables and shared libraries (elfimage.c). Gives the object model,
 * struct obj with its sections, symbols and relocations and the name tables
 * over them (obj.c), the meaning of each x86-64 relocation type
 * (reloc-x86-64.c), and struct image: a linked image's build-id, segments,
 * symbols and GOT slots. Depends on base.h and libelf (-lelf). It knows nothing
 * of DWARF: an obj only carries the struct dw that dwarfread.h opens on it and
 * the function that closes it, so a tool that never reads DWARF does not link
 * the DWARF part.
 */
#ifndef HP_FORMATS_ELFREAD_H
#define HP_FORMATS_ELFREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/base.h"

struct dw; /* formats/dwarfread.h */

/* ===================================================================== */
/* obj.c, elfread.c: the object model                                    */
/* ===================================================================== */

/*
 * An ELF64 x86-64 relocatable object read into plain arrays: secs[i] is ELF
 * section i and syms[i] is symbol i of .symtab. Names point into libelf's
 * string tables, which live as long as the obj. The differ's passes fill twin,
 * status, why and include; the reader leaves them zero.
 */
enum obj_status { OBJ_SAME, OBJ_CHANGED, OBJ_NEW, OBJ_REMOVED };

struct obj_sym;
struct obj_sec;

struct obj_rel {
	uint64_t offset;     /* r_offset: byte offset in the section it applies to */
	uint32_t type;       /* R_X86_64_* */
	int64_t addend;      /* r_addend */
	struct obj_sym *sym; /* target; syms[0] (the null symbol) when r_sym is 0 */
	int8_t bias;         /* PC-relative in code: bytes from r_offset to the end of the
				instruction, when decoded (differ_recover); -1 unknown */
	bool synthetic;      /* made by differ_recover for a reference the assembler resolved */
};

struct obj_sec {
	uint32_t index;          /* ELF section index */
	const char *name;        /* "" when unnamed */
	uint32_t type;           /* SHT_* */
	uint64_t flags;          /* SHF_* */
	uint64_t size;           /* bytes (in memory for NOBITS) */
	uint64_t align;          /* sh_addralign, 0 or 1 when none */
	uint64_t entsize;        /* sh_entsize */
	uint32_t link, info;     /* sh_link, sh_info */
	const uint8_t *data;     /* size bytes; NULL for SHT_NOBITS */
	struct obj_rel *rels;    /* relocations that apply to this section, sorted by offset */
	size_t nrels;
	struct obj_sec *relsec;  /* the SHT_RELA section whose entries are rels */
	bool rels_loaded;        /* rels has been read (debug sections are read lazily) */
	struct obj_sym *secsym;  /* its STT_SECTION symbol, or NULL */
	struct obj_sym **syms;   /* defined FUNC and OBJECT symbols in it, by value then size */
	size_t nsyms;
	struct obj_sec *group;   /* the SHT_GROUP section it belongs to, or NULL */
	void *aux;               /* scratch for the pass that owns it at the time */

	struct obj_sec *twin;    /* counterpart in the other object, or NULL */
	enum obj_status status;  /* set by differ_compare() */
	const char *why;         /* first difference found, for reports */
	bool include;            /* set by differ_collect() */
};

struct obj_sym {
	uint32_t index;          /* index in .symtab */
	const char *name;        /* "" when unnamed */
	uint8_t type, bind;      /* STT_*, STB_* */
	uint8_t visibility;      /* STV_* */
	uint32_t shndx;          /* section index, SHN_XINDEX resolved; SHN_UNDEF, SHN_ABS ... */
	struct obj_sec *sec;     /* defining section, NULL when undefined, absolute or common */
	uint64_t value, size;    /* st_value (offset in sec), st_size */
	const char *file;        /* for locals: the STT_FILE name before it, or NULL */
	struct obj_sym *next_same_name; /* next symbol with the same name, in index order */
	struct obj_sym *parent;  /* for a foo.cold part: foo, when present */
	bool label;              /* a place, not an entity: section symbols and local
				    assembler labels (.LC0, .L.str.3), whatever their type */

	struct obj_sym *twin;    /* counterpart in the other object, or NULL */
	enum obj_status status;  /* set by differ_compare() */
	const char *why;         /* first difference found, for reports */
	bool include;            /* set by differ_collect() */
	bool line_only;          /* SAME, though only because the bytes that differ are line
				    numbers (__LINE__ moved by an inserted line; differ_compare) */
	bool artificial;         /* data the compiler made (a switch table), not a variable: it
				    travels with the code that reads it (differ_check_layout) */
	void *aux;               /* scratch for the pass that owns it at the time */
};

struct obj_elf; /* libelf handles, private to elfread.c */

/*
 * Bytes the compressed debug sections (SHF_COMPRESSED, -gz) of one object may
 * inflate to, in all. Each section's declared size is also held to what zlib
 * can reach from its compressed bytes (1032:1). Both are checked before libelf
 * allocates: a tiny hostile object cannot make the reader allocate gigabytes.
 */
#define OBJ_MAX_INFLATED (512u << 20)

struct obj {
	const char *path;        /* as given by the user, for messages */
	uint16_t machine;        /* e_machine */
	uint64_t file_size;      /* bytes of the file */
	struct obj_sec *secs;    /* all sections; secs[0] is the null section */
	size_t nsecs;
	struct obj_sym *syms;    /* all of .symtab; syms[0] is the null symbol */
	size_t nsyms;
	struct obj_sec *symtab;  /* the SHT_SYMTAB section */
	struct hp_map sym_by_name; /* first symbol of each name (chain with next_same_name) */
	struct hp_map sec_by_name; /* first section of each name */
	struct obj_elf *elf;     /* open libelf state behind data pointers */
	struct dw *dwarf;        /* its DWARF, opened on first use by dw_get() */
	void (*dwarf_close)(struct dw *); /* how obj_free() closes it (formats/dwarfread.c) */
};

/*
 * Read the relocatable object at path. Every byte read from the file is bounds
 * checked; a malformed file gives one diagnostic naming the file and what is
 * wrong, and -HP_ECORRUPT (or -HP_EUNSUPPORTED for valid ELF we do not handle).
 * On success *out owns the file; free with obj_free(). Relocations of
 * non-allocated sections (.debug_*) are not read until obj_load_rels().
 */
int obj_read_elf(struct hp_ctx *ctx, const char *path, struct obj **out);
/*
 * The same from len bytes in memory (the fuzz targets' entry point); name stands
 * for the file in messages. buf is read in place, never written, and must stay
 * alive and unchanged until obj_free().
 */
int obj_read_elf_mem(struct hp_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
		     struct obj **out);
/* Close the file behind obj. Accepts NULL. Model nodes stay in the ctx arena. */
void obj_free(struct obj *obj);
/* Read the relocations of sec if not yet done (non-allocated sections are lazy). */
int obj_load_rels(struct hp_ctx *ctx, struct obj *obj, struct obj_sec *sec);

/* Build the lookup tables and the per-section symbol lists. Called by obj_read_elf. */
int obj_index(struct hp_ctx *ctx, struct obj *obj);
/* First symbol called name, or NULL; walk on with next_same_name. */
struct obj_sym *obj_find_sym(const struct obj *obj, const char *name);
struct obj_sec *obj_find_sec(const struct obj *obj, const char *name);
/*
 * The defined FUNC or OBJECT symbol of sec whose [value, value + size) holds off,
 * or NULL. A zero-sized symbol holds only its own offset.
 */
struct obj_sym *obj_sym_at(const struct obj_sec *sec, uint64_t off);
/* Index of the first relocation of sec at or after off (binary search). */
size_t obj_rel_lower_bound(const struct obj_sec *sec, uint64_t off);

static inline bool obj_sym_is_func(const struct obj_sym *s)
{
	return s->type == 2 /* STT_FUNC */ && s->sec && !s->label;
}
static inline bool obj_sym_is_data(const struct obj_sym *s)
{
	return (s->type == 1 /* STT_OBJECT */ || s->type == 6 /* STT_TLS */) && s->sec && !s->label;
}
/* A common symbol (-fcommon): a zero-filled variable the static linker allocates. */
static inline bool obj_sym_is_common(const struct obj_sym *s)
{
	return s->shndx == 0xfff2 /* SHN_COMMON */ && s->type == 1 /* STT_OBJECT */;
}
static inline bool obj_sec_is_text(const struct obj_sec *s)
{
	return (s->flags & 0x4 /* SHF_EXECINSTR */) && (s->flags & 0x2 /* SHF_ALLOC */);
}
static inline bool obj_sec_is_alloc(const struct obj_sec *s)
{
	return (s->flags & 0x2 /* SHF_ALLOC */) != 0;
}
static inline bool obj_sec_is_strings(const struct obj_sec *s)
{
	return (s->flags & 0x30) == 0x30; /* SHF_MERGE | SHF_STRINGS */
}
const char *obj_status_name(enum obj_status st);
/* The bytes of sym ([value, value + size) of its section); NULL for NOBITS or out of range. */
const uint8_t *obj_sym_bytes(const struct obj_sym *sym);

/* ===================================================================== */
/* reloc-x86-64.c: what each relocation type means                       */
/* ===================================================================== */

enum reloc_kind {
	RELOC_NONE,     /* R_X86_64_NONE: no field */
	RELOC_ABS,      /* S + A */
	RELOC_PCREL,    /* S + A - P */
	RELOC_GOTPCREL, /* G + GOT + A - P: address of a GOT slot for S */
	RELOC_PLT,      /* L + A - P: call through the PLT or directly */
	RELOC_TLS,      /* thread-local forms, resolved by the dynamic linker */
	RELOC_OTHER,    /* understood but only meaningful to a full linker (GOTOFF64 ...) */
};

struct reloc_info {
	const char *name; /* "R_X86_64_PC32" */
	uint8_t width;    /* bytes patched at r_offset: 0, 1, 2, 4 or 8 */
	uint8_t kind;     /* enum reloc_kind */
	bool is_signed;   /* for 4-byte fields: the value must fit in int32_t */
};

/* Facts about an x86-64 relocation type; NULL for types we do not know. */
const struct reloc_info *reloc_x86_64_info(uint32_t type);

/* ===================================================================== */
/* elfimage.c: executables and shared libraries                          */
/* ===================================================================== */

/* A symbol of a linked image. */
struct image_sym {
	const char *name;
	const char *file;        /* for a local: the STT_FILE before it; else NULL */
	uint32_t file_seq;       /* which STT_FILE entry that was (names can repeat) */
	uint8_t type, bind;      /* STT_*, STB_* */
	uint16_t shndx;
	uint64_t value, size;    /* st_value is a virtual address in a linked image */
	bool dynamic;            /* from .dynsym (else .symtab) */
	bool hidden;             /* .dynsym: a non-default version (name@VER, not name@@VER) */
	struct image_sym *next_same_name;
};

/* A GOT slot the dynamic linker fills for an imported symbol. */
struct image_got {
	const char *name;
	uint64_t slot;           /* virtual address of the 8-byte slot */
	bool plt;                /* R_X86_64_JUMP_SLOT (else GLOB_DAT or 64) */
	uint8_t tls;             /* 0, or R_X86_64_TPOFF64, DTPMOD64 or DTPOFF64: a TLS slot */
};

/* A PT_LOAD segment. */
struct image_load {
	uint64_t vaddr, offset, filesz, memsz;
	uint32_t flags;          /* PF_R, PF_W, PF_X */
};

struct image {
	const char *path;
	uint16_t type;           /* ET_EXEC or ET_DYN */
	uint8_t build_id[64];
	uint32_t build_id_size;  /* 0 when the image has no GNU build-id note */
	struct image_sym *syms;  /* .symtab (when present), then .dynsym */
	size_t nsyms;
	bool has_symtab;         /* false for a stripped image: statics cannot be found */
	struct image_load *loads;
	size_t nloads;
	struct image_got *gots;  /* the dynamic relocations that fill GOT slots by name */
	size_t ngots;
	bool has_tls;            /* a PT_TLS segment: */
	uint64_t tls_vaddr, tls_memsz, tls_align;
	const uint8_t *bytes;    /* the whole file */
	uint64_t size;
	struct hp_map by_name;   /* first symbol of each name; chain with next_same_name */
	struct obj_elf *elf;
};

/*
 * Read an x86-64 executable or shared library: build-id, PT_LOAD segments and
 * symbols, every offset checked. Free with image_free().
 */
int image_read(struct hp_ctx *ctx, const char *path, struct image **out);
void image_free(struct image *img);
/*
 * Find the defined symbol an .hpx record names: a global by name (file empty),
 * a local by name, STT_FILE and ordinal among the locals of that name under
 * one STT_FILE. Writes up to max candidates to out and returns how many there
 * are: 0 not found, 1 found, more when several files of that name hold one
 * (the caller decides, for instance by the old bytes' hash).
 */
size_t image_find(const struct image *img, const char *name, const char *file, uint32_t ordinal,
		  const struct image_sym **out, size_t max);
/* The GOT slot the image imports name through, or NULL. */
const struct image_got *image_find_got(const struct image *img, const char *name);
/*
 * The GOT slot the dynamic linker fills for thread-local name with type
 * (R_X86_64_TPOFF64: its offset from the thread pointer; DTPMOD64: its module
 * id; DTPOFF64: its offset in that module's block), or NULL. Name "" asks for
 * a slot of the image's own module id (local-dynamic: no symbol).
 */
const struct image_got *image_find_tls_got(const struct image *img, const char *name,
					   uint8_t type);
/*
 * The offset from the thread pointer of the thread-local variable at offset
 * st_value of the TLS segment of img, when img is the executable: its TLS block
 * ends at the thread pointer (x86-64, TLS variant II), so the offset is
 * negative. False when img has no PT_TLS.
 */
bool image_tpoff(const struct image *img, uint64_t st_value, int64_t *out);
/* The file bytes [vaddr, vaddr + n) of a PT_LOAD segment, or NULL. */
const uint8_t *image_bytes(const struct image *img, uint64_t vaddr, uint64_t n);

#endif
