/*
 * formats.h: what bytes mean. The one public header of formats/, and the map of it.
 *
 * Everything the other modules share sits here: the context that carries options,
 * memory and diagnostics (ctx.c), a string hash map (hash.c), little-endian helpers
 * and a bounds-checked cursor (below, inline), the object model and its ELF reader
 * (obj.c, elfread.c), the x86-64 relocation facts (reloc-x86-64.c) and the DWARF
 * reader (dwarfread.c, the only file that includes libdwarf).
 *
 * Dependencies point one way: formats <- differ <- linker <- cli. formats/ depends
 * on nothing of ours.
 */
#ifndef HP_FORMATS_H
#define HP_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HP_VERSION "0.1.0"

#define HP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ===================================================================== */
/* ctx.c: errors, diagnostics, the arena                                 */
/* ===================================================================== */

/*
 * Error codes. Functions return 0 or one of these negated (-HP_ECORRUPT). The
 * text of the failure is in the ctx (hp_err); the code says what kind it was.
 */
enum {
	HP_OK = 0,
	HP_ERROR = 1,       /* anything else: I/O, usage, internal */
	HP_ENOMEM = 2,      /* allocation failed */
	HP_ECORRUPT = 3,    /* input is malformed */
	HP_EUNSUPPORTED = 4,/* input is valid but beyond what we handle */
	HP_EUNPATCHABLE = 5,/* a change a running process cannot absorb */
	HP_ENOCHANGE = 6,   /* nothing to do */
	HP_EVERIFY = 7,     /* signature or identity check failed */
	HP_EMISMATCH = 8,   /* the running process is not what the patch was built for */
	HP_EBUSY = 9,       /* no safe moment to patch before the deadline */
	HP_EALREADY = 10,   /* the patch is already applied */
	HP_ELOCKED = 11,    /* another tool is working on the process */
	HP_ERECORD = 12,    /* a process's record is untrusted or disagrees with its code */
	HP_EINTR = 13,      /* interrupted by a signal; what was begun was undone */
	HP_EPOLICY = 14,    /* refused by policy: older than what was applied */
	HP_ECONFINED = 15,  /* the process's confinement or kind forbids what is needed */
};

enum hp_level { HP_LEVEL_ERROR, HP_LEVEL_WARNING, HP_LEVEL_NOTE };

struct hp_diag {
	enum hp_level level;
	char *text;         /* "file: symbol: what; why" without the tool name */
	const char *where;  /* source file:line of the code that raised it */
};

struct hp_arena_chunk;

struct hp_ctx {
	const char *tool;              /* program name, first word of every message */
	int verbose;                   /* -v count: >0 appends [file.c:line] to messages */
	struct hp_arena_chunk *chunks; /* every model node lives here until hp_ctx_fini */
	struct hp_diag *diags;         /* diagnostics in the order raised */
	size_t ndiags, capdiags;
	unsigned nerrors;              /* diagnostics of level ERROR */
	bool oom;                      /* an allocation failed somewhere */
};

void hp_ctx_init(struct hp_ctx *ctx, const char *tool);
/* Release the arena and the diagnostics. Every pointer into the arena dies here. */
void hp_ctx_fini(struct hp_ctx *ctx);

/*
 * Allocate n zeroed bytes that live until hp_ctx_fini(). Returns NULL when memory
 * runs out (and sets ctx->oom); callers return -HP_ENOMEM.
 */
void *hp_arena_alloc(struct hp_ctx *ctx, size_t n);
/* n * size zeroed bytes, NULL on overflow or exhaustion. */
void *hp_arena_array(struct hp_ctx *ctx, size_t n, size_t size);
/*
 * Room for one more element in a growing array: *(T **)vp holds n elements of
 * size bytes in room for *cap; when full, the room doubles (first: the first
 * capacity). hp_grow() reallocs a malloc'ed array (the caller frees it);
 * hp_arena_grow() copies an arena one into a larger arena array. 0, or
 * -HP_ENOMEM with the array untouched.
 */
int hp_grow(struct hp_ctx *ctx, void *vp, size_t *cap, size_t n, size_t size, size_t first);
int hp_arena_grow(struct hp_ctx *ctx, void *vp, size_t *cap, size_t n, size_t size, size_t first);
char *hp_arena_strdup(struct hp_ctx *ctx, const char *s);
char *hp_arena_strndup(struct hp_ctx *ctx, const char *s, size_t n);
char *hp_arena_printf(struct hp_ctx *ctx, const char *fmt, ...) HP_PRINTF(2, 3);

/*
 * Record a diagnostic "file: sym: message". file or sym may be NULL and are then
 * left out. Returns the negated code so a caller can write
 * `return hp_err(ctx, HP_ECORRUPT, path, NULL, "...")`.
 */
int hp_diag_add(struct hp_ctx *ctx, enum hp_level level, int code, const char *where,
		const char *file, const char *sym, const char *fmt, ...) HP_PRINTF(7, 8);

/*
 * Forget the diagnostics raised since mark (a value of ctx->ndiags), for a
 * caller that tried something, failed, and has another way.
 */
void hp_diag_rollback(struct hp_ctx *ctx, size_t mark);

#define HP_STR2(x) #x
#define HP_STR(x) HP_STR2(x)
#define HP_WHERE (__FILE__ ":" HP_STR(__LINE__))
#define hp_err(ctx, code, file, sym, ...)                                                          \
	hp_diag_add(ctx, HP_LEVEL_ERROR, code, HP_WHERE, file, sym, __VA_ARGS__)
#define hp_warn(ctx, file, sym, ...)                                                               \
	hp_diag_add(ctx, HP_LEVEL_WARNING, 0, HP_WHERE, file, sym, __VA_ARGS__)
#define hp_nomem(ctx) hp_err(ctx, HP_ENOMEM, NULL, NULL, "out of memory")

/* ===================================================================== */
/* hash.c: string -> pointer map                                         */
/* ===================================================================== */

/*
 * An open-addressing map from NUL-terminated strings to pointers. Keys are not
 * copied: they must outlive the map. Memory comes from the ctx arena.
 */
struct hp_map {
	const char **keys;
	void **vals;
	size_t cap, len; /* cap is a power of two */
};

uint64_t hp_hash_bytes(const void *p, size_t n);
static inline uint64_t hp_hash_str(const char *s)
{
	return hp_hash_bytes(s, strlen(s));
}
/* Create a map sized for about n keys. */
int hp_map_init(struct hp_ctx *ctx, struct hp_map *m, size_t n);
/* The value stored under key, or NULL. */
void *hp_map_get(const struct hp_map *m, const char *key);
/* Store val under key unless the key is present; *out gets the value now stored. */
int hp_map_put(struct hp_ctx *ctx, struct hp_map *m, const char *key, void *val, void **out);

/* ===================================================================== */
/* Little-endian fields and the bounds-checked cursor                    */
/* ===================================================================== */

static inline uint16_t hp_load_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t hp_load_le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t hp_load_le64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)hp_load_le32(b) | (uint64_t)hp_load_le32(b + 4) << 32;
}
static inline void hp_store_le16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}
static inline void hp_store_le32(void *p, uint32_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static inline void hp_store_le64(void *p, uint64_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* A read position in an untrusted buffer. Every take checks the length first. */
struct hp_cursor {
	const uint8_t *buf;
	size_t len, off;
};

static inline int hp_cur_take(struct hp_cursor *c, size_t n, const uint8_t **out)
{
	if (c->off > c->len || n > c->len - c->off) /* compare sizes, not pointers */
		return -HP_ECORRUPT;
	*out = c->buf + c->off;
	c->off += n;
	return 0;
}

/*
 * a + b and a - b modulo 2^64, the way relocation arithmetic (S + A - P) is
 * done: addends come from the file, and signed overflow is undefined.
 */
static inline int64_t hp_add_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}
static inline int64_t hp_sub_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* True when [off, off + n) lies inside a buffer of len bytes. */
static inline bool hp_range_ok(uint64_t off, uint64_t n, uint64_t len)
{
	return off <= len && n <= len - off;
}

/* ===================================================================== */
/* sha256.c                                                              */
/* ===================================================================== */

struct hp_sha256 {
	uint32_t h[8];
	uint64_t len;    /* bytes hashed so far */
	uint8_t buf[64];
	size_t fill;     /* bytes waiting in buf */
};

void hp_sha256_init(struct hp_sha256 *s);
void hp_sha256_update(struct hp_sha256 *s, const void *data, size_t n);
void hp_sha256_final(struct hp_sha256 *s, uint8_t out[32]);
/* SHA-256 of n bytes at data, in one call. */
void hp_sha256(const void *data, size_t n, uint8_t out[32]);

/* ===================================================================== */
/* json.c: writing JSON                                                  */
/* ===================================================================== */

#include <stdio.h>
/*
 * Write s as a JSON string literal: valid UTF-8 as is, quotes, backslashes and
 * control characters escaped, and each byte that is not valid UTF-8 as \u00XX.
 */
void hp_json_string(FILE *f, const char *s);

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
/* file.c: whole files in and out                                        */
/* ===================================================================== */

struct stat;

/*
 * Read the regular file at path into a malloc'd buffer (free with free()).
 * Refuses files over max bytes with a diagnostic.
 */
int hp_read_file(struct hp_ctx *ctx, const char *path, size_t max, uint8_t **out, size_t *len);
/*
 * The same for a file already open: read fd (from its current offset, which
 * must be 0) into a malloc'd buffer; path names it in messages. The caller
 * keeps fd and closes it. For a caller that checked what it opened (fstat).
 */
int hp_read_fd(struct hp_ctx *ctx, int fd, const char *path, size_t max, uint8_t **out,
	       size_t *len);
/*
 * Write len bytes to path atomically: into a temporary file in the same
 * directory, flushed, then renamed over path. On failure nothing is left
 * behind and path is untouched. Signals that would end the process (SIGTERM,
 * SIGINT, SIGHUP ...) are held while the temporary file exists; if one
 * arrives, the file is removed, path is untouched, and the signal takes effect
 * on return. Only SIGKILL can leave a PATH.tmpXXXXXX behind.
 */
int hp_write_file_atomic(struct hp_ctx *ctx, const char *path, const void *buf, size_t len);
/*
 * Refusing what others could change under us (a trust store, the patch
 * store). what is a noun for messages ("trust store"). -HP_EVERIFY with one
 * diagnostic; -HP_ERROR when something cannot be checked.
 *
 * hp_check_owner: st (of file) must show it owned by root or by the effective
 * user and writable by its owner only; with parent, it is a directory above
 * what, which may also be root's and sticky (/tmp).
 * hp_check_parents: every directory above real (an absolute path without
 * symbolic links, from realpath()) up to /; a component that has become a
 * symbolic link since is refused.
 * hp_check_private: real itself (not a symbolic link) and every directory above.
 */
int hp_check_owner(struct hp_ctx *ctx, const char *file, const struct stat *st, const char *what,
		   bool parent);
int hp_check_parents(struct hp_ctx *ctx, const char *real, const char *what);
int hp_check_private(struct hp_ctx *ctx, const char *real, const char *what);

/* ===================================================================== */
/* hpx.c: the .hpx container (formats/hpx-format.md)                     */
/* ===================================================================== */

#define HPX_VERSION 1
#define HPX_HEADER_SIZE 64
#define HPX_BODY_HEADER_SIZE 16
#define HPX_MAX_PAYLOAD (64u << 20)  /* bytes of decompressed payload a reader accepts */
#define HPX_MAX_IMAGE (1ull << 30)   /* bytes of image in memory */
#define HPX_PAGE 4096
#define HPX_TARGET_IMAGE 0x80000000u /* fixup target: the image itself */
#define HPX_NO_STUB 0xffffffffu
#define HPX_FUNC_CHECK_ONLY 1u
#define HPX_SIG_HEADER_SIZE 48
#define HPX_SIG_MAX 512

enum hpx_fix_type {
	HPX_FIX_ABS64 = 1,
	HPX_FIX_ABS32 = 2,
	HPX_FIX_ABS32S = 3,
	HPX_FIX_PC32 = 4,
	HPX_FIX_BRANCH32 = 5,
	HPX_FIX_PC64 = 6,
	HPX_FIX_TPOFF32 = 7, /* a thread-local variable's offset from the thread pointer */
	HPX_FIX_TPOFF64 = 8,
	HPX_FIX_DTPMOD64 = 9, /* the module id of the image defining a thread-local variable */
	HPX_FIX_DTPOFF64 = 10, /* its offset in that module's TLS block */
	HPX_FIX_DTPOFF32 = 11,
};
#define HPX_FIX_IS_TLS(t) ((t) >= HPX_FIX_TPOFF32 && (t) <= HPX_FIX_DTPOFF32)
enum hpx_sym_kind { HPX_SYM_FUNC = 1, HPX_SYM_OBJECT = 2, HPX_SYM_OTHER = 3, HPX_SYM_TLS = 4 };
/* ADDRS of a thread-local symbol: its st_value (offset in the TLS segment, often 0) with this set. */
#define HPX_ADDR_TLS (1ull << 63)
enum hpx_sym_scope { HPX_SCOPE_TARGET = 1, HPX_SCOPE_GLOBAL = 2 };
enum { HPX_PROT_R = 1, HPX_PROT_W = 2, HPX_PROT_X = 4 };
enum { HPX_SIG_ED25519 = 1, HPX_SIG_ECDSA_P256 = 2 };

struct hpx_object {
	const char *path;       /* the new object, as given to hpbuild */
	const char *cu;         /* its compilation unit's source file */
};

struct hpx_range {
	uint32_t offset, length; /* bytes of an old function left out of its hash */
};

struct hpx_func {
	const char *name;       /* name in the old build */
	const char *file;       /* STT_FILE of a static, "" for a global */
	uint32_t ordinal;       /* which of several same-named locals of file */
	uint32_t object;        /* index into objects */
	uint64_t old_size;
	uint8_t old_hash[32];   /* SHA-256 of the old bytes, masks zeroed */
	uint32_t mask_first, mask_count; /* its ranges in masks */
	uint64_t new_offset, new_size;   /* its new code in the image */
	uint32_t flags;         /* HPX_FUNC_CHECK_ONLY */
	uint64_t addr;          /* its st_value in the bound target (ADDRS); 0: not recorded */
};

struct hpx_sym {
	const char *name;
	const char *file;       /* STT_FILE of a local, "" for a global */
	uint32_t ordinal;
	uint8_t kind;           /* enum hpx_sym_kind */
	uint8_t scope;          /* enum hpx_sym_scope */
	uint64_t size;          /* expected st_size, 0 when unknown */
	uint32_t stub;          /* image offset of its jump stub, or HPX_NO_STUB */
	uint64_t addr;          /* its st_value in the bound target (ADDRS); 0: not recorded */
};

struct hpx_segment {
	uint64_t offset, size;  /* page-aligned range of the image */
	uint32_t prot;          /* HPX_PROT_* */
};

struct hpx_fixup {
	uint64_t offset;        /* field in the image */
	uint32_t type;          /* enum hpx_fix_type */
	uint32_t target;        /* index into syms, or HPX_TARGET_IMAGE */
	int64_t addend;
};

struct hpx_sig {
	uint64_t start;         /* file offset of the block; it signs bytes [0, start) */
	uint16_t algorithm;     /* HPX_SIG_* */
	uint8_t key_id[32];     /* SHA-256 of the signer's DER SubjectPublicKeyInfo */
	const uint8_t *sig;
	uint16_t sig_size;
};

/* A patch in memory: what hpx_write() takes and hpx_read() gives. */
struct hpx {
	uint8_t patch_id[16];   /* set by hpx_write() from the payload */
	uint64_t sequence;      /* >= 1 */
	uint64_t created;       /* seconds since the epoch, 0 when not recorded */
	const char *tool_version;
	const char *target_name;
	uint8_t build_id[64];
	uint32_t build_id_size; /* 0: not bound to a build-id */
	uint64_t image_size;    /* bytes in memory, page multiple */
	struct hpx_object *objects;
	size_t nobjects;
	struct hpx_func *funcs;
	size_t nfuncs;
	struct hpx_range *masks;
	size_t nmasks;
	struct hpx_sym *syms;
	size_t nsyms;
	struct hpx_segment *segments;
	size_t nsegments;
	const uint8_t *image;   /* initialized bytes from offset 0 */
	uint64_t image_file_size;
	struct hpx_fixup *fixups;
	size_t nfixups;
	/* Filled by the readers only. */
	uint64_t body_end;      /* 64 + body_size: the bytes the first signature covers */
	struct hpx_sig *sigs;
	size_t nsigs;
};

/*
 * Serialize h without signatures into a new malloc'd buffer (*out, free with
 * free()). Sets h->patch_id. The same h gives the same bytes.
 */
int hpx_write(struct hp_ctx *ctx, struct hpx *h, uint8_t **out, size_t *len);
/*
 * Read only the fixed header and the signature blocks of a container: what a
 * verifier needs before it trusts anything else. Every length is checked.
 * name is for messages. Pointers in *out point into buf.
 */
int hpx_read_envelope(struct hp_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
		      struct hpx *out);
/*
 * Read a whole container: the envelope, then the body, decompressed into the
 * ctx arena, and every section, each record checked against the format's rules.
 * Returns -HP_ECORRUPT with one diagnostic on the first violation.
 */
int hpx_read(struct hp_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
	     struct hpx *out);
/* The message a signature block signs (formats/hpx-format.md), 88 bytes. */
#define HPX_SIG_MESSAGE_SIZE 88
#define HPX_SIG_MESSAGE_KEY_ID 24  /* offset of the key id in the message */
void hpx_sig_message(const uint8_t *file, uint64_t start, uint16_t algorithm,
		     const uint8_t key_id[32], uint8_t out[HPX_SIG_MESSAGE_SIZE]);
/* The width in bytes of the field a fixup type fills; 0 for an unknown type. */
unsigned hpx_fix_width(uint32_t type);
const char *hpx_fix_name(uint32_t type);

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
/*
 * SHA-256 of n bytes at p with the given ranges zeroed: the old-bytes hash of
 * FUNCS (formats/hpx-format.md). Ranges must lie inside [0, n).
 */
void hpx_masked_hash(const uint8_t *p, uint64_t n, const struct hpx_range *masks, size_t nmasks,
		     uint8_t out[32]);

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
