/*
 * arch-x86-64.c: what the linker needs to know about x86-64 (System V psABI,
 * x86-64 supplement), in one place.
 *
 * The patch image is position independent: code that travels refers to other
 * code and data of the image PC-relatively, resolved here, and to the process
 * through fixups the applier fills. Calls into the process (R_X86_64_PLT32) may
 * land beyond the +-2 GiB a rel32 reaches when the target is a shared library;
 * each such symbol gets a 16-byte stub in the image, "jmp *slot(%rip)", whose
 * 8-byte slot the applier fills, and the call goes to the stub when the symbol
 * is out of reach. GOT-relative loads (GOTPCREL, GOTPCRELX, REX_GOTPCRELX) get
 * a slot of the image's own GOT, so they always reach. The linker never relaxes
 * an instruction: the image is built once, then only filled in.
 *
 * What the static linker did to the old code matters too: when it relaxed a
 * GOTPCRELX load into a lea, or a TLS sequence into a shorter one, the bytes
 * around the field changed. The old-bytes hash masks them (arch_x86_64_mask).
 *
 * A short jump (rel8) from one function to another, which the assembler makes
 * of a tail call when both share .text (no -ffunction-sections), cannot reach
 * the process from the image: it goes to a near stub placed right after its
 * function, which jumps on (arch_x86_64_near_stub).
 *
 * Thread-local variables of the process (a patch brings none: the TLS block of
 * a running process cannot grow) are reached as the old code reached them:
 * local-exec (TPOFF32, %fs:offset) with the offset filled by the applier,
 * initial-exec (GOTTPOFF) through a slot of the image's GOT holding it,
 * general- and local-dynamic (TLSGD, TLSLD, then a call to __tls_get_addr)
 * through a pair of GOT slots holding the module id and the offset, and
 * DTPOFF32/64 fields holding the offset. Refused, with the reason: TLS
 * descriptors (-mtls-dialect=gnu2), and the large-model GOT forms (GOTOFF64,
 * GOTPC64, PLTOFF64 ...), which gcc and clang emit only with -mcmodel=large.
 */
#include <elf.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "linker/linker.h"

enum arch_action arch_x86_64_classify(uint32_t type, const char **why)
{
	*why = NULL;
	switch (type) {
	case R_X86_64_NONE:
	case R_X86_64_TLSDESC_CALL:
		return ARCH_SKIP;
	case R_X86_64_PC32:
		return ARCH_PCREL32;
	case R_X86_64_PLT32:
		return ARCH_BRANCH32;
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
		return ARCH_GOTPCREL;
	case R_X86_64_64:
		return ARCH_ABS64;
	case R_X86_64_32:
		return ARCH_ABS32;
	case R_X86_64_32S:
		return ARCH_ABS32S;
	case R_X86_64_PC64:
		return ARCH_PCREL64;
	case R_X86_64_TPOFF32:
		return ARCH_TPOFF32;
	case R_X86_64_GOTTPOFF:
		return ARCH_GOTTPOFF;
	case R_X86_64_TLSGD:
		return ARCH_TLSGD;
	case R_X86_64_TLSLD:
		return ARCH_TLSLD;
	case R_X86_64_DTPOFF32:
		return ARCH_DTPOFF32;
	case R_X86_64_DTPOFF64:
		return ARCH_DTPOFF64;
	case R_X86_64_TPOFF64:
	case R_X86_64_DTPMOD64:
		*why = "a thread-local relocation of data, not of code; not understood";
		return ARCH_REFUSE;
	case R_X86_64_GOTPC32_TLSDESC:
		*why = "a thread-local variable reached through a TLS descriptor (-mtls-dialect=gnu2) is not supported; build with the default dialect";
		return ARCH_REFUSE;
	case R_X86_64_PC8:
		return ARCH_PCREL8;
	case R_X86_64_8:
	case R_X86_64_16:
	case R_X86_64_PC16:
		*why = "8- and 16-bit relocations are not supported";
		return ARCH_REFUSE;
	default:
		*why = "large-model and GOT-relative forms are not supported (build without -mcmodel=large)";
		return ARCH_REFUSE;
	}
}

void arch_x86_64_mask(uint32_t type, int64_t *lo, int64_t *hi)
{
	const struct reloc_info *ri = reloc_x86_64_info(type);
	*lo = 0;
	*hi = ri ? ri->width : 0;
	switch (type) {
	case R_X86_64_GOTPCRELX:
		/* mov/call/jmp *foo@GOTPCREL(%rip) -> lea, addr32 call, jmp + nop */
		*lo = -2;
		*hi = 5;
		break;
	case R_X86_64_REX_GOTPCRELX:
		/* REX + opcode + ModRM may all change (mov -> lea, test/binop -> imm form) */
		*lo = -3;
		*hi = 4;
		break;
	case R_X86_64_GOTTPOFF:
		/* movq x@gottpoff(%rip), %reg -> movq $x@tpoff, %reg */
		*lo = -3;
		*hi = 4;
		break;
	case R_X86_64_TLSGD:
		/* data16 lea x@tlsgd(%rip),%rdi; data16 data16 rex64 call __tls_get_addr */
		*lo = -4;
		*hi = 12;
		break;
	case R_X86_64_TLSLD:
		/* lea x@tlsld(%rip),%rdi; call __tls_get_addr */
		*lo = -3;
		*hi = 9;
		break;
	case R_X86_64_GOTPC32_TLSDESC:
		*lo = -3;
		*hi = 4;
		break;
	case R_X86_64_TLSDESC_CALL:
		/* call *x@tlscall(%rax) (2 bytes) -> nop */
		*lo = 0;
		*hi = 2;
		break;
	}
}

void arch_x86_64_stub(uint8_t out[16], uint64_t at, uint64_t slot)
{
	/* ff 25 rel32: jmp *slot(%rip), the displacement counted from the end (at + 6) */
	out[0] = 0xff;
	out[1] = 0x25;
	hp_store_le32(out + 2, (uint32_t)(int32_t)((int64_t)slot - (int64_t)(at + 6)));
	memset(out + 6, ARCH_X86_64_CODE_FILL, 10);
}

void arch_x86_64_near_stub(uint8_t out[16], uint64_t at, int64_t target)
{
	memset(out, ARCH_X86_64_CODE_FILL, 16);
	if (target >= 0) {
		/* e9 rel32: jmp target */
		out[0] = 0xe9;
		hp_store_le32(out + 1, (uint32_t)(int32_t)(target - (int64_t)(at + 5)));
		return;
	}
	/* ff 25 02 00 00 00: jmp *(rip + 2), the slot right after the 2 fill bytes */
	out[0] = 0xff;
	out[1] = 0x25;
	hp_store_le32(out + 2, ARCH_NEAR_SLOT - 6);
	memset(out + ARCH_NEAR_SLOT, 0, 8);
}
