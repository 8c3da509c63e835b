/*
 * resolve.c: what a relocation refers to, with the layout taken out of it
 * (differ_resolve()), and how to name it in a message (differ_describe_ref()).
 * Every pass that follows a relocation asks here: correlate (pairing pieces),
 * compare (equal targets), the layout check, collect (what travels with the
 * changed code), the disassembly listing, and linker/ (where a fixup points).
 *   - a named symbol: the symbol and the addend;
 *   - a place in a section with symbols: the covering symbol and the offset;
 *   - a string in a merge section (".LC3", ".L.str.2", ".rodata.str1.1 + 12"):
 *     the string, wherever it landed;
 *   - an anonymous piece (a jump table, a constant of .rodata.cst16): the
 *     piece, from one relocation target to the next.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>

#include "differ/differ.h"

/* ===================================================================== */
/* Resolving a relocation to what it refers to                           */
/* ===================================================================== */

/*
 * A label rather than an entity (obj_sym.label): section symbols, and the local
 * symbols an assembler keeps for places in merge sections (gcc ".LC0", clang
 * ".L.str.1", ".LCPI3_0"). A reference to one is a reference to an address in
 * a section.
 */
static bool is_label(const struct obj_sym *s)
{
	return s->label && s->sec;
}

/* Sorted offsets in sec where some relocation points: the starts of its pieces. */
struct piece_starts {
	uint64_t *v;
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Where, relative to S + A, a PC-relative field in code points when S is a
 * section symbol: the CPU adds the displacement to the address of the next
 * instruction, and the field is usually the last thing in the instruction
 * (call, jmp, lea, mov, most SSE/AVX memory operands), so the target is
 * S + A + 4 for a 4-byte field. An immediate after the displacement
 * ("addl $1, x(%rip)", "shufps $0x4e, c(%rip), %xmm1") makes it less; a
 * reference through a local label (.LC1, .LCPI0_1, .L.str.3) does not need
 * this guess at all (label_target), and a reference to a section owned by one
 * symbol does not depend on the exact offset.
 */
static int64_t code_bias(const struct obj_rel *r)
{
	const struct reloc_info *ri = reloc_x86_64_info(r->type);
	if (!ri || !(ri->kind == RELOC_PCREL || ri->kind == RELOC_PLT || ri->kind == RELOC_GOTPCREL))
		return 0;
	return r->bias >= 0 ? r->bias : ri->width; /* exact once differ_recover decoded it */
}

/*
 * The offset in its section that a reference through label s points at, or -1
 * when s is a section symbol and the target must be computed from the addend.
 * Assemblers keep a label for each thing in a merge section (gcc ".LC1", clang
 * ".LCPI0_1", ".L.str.3") at its start; "label + k" is still inside that thing.
 */
static int64_t label_target(const struct obj_sym *s)
{
	return s->type == STT_SECTION ? -1 : (int64_t)s->value;
}

/*
 * Where each section's pieces start: offset 0 and every offset some relocation
 * from code, or an absolute one from data, points at through a label. Built for
 * every section in one pass over the relocations, the first time one is needed,
 * and kept in sec->aux.
 */
static int build_piece_starts(struct hp_ctx *ctx, const struct obj *obj)
{
	size_t *count = calloc(obj->nsecs, sizeof *count);
	if (!count)
		return hp_nomem(ctx);
	for (int fill = 0; fill < 2; fill++) {
		for (size_t i = 1; i < obj->nsecs; i++) {
			const struct obj_sec *from = &obj->secs[i];
			if (!obj_sec_is_alloc(from))
				continue;
			for (size_t k = 0; k < from->nrels; k++) {
				const struct obj_rel *r = &from->rels[k];
				if (!is_label(r->sym))
					continue;
				/* PC-relative references from data are relative to their own
				 * table, so they do not say where a piece starts. */
				const struct reloc_info *ri = reloc_x86_64_info(r->type);
				int64_t t = label_target(r->sym);
				if (t >= 0)
					; /* exact */
				else if (obj_sec_is_text(from))
					t = hp_add_wrap(hp_add_wrap((int64_t)r->sym->value, r->addend),
							 code_bias(r));
				else if (ri && ri->kind == RELOC_ABS)
					t = hp_add_wrap((int64_t)r->sym->value, r->addend);
				else
					continue;
				struct obj_sec *sec = r->sym->sec;
				if (t <= 0 || (uint64_t)t >= sec->size)
					continue;
				if (!fill) {
					count[sec->index]++;
				} else {
					struct piece_starts *ps = sec->aux;
					ps->v[ps->n++] = (uint64_t)t;
				}
			}
		}
		if (fill)
			break;
		for (size_t i = 0; i < obj->nsecs; i++) {
			struct piece_starts *ps = hp_arena_alloc(ctx, sizeof *ps);
			if (!ps || !(ps->v = hp_arena_array(ctx, count[i] + 1, sizeof *ps->v))) {
				free(count);
				return hp_nomem(ctx);
			}
			ps->v[ps->n++] = 0;
			obj->secs[i].aux = ps;
		}
	}
	free(count);
	for (size_t i = 0; i < obj->nsecs; i++) {
		struct piece_starts *ps = obj->secs[i].aux;
		qsort(ps->v, ps->n, sizeof *ps->v, cmp_u64);
		size_t u = 0;
		for (size_t k = 0; k < ps->n; k++)
			if (!u || ps->v[k] != ps->v[u - 1])
				ps->v[u++] = ps->v[k];
		ps->n = u;
	}
	return 0;
}

static int piece_starts_of(struct hp_ctx *ctx, const struct obj *obj, struct obj_sec *sec,
			   const struct piece_starts **out)
{
	if (!sec->aux) {
		int err = build_piece_starts(ctx, obj);
		if (err < 0)
			return err;
	}
	*out = sec->aux;
	return 0;
}

/*
 * The length, NUL included, of the string at the start of a piece of a plain
 * read-only section when the piece is that string plus alignment padding, else
 * 0. gcc -O0 puts string literals in .rodata, not in a merge section, and pads
 * before the next aligned constant; the padding is not part of the string.
 */
static uint64_t padded_string(const struct obj_sec *sec, uint64_t start, uint64_t len)
{
	if (!sec->data || (sec->flags & (SHF_WRITE | SHF_EXECINSTR)))
		return 0;
	const uint8_t *p = sec->data + start;
	uint64_t n = 0;
	while (n < len && p[n] && ((p[n] >= 0x20 && p[n] < 0x7f) || p[n] == '\n' || p[n] == '\t'))
		n++;
	if (n == 0 || n == len || p[n])
		return 0;
	uint64_t end = n + 1;
	for (uint64_t k = end; k < len; k++)
		if (p[k])
			return 0;
	return len - end < 16 ? end : 0;
}

/* The piece of sec holding offset t. */
static int piece_at(struct hp_ctx *ctx, const struct obj *obj, const struct obj_sec *csec,
		    uint64_t t, uint64_t *start, uint64_t *len)
{
	struct obj_sec *sec = (struct obj_sec *)csec; /* the piece cache lives in sec->aux */
	if (t >= sec->size) {
		*start = sec->size;
		*len = 0;
		return 0;
	}
	if (obj_sec_is_strings(sec) && sec->data) {
		/* A NUL-terminated string (entsize 1; wide strings have entsize 2 or 4). */
		uint64_t k = sec->entsize > 1 ? sec->entsize : 1;
		uint64_t s = t - t % k, e = s;
		while (s >= k) {
			bool nul = true;
			for (uint64_t b = 0; b < k; b++)
				nul &= sec->data[s - k + b] == 0;
			if (nul)
				break;
			s -= k;
		}
		for (;;) {
			if (e + k > sec->size) {
				e = sec->size;
				break;
			}
			bool nul = true;
			for (uint64_t b = 0; b < k; b++)
				nul &= sec->data[e + b] == 0;
			e += k;
			if (nul)
				break;
		}
		*start = s;
		*len = e - s;
		return 0;
	}
	if ((sec->flags & SHF_MERGE) && sec->entsize) {
		*start = t - t % sec->entsize;
		*len = sec->entsize;
		if (*start + *len > sec->size)
			*len = sec->size - *start;
		return 0;
	}
	const struct piece_starts *ps = NULL;
	int err = piece_starts_of(ctx, obj, sec, &ps);
	if (err < 0)
		return err;
	size_t lo = 0, hi = ps->n; /* last start <= t; v[0] is 0 */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ps->v[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*start = ps->v[lo];
	*len = (lo + 1 < ps->n ? ps->v[lo + 1] : sec->size) - *start;
	uint64_t slen = padded_string(sec, *start, *len);
	if (slen)
		*len = slen;
	return 0;
}

/* The start of the piece or symbol of from that holds offset p. */
static int holder_start(struct hp_ctx *ctx, const struct obj *obj, const struct obj_sec *from,
			uint64_t p, uint64_t *out)
{
	const struct obj_sym *s = obj_sym_at(from, p);
	if (s) {
		*out = s->value;
		return 0;
	}
	uint64_t len;
	return piece_at(ctx, obj, from, p, out, &len);
}

int differ_resolve(struct hp_ctx *ctx, const struct obj *obj, const struct obj_sec *from,
		   const struct obj_rel *r, struct differ_ref *out)
{
	const struct obj_sym *s = r->sym;
	memset(out, 0, sizeof *out);
	if (s->index == 0) {
		out->kind = DIFFER_REF_ABS;
		out->off = hp_add_wrap(r->addend, (int64_t)s->value);
		return 0;
	}
	if (!is_label(s)) {
		out->kind = DIFFER_REF_SYM;
		out->sym = s;
		out->off = r->addend;
		return 0;
	}
	/* A place in a section: find what holds it. */
	const struct obj_sec *sec = s->sec;
	int64_t raw = hp_add_wrap((int64_t)s->value, r->addend), t = raw;
	const struct reloc_info *ri = reloc_x86_64_info(r->type);
	if (label_target(s) >= 0) {
		t = label_target(s);
	} else if (obj_sec_is_text(from)) {
		t = hp_add_wrap(t, code_bias(r));
	} else if (ri && ri->kind == RELOC_PCREL) {
		/* In data, "label - ." entries of a table (gcc's PIC jump tables, clang's
		 * relative lookup tables) are relative to the table's start. */
		uint64_t p0;
		int err = holder_start(ctx, obj, from, r->offset, &p0);
		if (err < 0)
			return err;
		t = hp_sub_wrap(t, (int64_t)(r->offset - p0));
	}
	if (sec->nsyms) {
		const struct obj_sym *x = t >= 0 ? obj_sym_at(sec, (uint64_t)t) : NULL;
		if (!x && sec->nsyms == 1 && sec->syms[0]->value == 0 &&
		    sec->syms[0]->size == sec->size)
			x = sec->syms[0]; /* a section that is one object: any offset is in it */
		if (x) {
			out->kind = DIFFER_REF_SYM;
			out->sym = x;
			out->off = hp_sub_wrap(raw, (int64_t)x->value);
			return 0;
		}
	}
	out->kind = DIFFER_REF_PIECE;
	out->sec = sec;
	int err = piece_at(ctx, obj, sec, t < 0 ? 0 : (uint64_t)t, &out->start, &out->len);
	if (err < 0)
		return err;
	out->off = hp_sub_wrap(raw, (int64_t)out->start);
	return 0;
}

/* A short, printable rendering of a string piece. */
static const char *quote(struct hp_ctx *ctx, const struct obj_sec *sec, uint64_t start,
			 uint64_t len)
{
	char buf[64];
	size_t o = 0;
	buf[o++] = '"';
	for (uint64_t i = 0; i < len && o < sizeof buf - 8; i++) {
		unsigned char c = sec->data ? sec->data[start + i] : 0;
		if (c == 0 && i + 1 == len)
			break;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else if (c == '\n')
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\n");
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
	}
	if (o >= sizeof buf - 8)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "...");
	buf[o++] = '"';
	buf[o] = 0;
	return hp_arena_strdup(ctx, buf);
}

const char *differ_describe_ref(struct hp_ctx *ctx, const struct differ_ref *r)
{
	switch (r->kind) {
	case DIFFER_REF_ABS:
		return hp_arena_printf(ctx, "%#llx", (unsigned long long)r->off);
	case DIFFER_REF_SYM:
		if (r->off)
			return hp_arena_printf(ctx, "%s%+lld", r->sym->name, (long long)r->off);
		return r->sym->name;
	case DIFFER_REF_PIECE:
		if (obj_sec_is_strings(r->sec) || padded_string(r->sec, r->start, r->len) == r->len)
			return quote(ctx, r->sec, r->start, r->len);
		return hp_arena_printf(ctx, "%s+%#llx", r->sec->name, (unsigned long long)r->start);
	}
	return "?";
}
