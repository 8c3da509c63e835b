/*
 * base.h: what every part of formats/, and every module, stands on (libbase.a).
 *
 * Reads nothing by itself but whole files asked for by path (file.c). Gives the
 * context that carries options, memory and diagnostics (ctx.c: the error codes,
 * the arena, hp_err), one hash map from strings or integers to pointers
 * (hash.c), little-endian loads and stores, a bounds-checked cursor and
 * wrapping arithmetic (below, inline), SHA-256 (sha256.c), a JSON string
 * writer (json.c), and whole-file reads and atomic writes (file.c). Depends on
 * libc only; the other parts (elfread.h, dwarfread.h, hpx.h) and every module
 * above formats/ depend on it.
 */
#ifndef HP_FORMATS_BASE_H
#define HP_FORMATS_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	bool quiet;                    /* -q: the tool prints errors, not warnings */
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
/* hash.c: the hash map, from strings or from 64-bit integers to pointers */
/* ===================================================================== */

/*
 * An open-addressing map to pointers (linear probing, power-of-two capacity,
 * never more than half full). A map holds one kind of key, set by the calls
 * made on it:
 *   - NUL-terminated strings (hp_map_get, hp_map_put, hp_map_set): symbol,
 *     section and type names. Keys are not copied: they must outlive the map;
 *   - 64-bit integers below UINT64_MAX (hp_map_get_u64, hp_map_put_u64): DIE
 *     offsets and addresses, which the DWARF reader looks up in its hot loops.
 * Memory comes from the ctx arena; a zeroed struct is an empty map.
 */
struct hp_map_slot {
	union {
		const char *str;    /* a string map: the key */
		uint64_t id;        /* an integer map: the key + 1 */
	} key;                      /* NULL or 0: the slot is empty */
	void *val;
};

struct hp_map {
	struct hp_map_slot *slots;  /* key and value side by side: one cache line a probe */
	size_t cap, len;            /* cap is 0 or a power of two */
};

uint64_t hp_hash_bytes(const void *p, size_t n);
static inline uint64_t hp_hash_str(const char *s)
{
	return hp_hash_bytes(s, strlen(s));
}
/* Create a string map sized for about n keys. */
int hp_map_init(struct hp_ctx *ctx, struct hp_map *m, size_t n);
/* The value stored under key, or NULL. */
void *hp_map_get(const struct hp_map *m, const char *key);
/* Store val under key unless the key is present; *out gets the value now stored. */
int hp_map_put(struct hp_ctx *ctx, struct hp_map *m, const char *key, void *val, void **out);
/* Store val under key, replacing what was there. */
int hp_map_set(struct hp_ctx *ctx, struct hp_map *m, const char *key, void *val);
/* The same for an integer map. */
void *hp_map_get_u64(const struct hp_map *m, uint64_t key);
int hp_map_put_u64(struct hp_ctx *ctx, struct hp_map *m, uint64_t key, void *val, void **out);

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
/* For tests: use the CPU's SHA instructions when it has them (on, the
 * default) or the portable code; whether they are used now. */
bool hp_sha256_use_cpu(bool on);

/* ===================================================================== */
/* json.c: writing JSON                                                  */
/* ===================================================================== */

/*
 * Write s as a JSON string literal: valid UTF-8 as is, quotes, backslashes and
 * control characters escaped, and each byte that is not valid UTF-8 as \u00XX.
 */
void hp_json_string(FILE *f, const char *s);
/* n bytes as 2n lower-case hex digits and a NUL, into out (2n + 1 bytes). */
void hp_hex(char *out, const uint8_t *p, size_t n);
/* 2n hex digits at s into n bytes; false when one is not. */
bool hp_unhex(const char *s, size_t n, uint8_t *out);

/* ===================================================================== */
/* file.c: whole files in and out                                        */
/* ===================================================================== */

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
/* The same with the file's mode given (the umask does not apply). */
int hp_write_file_mode(struct hp_ctx *ctx, const char *path, const void *buf, size_t len,
		       unsigned mode);

struct stat;
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

#endif
