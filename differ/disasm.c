/*
 * disasm.c: x86-64 instructions through the LLVM-C disassembler. The only file
 * that includes llvm-c/ (docs/dependencies.md); the applier never links it.
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
#include <stdio.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"

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

/* ===================================================================== */
/* hpdiff --disasm                                                        */
/* ===================================================================== */

struct dline {
	uint64_t off;           /* from the function's start */
	char text[96];          /* AT&T, LLVM's */
	const char *note;       /* what its relocations refer to, or NULL */
	const char *key;        /* for matching: bytes with relocated fields zeroed, and targets */
};

/* Disassemble f of obj into lines. Targets are named as in new: twins' names. */
static int lines_of(struct hp_ctx *ctx, struct disasm *d, const struct obj *obj,
		    const struct obj_sym *f, bool is_old, struct dline **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const uint8_t *bytes = obj_sym_bytes(f);
	if (!bytes)
		return 0;
	size_t cap = 64;
	struct dline *v = malloc(cap * sizeof *v);
	if (!v)
		return hp_nomem(ctx);
	const struct obj_sec *sec = f->sec;
	for (uint64_t at = 0; at < f->size;) {
		if (*n == cap) {
			struct dline *w = realloc(v, 2 * cap * sizeof *v);
			if (!w) {
				free(v);
				return hp_nomem(ctx);
			}
			v = w;
			cap *= 2;
		}
		struct dline *l = &v[(*n)++];
		struct dis_insn in;
		size_t len = disasm_insn(d, bytes + at, (size_t)(f->size - at), at, &in, l->text,
					 sizeof l->text);
		if (!len) {
			snprintf(l->text, sizeof l->text, "(bad) .byte %#x", bytes[at]);
			len = 1;
		}
		for (char *c = l->text; *c; c++)
			if (*c == '\t')
				*c = ' ';
		l->off = at;
		uint8_t masked[16] = { 0 };
		memcpy(masked, bytes + at, len < 16 ? len : 16);
		char note[256] = "";
		size_t used = 0;
		for (size_t k = obj_rel_lower_bound(sec, f->value + at);
		     k < sec->nrels && sec->rels[k].offset < f->value + at + len; k++) {
			const struct obj_rel *r = &sec->rels[k];
			const struct reloc_info *ri = reloc_x86_64_info(r->type);
			uint64_t o = r->offset - f->value - at;
			for (uint64_t b = o; ri && b < o + ri->width && b < 16; b++)
				masked[b] = 0;
			struct differ_ref ref;
			if (differ_resolve(ctx, obj, sec, r, &ref) < 0)
				continue;
			struct differ_ref named = ref;
			if (is_old && ref.kind == DIFFER_REF_SYM && ref.sym->twin)
				named.sym = ref.sym->twin;
			const char *what = differ_describe_ref(ctx, &named);
			used += (size_t)snprintf(note + used, used < sizeof note ? sizeof note - used : 0,
						 "%s%s", used ? ", " : "", what ? what : "?");
		}
		char hex[40];
		for (size_t b = 0; b < len && b < 16; b++)
			snprintf(hex + 2 * b, 3, "%02x", masked[b]);
		l->note = used ? hp_arena_strdup(ctx, note) : NULL;
		l->key = hp_arena_printf(ctx, "%s|%s", hex, note);
		if (!l->key) {
			free(v);
			return hp_nomem(ctx);
		}
		at += len;
	}
	*out = v;
	return 0;
}

static void print_line(FILE *f, char mark, const struct dline *l)
{
	if (l->note)
		fprintf(f, "%c %5llx  %-44s <- %s\n", mark, (unsigned long long)l->off, l->text,
			l->note);
	else
		fprintf(f, "%c %5llx  %s\n", mark, (unsigned long long)l->off, l->text);
}

int differ_print_disasm(struct hp_ctx *ctx, FILE *f, const struct obj *old, const struct obj_sym *o,
			const struct obj *new, const struct obj_sym *n)
{
	struct disasm *d;
	struct dline *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	uint32_t *lcs = NULL;
	int err = disasm_open(ctx, &d);
	if (err < 0)
		return err;
	if ((o && (err = lines_of(ctx, d, old, o, true, &a, &na)) < 0) ||
	    (n && (err = lines_of(ctx, d, new, n, false, &b, &nb)) < 0))
		goto out;
	fprintf(f, "--- %s: %s (%llu bytes)\n+++ %s: %s (%llu bytes)\n", old->path,
		o ? o->name : "(none)", o ? (unsigned long long)o->size : 0ull, new->path,
		n ? n->name : "(none)", n ? (unsigned long long)n->size : 0ull);
	/* Longest common subsequence of the keys; past 4M cells, a plain walk. */
	if ((uint64_t)(na + 1) * (nb + 1) <= (4u << 20))
		lcs = calloc((na + 1) * (nb + 1), sizeof *lcs);
	if (lcs) {
		for (size_t i = na; i-- > 0;)
			for (size_t j = nb; j-- > 0;)
				lcs[i * (nb + 1) + j] =
					!strcmp(a[i].key, b[j].key)
						? lcs[(i + 1) * (nb + 1) + j + 1] + 1
						: (lcs[(i + 1) * (nb + 1) + j] > lcs[i * (nb + 1) + j + 1]
							   ? lcs[(i + 1) * (nb + 1) + j]
							   : lcs[i * (nb + 1) + j + 1]);
		size_t i = 0, j = 0;
		while (i < na || j < nb) {
			if (i < na && j < nb && !strcmp(a[i].key, b[j].key)) {
				print_line(f, ' ', &b[j]);
				i++, j++;
			} else if (j == nb ||
				   (i < na && lcs[(i + 1) * (nb + 1) + j] >= lcs[i * (nb + 1) + j + 1])) {
				print_line(f, '-', &a[i++]);
			} else {
				print_line(f, '+', &b[j++]);
			}
		}
	} else {
		for (size_t i = 0; i < na || i < nb; i++) {
			bool same = i < na && i < nb && !strcmp(a[i].key, b[i].key);
			if (same) {
				print_line(f, ' ', &b[i]);
				continue;
			}
			if (i < na)
				print_line(f, '-', &a[i]);
			if (i < nb)
				print_line(f, '+', &b[i]);
		}
	}
out:
	free(lcs);
	free(a);
	free(b);
	disasm_free(d);
	return err;
}
