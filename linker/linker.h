/*
 * linker.h: pass 7, lay the collected items of one or more object pairs out
 * into one patch image and say how the applier completes it.
 *
 * Everything the patch carries (differ_collect) gets an offset in the image;
 * every relocation of that code becomes bytes (when both ends are in the image),
 * or a fixup against a symbol of the running process, named so the applier
 * finds exactly one. What only one architecture knows lives in arch-<arch>.c.
 */
#ifndef HP_LINKER_H
#define HP_LINKER_H

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"

/* One object pair, compared and collected. */
struct linker_input {
	struct obj *old, *new;
	const char *path;                     /* the object's name in the patch */
	const struct differ_closure *closure; /* what travels */
};

/*
 * Build the image of all inputs into h: objects, funcs (with old sizes, masks
 * and hashes taken from the old objects), masks, syms, segments, image,
 * image_size and fixups. The rest of h (sequence, target, ...) is the caller's.
 * A relocation the patch cannot express is refused with -HP_EUNPATCHABLE, one
 * diagnostic per problem; the image's arrays live in the ctx arena.
 */
int linker_build(struct hp_ctx *ctx, const struct linker_input *in, size_t n, struct hpx *h);

/*
 * Bind h to the binary at path (target.c): its build-id and name, the address
 * of each replaced function (its old bytes must match: one copy exactly), and
 * of each symbol the patch needs. Every problem is one diagnostic.
 */
int linker_bind_target(struct hp_ctx *ctx, const char *path, struct hpx *h);

/* ===================================================================== */
/* arch-x86-64.c                                                         */
/* ===================================================================== */

/* What becomes of one relocation of code that travels in the patch. */
enum arch_action {
	ARCH_SKIP,     /* no field (R_X86_64_NONE, TLSDESC_CALL) */
	ARCH_PCREL32,  /* S + A - P in 4 bytes */
	ARCH_BRANCH32, /* a call or jump: PCREL32, through a stub when out of reach */
	ARCH_GOTPCREL, /* the address of a GOT slot holding S, PC-relative */
	ARCH_ABS64,
	ARCH_ABS32,    /* zero-extended */
	ARCH_ABS32S,   /* sign-extended */
	ARCH_PCREL64,
	ARCH_PCREL8,   /* a short jump (rel8): to a near stub when the target is far */
	ARCH_TPOFF32,  /* local-exec TLS: the variable's offset from the thread pointer */
	ARCH_GOTTPOFF, /* initial-exec TLS: a GOT slot holding that offset, PC-relative */
	ARCH_TLSGD,    /* general-dynamic TLS: a GOT pair (module id, offset), PC-relative */
	ARCH_TLSLD,    /* local-dynamic TLS: a GOT pair (module id, 0), PC-relative */
	ARCH_DTPOFF32, /* the variable's offset in its module's TLS block */
	ARCH_DTPOFF64,
	ARCH_REFUSE,   /* TLS descriptors and large-model forms: refused with a reason */
};

/* How to handle relocation type; for ARCH_REFUSE, *why says why. */
enum arch_action arch_x86_64_classify(uint32_t type, const char **why);
/*
 * The bytes around a relocation at offset 0 that the static linker may rewrite:
 * the field itself, plus the instruction bytes a relaxation changes
 * (GOTPCRELX: the 2 opcode bytes before; REX_GOTPCRELX: 3; TLS sequences: the
 * whole sequence). Returns [*lo, *hi) relative to r_offset.
 */
void arch_x86_64_mask(uint32_t type, int64_t *lo, int64_t *hi);
/* The 16 bytes of a jump stub at image offset at, jumping through the slot at slot. */
void arch_x86_64_stub(uint8_t out[16], uint64_t at, uint64_t slot);
/*
 * A near stub, placed right after a function, for a short jump that cannot
 * reach its target: "jmp *8(%rip)"-style through the 8-byte slot at out + 8
 * (filled by a fixup), or, when the target is at a known image offset, a
 * direct "jmp rel32" to it (target >= 0).
 */
void arch_x86_64_near_stub(uint8_t out[16], uint64_t at, int64_t target);
#define ARCH_NEAR_SLOT 8 /* offset of the slot inside a near stub */
/* The bytes used to fill gaps in code: int3. */
#define ARCH_X86_64_CODE_FILL 0xcc

#endif
