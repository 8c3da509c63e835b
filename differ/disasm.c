/*
 * disasm.c: x86-64 instructions through the LLVM-C disassembler. The only file
 * that includes llvm-c/ (TOOLCHAIN.md section 4); the applier never links it.
 *
 * LLVM prints an instruction as text, and on the way tells two callbacks about
 * its operands: GetOpInfo gets, for each immediate or displacement, its offset
 * and size inside the instruction; SymbolLookUp gets the value a branch or a
 * RIP-relative operand refers to (ReferenceType In_Branch, In_PCrel_Load),
 * already resolved to an address. Observed with LLVM 14 on "call rel32",
 * "lea d(%rip)", "addl $1, d(%rip)", "jmp rel8", "shufps $i, d(%rip)":
 *   branch:      GetOpInfo(off, size), then SymbolLookUp(target, In_Branch)
 *   RIP-relative: SymbolLookUp(target, In_PCrel_Load), then GetOpInfo(off, size)
 *   immediate:   GetOpInfo(off, size) (sometimes followed by a plain lookup)
 * which is what struct dis_insn records.
 */
#include <llvm-c/Disassembler.h>
#include <llvm-c/Target.h>
#include <stdlib.h>

#include "differ/differ.h"

struct disasm {
	LLVMDisasmContextRef dc;
	struct dis_insn *cur;   /* the instruction being decoded */
	bool pcrel_pending;     /* a PC-relative target came before its field */
	uint64_t pcrel_target;
};

static int op_info(void *p, uint64_t pc, uint64_t off, uint64_t size, int tag, void *buf)
{
	(void)pc;
	(void)tag;
	(void)buf;
	struct disasm *d = p;
	struct dis_insn *in = d->cur;
	if (!in || in->nfields >= DIS_MAX_FIELDS)
		return 0;
	struct dis_field *f = &in->fields[in->nfields++];
	f->off = (uint8_t)off;
	f->size = (uint8_t)size;
	f->kind = d->pcrel_pending ? DIS_PCREL : DIS_IMM;
	f->target = d->pcrel_pending ? d->pcrel_target : 0;
	d->pcrel_pending = false;
	return 0;
}

static const char *sym_lookup(void *p, uint64_t value, uint64_t *type, uint64_t pc,
			      const char **name)
{
	(void)pc;
	struct disasm *d = p;
	struct dis_insn *in = d->cur;
	if (in && *type == LLVMDisassembler_ReferenceType_In_Branch && in->nfields) {
		struct dis_field *f = &in->fields[in->nfields - 1];
		f->kind = DIS_BRANCH;
		f->target = value;
	} else if (in && *type == LLVMDisassembler_ReferenceType_In_PCrel_Load) {
		d->pcrel_pending = true;
		d->pcrel_target = value;
	}
	*type = LLVMDisassembler_ReferenceType_InOut_None;
	*name = NULL;
	return NULL;
}

int disasm_open(struct hp_ctx *ctx, struct disasm **out)
{
	*out = NULL;
	struct disasm *d = calloc(1, sizeof *d);
	if (!d)
		return hp_nomem(ctx);
	LLVMInitializeX86TargetInfo();
	LLVMInitializeX86TargetMC();
	LLVMInitializeX86Disassembler();
	d->dc = LLVMCreateDisasm("x86_64-pc-linux-gnu", d, 0, op_info, sym_lookup);
	if (!d->dc) {
		free(d);
		return hp_err(ctx, HP_ERROR, NULL, NULL, "cannot create the LLVM x86-64 disassembler");
	}
	LLVMSetDisasmOptions(d->dc, LLVMDisassembler_Option_PrintImmHex);
	*out = d;
	return 0;
}

void disasm_free(struct disasm *d)
{
	if (!d)
		return;
	LLVMDisasmDispose(d->dc);
	free(d);
}

size_t disasm_insn(struct disasm *d, const uint8_t *p, size_t n, uint64_t pc, struct dis_insn *out,
		   char *text, size_t textsz)
{
	char scratch[160];
	memset(out, 0, sizeof *out);
	out->addr = pc;
	d->cur = out;
	d->pcrel_pending = false;
	size_t len = LLVMDisasmInstruction(d->dc, (uint8_t *)(uintptr_t)p, n, pc,
					   text ? text : scratch, text ? textsz : sizeof scratch);
	d->cur = NULL;
	out->len = (uint8_t)len;
	/* A field must lie inside the instruction. The target of a branch or a
	 * RIP-relative operand is the end of the instruction plus the displacement:
	 * computed here from the bytes, because LLVM 14 reports a RIP-relative one
	 * as if the displacement ended the instruction ("addl $1, 0x30(%rip)" is
	 * 7 bytes long, and its target 0x37 past its start, not 0x36). */
	size_t k = 0;
	for (size_t i = 0; i < out->nfields; i++) {
		struct dis_field *f = &out->fields[i];
		if (!f->size || f->off + f->size > len)
			continue;
		if (f->kind != DIS_IMM) {
			int64_t disp = f->size == 1   ? (int8_t)p[f->off]
				       : f->size == 2 ? (int16_t)hp_load_le16(p + f->off)
				       : f->size == 4 ? (int32_t)hp_load_le32(p + f->off)
						      : 0;
			f->target = pc + len + (uint64_t)disp;
		}
		out->fields[k++] = *f;
	}
	out->nfields = (uint8_t)k;
	return len;
}
