/*
 * recover.c: pass 2b, the references the assembler resolved itself.
 *
 * Without -ffunction-sections every function of a file shares .text, and the
 * assembler resolves a call from one to another ("call helper", a static
 * function of the same section) to a plain rel32 with no relocation: when an
 * earlier function grows, the bytes of every such call change while the call
 * does not. So, for each section that holds several functions, every function
 * is decoded (disasm.c) and each branch or RIP-relative operand that leaves its
 * own function and carries no relocation gets one, as if the object had been
 * built with -ffunction-sections: against the function it reaches, with the
 * addend the assembler would have written. Branches inside a function stay
 * plain bytes: they move with it.
 *
 * Decoding also gives every PC-relative relocation its exact bias, the bytes
 * from its field to the end of its instruction ("addl $1, x(%rip)" ends 5
 * bytes after the field, not 4), so a reference to a section holding several
 * variables (.data without -fdata-sections) lands on the right one.
 *
 * Bytes between functions (alignment padding) belong to no function and are
 * never compared.
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"

/* True when sec is one symbol from start to end: any offset in it means that symbol. */
static bool owned_by_one(const struct obj_sec *sec)
{
	return sec->nsyms == 1 && sec->syms[0]->value == 0 && sec->syms[0]->size == sec->size;
}

static bool pc_relative(uint32_t type)
{
	const struct reloc_info *ri = reloc_x86_64_info(type);
	return ri && (ri->kind == RELOC_PCREL || ri->kind == RELOC_PLT || ri->kind == RELOC_GOTPCREL);
}

/* Whether sec's code must be decoded. */
static bool needs_decoding(const struct obj_sec *sec)
{
	if (!obj_sec_is_text(sec) || !sec->data)
		return false;
	uint64_t first = 0;
	size_t funcs = 0;
	for (size_t i = 0; i < sec->nsyms; i++) {
		const struct obj_sym *s = sec->syms[i];
		if (!obj_sym_is_func(s))
			continue;
		if (funcs && s->value != first)
			return true; /* two functions */
		first = s->value;
		funcs++;
	}
	/* "section + addend" into a plain section holding several things (.data,
	 * .bss, .rodata without -fdata-sections): which one depends on the exact
	 * bias. Merge sections (strings, constants) are cut into their elements
	 * and read without it; decoding for them would cost every function that
	 * uses a string. */
	for (size_t i = 0; i < sec->nrels; i++) {
		const struct obj_rel *r = &sec->rels[i];
		if (r->sym->type == STT_SECTION && r->sym->sec && pc_relative(r->type) &&
		    !(r->sym->sec->flags & SHF_MERGE) && !owned_by_one(r->sym->sec))
			return true;
	}
	return false;
}

struct synth {
	struct obj_rel *v;
	size_t n, cap;
};

static int push(struct hp_ctx *ctx, struct synth *s, struct obj_rel r)
{
	if (hp_grow(ctx, &s->v, &s->cap, s->n, sizeof *s->v, 64) < 0)
		return -HP_ENOMEM;
	s->v[s->n++] = r;
	return 0;
}

/* The relocation type the assembler would have used for a field of this size. */
static uint32_t synth_type(uint8_t kind, uint8_t size)
{
	if (size == 4)
		return kind == DIS_BRANCH ? R_X86_64_PLT32 : R_X86_64_PC32;
	if (size == 1)
		return R_X86_64_PC8;
	if (size == 2)
		return R_X86_64_PC16;
	return R_X86_64_NONE;
}

static int decode_function(struct hp_ctx *ctx, struct disasm *d, const struct obj *obj,
			   struct obj_sec *sec, const struct obj_sym *f, struct synth *out)
{
	uint64_t at = f->value, end = f->value + f->size;
	while (at < end) {
		struct dis_insn in;
		size_t len = disasm_insn(d, sec->data + at, (size_t)(end - at), at, &in, NULL, 0);
		if (!len)
			return hp_err(ctx, HP_EUNSUPPORTED, obj->path, f->name,
				      "bytes at +%#llx do not decode as x86-64 instructions; cannot compare it",
				      (unsigned long long)(at - f->value));
		for (size_t k = 0; k < in.nfields; k++) {
			const struct dis_field *x = &in.fields[k];
			if (x->kind == DIS_IMM)
				continue;
			uint64_t field = at + x->off;
			int8_t bias = (int8_t)(len - x->off);
			size_t i = obj_rel_lower_bound(sec, field);
			if (i < sec->nrels && sec->rels[i].offset == field) {
				if (pc_relative(sec->rels[i].type))
					sec->rels[i].bias = bias;
				continue;
			}
			if (x->target >= f->value && x->target < end)
				continue; /* inside the function: moves with it */
			/* Resolved by the assembler: say what it refers to. */
			const struct obj_sym *t = x->target < sec->size ? obj_sym_at(sec, x->target) : NULL;
			struct obj_rel r = { field, synth_type(x->kind, x->size), 0, NULL, bias, true };
			if (t && obj_sym_is_func(t)) {
				r.sym = (struct obj_sym *)t;
				r.addend = (int64_t)(x->target - t->value) - bias;
			} else if (sec->secsym) {
				r.sym = sec->secsym;
				r.addend = (int64_t)x->target - bias;
			} else {
				return hp_err(ctx, HP_EUNSUPPORTED, obj->path, f->name,
					      "refers to %s+%#llx, where no function is; cannot compare it",
					      sec->name, (unsigned long long)x->target);
			}
			int err = push(ctx, out, r);
			if (err < 0)
				return err;
		}
		at += len;
	}
	return 0;
}

static int cmp_rel(const void *a, const void *b)
{
	const struct obj_rel *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int differ_recover(struct hp_ctx *ctx, struct obj *obj)
{
	struct disasm *d = NULL;
	struct synth s = { 0 };
	int err = 0;
	for (size_t i = 1; i < obj->nsecs && !err; i++) {
		struct obj_sec *sec = &obj->secs[i];
		if (!needs_decoding(sec))
			continue;
		if (!d && (err = disasm_open(ctx, &d)) < 0)
			break;
		s.n = 0;
		uint64_t last = UINT64_MAX;
		for (size_t k = 0; k < sec->nsyms && !err; k++) {
			const struct obj_sym *f = sec->syms[k];
			if (!obj_sym_is_func(f) || f->value == last)
				continue; /* aliases share one body */
			last = f->value;
			err = decode_function(ctx, d, obj, sec, f, &s);
		}
		if (err || !s.n)
			continue;
		/* Merge the synthetic relocations in, keeping the array sorted. */
		struct obj_rel *all = hp_arena_array(ctx, sec->nrels + s.n, sizeof *all);
		if (!all) {
			err = hp_nomem(ctx);
			break;
		}
		/* Both runs are sorted (decoding goes forward): merge them. */
		size_t a = 0, b = 0, k = 0;
		while (a < sec->nrels || b < s.n)
			all[k++] = b == s.n || (a < sec->nrels && cmp_rel(&sec->rels[a], &s.v[b]) <= 0)
					   ? sec->rels[a++]
					   : s.v[b++];
		sec->rels = all;
		sec->nrels += s.n;
	}
	free(s.v);
	disasm_free(d);
	return err;
}
