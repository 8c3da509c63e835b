/*
 * hpx.h: the .hpx patch container (libhpx.a; formats/hpx-format.md is the
 * specification).
 *
 * Reads a container from bytes in memory, untrusted: the envelope and its
 * signature blocks first (what a verifier needs), then the zstd-compressed
 * body, every record checked (hpx.c). Writes one from struct hpx. Gives struct
 * hpx, the message a signature signs (signing itself is signer/'s), and the
 * masked hash of a function's old bytes that builder and applier must compute
 * alike. Depends on base.h (arena, cursor, SHA-256) and libzstd (-lzstd). It
 * knows nothing of ELF or DWARF: symbols travel as names, which the builder
 * and the runtime resolve.
 */
#ifndef HP_FORMATS_HPX_H
#define HP_FORMATS_HPX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/base.h"

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
/*
 * SHA-256 of n bytes at p with the given ranges zeroed: the old-bytes hash of
 * FUNCS (formats/hpx-format.md). Ranges must lie inside [0, n).
 */
void hpx_masked_hash(const uint8_t *p, uint64_t n, const struct hpx_range *masks, size_t nmasks,
		     uint8_t out[32]);

#endif
