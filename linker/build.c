/*
 * build.c: pass 7, link the items every input pair collected into one patch
 * image, and describe it for the applier.
 *
 * The image is laid out in regions, each starting on a page so the applier can
 * give it its own protection:
 *
 *   text    r-x  changed and new functions, then one 16-byte stub per symbol
 *                of the process that is called (reached when a call does not fit
 *                in a rel32)
 *   rodata  r--  strings, jump tables, constants, new const data, then the
 *                image's own GOT: one 8-byte slot per symbol reached through
 *                GOTPCREL or through a stub (filled by the applier, then
 *                read-only)
 *   data    rw-  new writable data, then new zero-initialized data
 *
 * Every relocation of the items is then either resolved here (both ends in the
 * image: PC-relative forms become plain bytes) or turned into a fixup against
 * the image's base or a symbol of the process. The functions replaced in the
 * process are described from the old objects: name, STT_FILE and ordinal to
 * find them, size, and a hash of their old bytes with every field the static
 * linker filled or may have rewritten masked out.
 *
 * Phases: 1 items -> regions; 2 scan relocations for symbols, GOT slots and
 * stubs; 3 offsets; 4 bytes and fixups; 5 functions replaced.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
#include "linker/linker.h"

enum region { R_TEXT, R_RODATA, R_DATA, R_BSS, R_COUNT };

/* One item of one input, placed in the image. */
struct litem {
	size_t pair;                   /* index of its input */
	const struct differ_item *it;
	enum region region;
	uint64_t align;
	uint64_t off;                  /* image offset, set in phase 3 */
	size_t nnear;                  /* near stubs for its short jumps, placed right after it */
	uint64_t near_at;              /* where the first is, set in phase 3 */
	size_t near_used;              /* phase 4: how many are written */
};

/* A symbol of the process the image refers to. */
struct lsym {
	struct hpx_sym sym;
	int64_t got;                   /* image offset of its GOT slot, or -1 */
	int64_t tpgot;                 /* of its thread-pointer offset slot (GOTTPOFF), or -1 */
	int64_t gd, ld;                /* of its (module, offset) and (module, 0) pairs, or -1 */
	bool needs_stub;
};

/* A GOT slot for a target inside the image (PIC code taking the address of new data). */
struct lslot {
	size_t item;                   /* index into items */
	int64_t off;                   /* offset into the item */
	uint64_t at;                   /* the slot's image offset */
};

struct linker {
	struct hp_ctx *ctx;
	const struct linker_input *in;
	size_t nin;
	struct litem *items;
	size_t nitems;
	struct hp_map by_key;          /* "p:sym" / "p:sec:start" -> item index + 1 */
	struct lsym *syms;
	size_t nsyms, capsyms;
	struct hp_map sym_by_key;      /* target key -> symbol index + 1 */
	struct lslot *slots;
	size_t nslots, capslots;
	uint64_t region_start[R_COUNT], region_end[R_COUNT];
	uint64_t stubs_at, got_at;     /* where the stubs and the external GOT slots start */
	uint8_t *image;
	uint64_t image_size;
	struct hpx_fixup *fixups;
	size_t nfixups, capfixups;
	int refused;                   /* first -HP_EUNPATCHABLE raised */
};

static const char *pair_path(const struct linker *l, size_t pair)
{
	return l->in[pair].new->path;
}

/* ----- keys ------------------------------------------------------------ */

static const char *key_sym(struct linker *l, size_t pair, const struct obj_sym *s)
{
	return hp_arena_printf(l->ctx, "%zu:s%u", pair, s->index);
}

static const char *key_piece(struct linker *l, size_t pair, const struct obj_sec *sec,
			     uint64_t start)
{
	return hp_arena_printf(l->ctx, "%zu:p%u:%llu", pair, sec->index, (unsigned long long)start);
}

/* The item holding what ref points at, or NULL when it is not in the image. */
static struct litem *item_of(struct linker *l, size_t pair, const struct differ_ref *ref)
{
	const char *k = ref->kind == DIFFER_REF_PIECE ? key_piece(l, pair, ref->sec, ref->start)
			: ref->kind == DIFFER_REF_SYM     ? key_sym(l, pair, ref->sym)
							  : NULL;
	if (!k)
		return NULL;
	uintptr_t v = (uintptr_t)hp_map_get(&l->by_key, k);
	return v ? &l->items[v - 1] : NULL;
}

/*
 * An undefined symbol of one object that another object of the patch defines
 * and carries (a function or variable new there): bind to it in the image, as
 * the static linker did. On success ref names the definition.
 */
static struct litem *item_elsewhere(struct linker *l, size_t pair, struct differ_ref *ref)
{
	if (!ref->sym->name[0])
		return NULL;
	for (size_t p = 0; p < l->nin; p++) {
		if (p == pair)
			continue;
		for (const struct obj_sym *d = obj_find_sym(l->in[p].new, ref->sym->name); d;
		     d = d->next_same_name) {
			if (d->bind == STB_LOCAL || !d->sec || !d->include || d->status != OBJ_NEW)
				continue;
			struct differ_ref r = *ref;
			r.sym = d;
			struct litem *li = item_of(l, p, &r);
			if (li) {
				*ref = r;
				return li;
			}
		}
	}
	return NULL;
}

/* ----- phase 1: items --------------------------------------------------- */

static enum region region_of(const struct differ_item *it)
{
	if (it->kind == DIFFER_ITEM_FUNC)
		return R_TEXT;
	if (it->sec->type == SHT_NOBITS)
		return R_BSS;
	if (it->sec->flags & SHF_WRITE)
		return R_DATA;
	return R_RODATA;
}

static int place_items(struct linker *l)
{
	size_t n = 0;
	for (size_t p = 0; p < l->nin; p++)
		n += l->in[p].closure->nitems;
	l->items = hp_arena_array(l->ctx, n, sizeof *l->items);
	if (!l->items)
		return hp_nomem(l->ctx);
	int err = hp_map_init(l->ctx, &l->by_key, n);
	if (err < 0)
		return err;
	for (size_t p = 0; p < l->nin; p++) {
		const struct differ_closure *c = l->in[p].closure;
		for (size_t i = 0; i < c->nitems; i++) {
			const struct differ_item *it = &c->items[i];
			if (it->sec->flags & SHF_TLS) {
				l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, pair_path(l, p),
						    it->sym ? it->sym->name : NULL,
						    "new thread-local data; the threads of a running process cannot grow their TLS blocks");
				continue;
			}
			struct litem *li = &l->items[l->nitems];
			li->pair = p;
			li->it = it;
			li->region = region_of(it);
			li->align = it->kind == DIFFER_ITEM_PIECE && obj_sec_is_strings(it->sec)
					    ? 1
					    : (it->sec->align ? it->sec->align : 1);
			if (li->align > HPX_PAGE)
				li->align = HPX_PAGE;
			const char *k = it->kind == DIFFER_ITEM_PIECE
						? key_piece(l, p, it->sec, it->start)
						: key_sym(l, p, it->sym);
			if (!k || (err = hp_map_put(l->ctx, &l->by_key, k,
						    (void *)(uintptr_t)(l->nitems + 1), NULL)) < 0)
				return err < 0 ? err : hp_nomem(l->ctx);
			l->nitems++;
		}
	}
	return 0;
}

/* ----- phase 2: symbols of the process, GOT slots, stubs ----------------- */

/*
 * The symbol of the process that ref (not in the image) stands for. A symbol
 * defined in the object is looked up in the target image under its name in
 * the old build; an undefined one anywhere, as the dynamic linker would.
 */
static int lookup_sym(struct linker *l, size_t pair, const struct differ_ref *ref,
		      uint32_t rtype, size_t *out)
{
	const struct obj_sym *s = ref->sym;
	const struct obj_sym *o = NULL;
	struct hpx_sym hs = { 0 };
	const char *key;
	if (s->sec) {
		o = s->twin;
		if (!o || !(obj_sym_is_func(o) || obj_sym_is_data(o) || obj_sym_is_common(o) ||
			    o->type == STT_TLS))
			return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, pair_path(l, pair),
						   s->name,
						   "referred to by patched code but has no counterpart in the old object to find it by");
		hs.name = o->name;
		hs.kind = obj_sym_is_func(o) ? HPX_SYM_FUNC
			  : o->type == STT_TLS ? HPX_SYM_TLS
					       : HPX_SYM_OBJECT;
		hs.scope = HPX_SCOPE_TARGET;
		hs.size = o->size;
		if (o->bind == STB_LOCAL) {
			hs.file = o->file ? o->file : "";
			/* Which of several locals of that name and file, in table order. */
			const struct obj *old = l->in[pair].old;
			for (const struct obj_sym *x = obj_find_sym(old, o->name); x && x != o;
			     x = x->next_same_name)
				if (x->bind == STB_LOCAL && x->file == o->file)
					hs.ordinal++;
		} else {
			hs.file = "";
		}
		key = hs.file[0] ? hp_arena_printf(l->ctx, "t:%s:%s:%u", hs.name, hs.file, hs.ordinal)
				 : hp_arena_printf(l->ctx, "t:%s", hs.name);
	} else {
		/* The applier finds it by name: without one there is nothing to find. */
		if (!s->name[0])
			return hp_err(l->ctx, HP_ECORRUPT, pair_path(l, pair), NULL,
				      "a relocation refers to symbol %u, which is undefined and has no name; the file is corrupt",
				      s->index);
		hs.name = s->name;
		hs.file = "";
		hs.kind = rtype == R_X86_64_PLT32 || s->type == STT_FUNC ? HPX_SYM_FUNC
			  : s->type == STT_OBJECT			 ? HPX_SYM_OBJECT
			  : s->type == STT_TLS				 ? HPX_SYM_TLS
									 : HPX_SYM_OTHER;
		hs.scope = HPX_SCOPE_GLOBAL;
		key = hp_arena_printf(l->ctx, "g:%s", hs.name);
	}
	if (!key)
		return hp_nomem(l->ctx);
	hs.stub = HPX_NO_STUB;
	uintptr_t v = (uintptr_t)hp_map_get(&l->sym_by_key, key);
	if (v) {
		*out = v - 1;
		return 0;
	}
	if (hp_arena_grow(l->ctx, &l->syms, &l->capsyms, l->nsyms, sizeof *l->syms, 16) < 0)
		return -HP_ENOMEM;
	l->syms[l->nsyms] = (struct lsym){ hs, -1, -1, -1, -1, false };
	int err = hp_map_put(l->ctx, &l->sym_by_key, key, (void *)(uintptr_t)(l->nsyms + 1), NULL);
	if (err < 0)
		return err;
	*out = l->nsyms++;
	return 0;
}

static int internal_slot(struct linker *l, size_t item, int64_t off, size_t *out)
{
	for (size_t i = 0; i < l->nslots; i++)
		if (l->slots[i].item == item && l->slots[i].off == off) {
			*out = i;
			return 0;
		}
	if (hp_arena_grow(l->ctx, &l->slots, &l->capslots, l->nslots, sizeof *l->slots, 8) < 0)
		return -HP_ENOMEM;
	l->slots[l->nslots] = (struct lslot){ item, off, 0 };
	*out = l->nslots++;
	return 0;
}

/* What one relocation of an item resolves to. */
struct target {
	struct differ_ref ref;
	struct litem *item;     /* in the image, or NULL */
	size_t sym;             /* else: index into syms (when ref is a symbol) */
	enum arch_action act;
};

static int resolve(struct linker *l, const struct litem *li, const struct obj_rel *r,
		   struct target *t)
{
	const struct linker_input *in = &l->in[li->pair];
	const char *why;
	memset(t, 0, sizeof *t);
	t->act = arch_x86_64_classify(r->type, &why);
	if (t->act == ARCH_SKIP)
		return 0;
	const char *from = li->it->sym ? li->it->sym->name : li->it->sec->name;
	if (t->act == ARCH_REFUSE)
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, in->new->path, from,
					   "%s at +%#llx: %s", reloc_x86_64_info(r->type)->name,
					   (unsigned long long)(r->offset - li->it->start), why);
	int err = differ_resolve(l->ctx, in->new, li->it->sec, r, &t->ref);
	if (err < 0)
		return err;
	if (t->ref.kind == DIFFER_REF_ABS) {
		if (t->act == ARCH_ABS64 || t->act == ARCH_ABS32 || t->act == ARCH_ABS32S)
			return 0;
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, in->new->path, from,
					   "%s at +%#llx refers to no symbol; not understood",
					   reloc_x86_64_info(r->type)->name,
					   (unsigned long long)(r->offset - li->it->start));
	}
	if (t->act == ARCH_GOTPCREL && r->sym->label)
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, in->new->path, from,
					   "GOT-relative reference to a section; not understood");
	bool tls_access = t->act == ARCH_TPOFF32 || t->act == ARCH_GOTTPOFF ||
			  t->act == ARCH_TLSGD || t->act == ARCH_TLSLD || t->act == ARCH_DTPOFF32 ||
			  t->act == ARCH_DTPOFF64;
	if (tls_access && (t->ref.kind != DIFFER_REF_SYM || t->ref.sym->type != STT_TLS))
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, in->new->path, from,
					   "%s at +%#llx refers to no thread-local variable; not understood",
					   reloc_x86_64_info(r->type)->name,
					   (unsigned long long)(r->offset - li->it->start));
	t->item = item_of(l, li->pair, &t->ref);
	if (t->item && tls_access)
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, in->new->path, from,
					   "a thread-local variable the patch would bring; not understood");
	if (t->item)
		return 0;
	if (t->ref.kind == DIFFER_REF_SYM && !t->ref.sym->sec &&
	    (t->item = item_elsewhere(l, li->pair, &t->ref)))
		return 0;
	if (t->ref.kind == DIFFER_REF_PIECE)
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, in->new->path, from,
					   "refers to %s+%#llx, which the patch does not carry; internal error",
					   t->ref.sec->name, (unsigned long long)t->ref.start);
	return lookup_sym(l, li->pair, &t->ref, r->type, &t->sym);
}

static int scan_relocations(struct linker *l)
{
	int err = hp_map_init(l->ctx, &l->sym_by_key, 64);
	if (err < 0)
		return err;
	for (size_t i = 0; i < l->nitems; i++) {
		const struct litem *li = &l->items[i];
		const struct obj_sec *sec = li->it->sec;
		for (size_t k = obj_rel_lower_bound(sec, li->it->start);
		     k < sec->nrels && sec->rels[k].offset < li->it->start + li->it->size; k++) {
			struct target t;
			if ((err = resolve(l, li, &sec->rels[k], &t)) < 0) {
				if (err == -HP_EUNPATCHABLE)
					continue; /* recorded; look for more */
				return err;
			}
			if (t.act == ARCH_SKIP || t.ref.kind == DIFFER_REF_ABS)
				continue;
			if (t.act == ARCH_GOTPCREL) {
				if (t.item) {
					size_t s;
					int64_t at = hp_sub_wrap(t.ref.off, sec->rels[k].addend);
					if ((err = internal_slot(l, (size_t)(t.item - l->items), at,
								 &s)) < 0)
						return err;
				} else {
					l->syms[t.sym].got = 0; /* needs one; placed in phase 3 */
				}
			} else if (t.act == ARCH_GOTTPOFF) {
				l->syms[t.sym].tpgot = 0; /* needs one; placed in phase 3 */
			} else if (t.act == ARCH_TLSGD) {
				l->syms[t.sym].gd = 0;
			} else if (t.act == ARCH_TLSLD) {
				l->syms[t.sym].ld = 0;
			} else if (t.act == ARCH_BRANCH32 && !t.item) {
				l->syms[t.sym].needs_stub = true;
				l->syms[t.sym].got = 0;
			} else if (t.act == ARCH_PCREL8) {
				l->items[i].nnear++; /* a near stub, in case the target is out of reach */
			}
		}
	}
	return 0;
}

/* ----- phase 3: offsets ------------------------------------------------- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Give every item its offset. Returns false, before anything is allocated,
 * when the image would be larger than a container may hold (HPX_MAX_IMAGE):
 * sizes in NOBITS sections are not bounded by the file, and a hostile object
 * asked for 70 TB here (found by the hpdiff fuzz target).
 */
static bool assign_offsets(struct linker *l)
{
	uint64_t at = 0;
	for (int r = 0; r < R_COUNT; r++) {
		/* data and bss share a segment */
		if (r != R_BSS)
			at = align_up(at, HPX_PAGE);
		l->region_start[r] = at;
		for (size_t i = 0; i < l->nitems; i++) {
			struct litem *li = &l->items[i];
			if (li->region != (enum region)r)
				continue;
			if (li->it->size > HPX_MAX_IMAGE || at > HPX_MAX_IMAGE)
				return false;
			at = align_up(at, li->align);
			li->off = at;
			at += li->it->size ? li->it->size : 1;
			if (li->nnear) {
				at = align_up(at, 16);
				li->near_at = at;
				at += 16 * li->nnear;
			}
		}
		if (r == R_TEXT) {
			at = align_up(at, 16);
			l->stubs_at = at;
			for (size_t s = 0; s < l->nsyms; s++)
				if (l->syms[s].needs_stub) {
					l->syms[s].sym.stub = (uint32_t)at;
					at += 16;
				}
		}
		if (r == R_RODATA) {
			at = align_up(at, 8);
			l->got_at = at;
			for (size_t s = 0; s < l->nsyms; s++) {
				if (l->syms[s].got == 0) {
					l->syms[s].got = (int64_t)at;
					at += 8;
				}
				if (l->syms[s].tpgot == 0) {
					l->syms[s].tpgot = (int64_t)at;
					at += 8;
				}
				if (l->syms[s].gd == 0) { /* a tls_index: two slots */
					l->syms[s].gd = (int64_t)at;
					at += 16;
				}
				if (l->syms[s].ld == 0) {
					l->syms[s].ld = (int64_t)at;
					at += 16;
				}
			}
			for (size_t s = 0; s < l->nslots; s++) {
				l->slots[s].at = at;
				at += 8;
			}
		}
		l->region_end[r] = at;
	}
	if (at > HPX_MAX_IMAGE)
		return false;
	l->image_size = align_up(at ? at : 1, HPX_PAGE);
	return true;
}

/* ----- phase 4: bytes and fixups ----------------------------------------- */

static int add_fixup(struct linker *l, uint64_t off, uint32_t type, uint32_t target, int64_t addend)
{
	if (hp_arena_grow(l->ctx, &l->fixups, &l->capfixups, l->nfixups, sizeof *l->fixups, 32) < 0)
		return -HP_ENOMEM;
	l->fixups[l->nfixups++] = (struct hpx_fixup){ off, type, target, addend };
	return 0;
}

/* Store a PC-relative value both ends of which are in the image. */
static int put_rel32(struct linker *l, const struct litem *li, uint64_t at, int64_t v)
{
	if (v < INT32_MIN || v > INT32_MAX)
		return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, pair_path(l, li->pair),
					   li->it->sym ? li->it->sym->name : NULL,
					   "the patch image is too large for a 32-bit displacement at %#llx",
					   (unsigned long long)at);
	hp_store_le32(l->image + at, (uint32_t)(int32_t)v);
	return 0;
}

static int emit_relocation(struct linker *l, const struct litem *li, const struct obj_rel *r)
{
	struct target t;
	int err = resolve(l, li, r, &t);
	if (err < 0 || t.act == ARCH_SKIP)
		return err;
	uint64_t P = li->off + (r->offset - li->it->start);
	/* S + A of the ELF relocation, split as (target, offset into it). */
	int64_t T = t.item ? (int64_t)t.item->off : 0;
	int64_t off = t.ref.off;
	uint32_t sym = t.item ? HPX_TARGET_IMAGE : (uint32_t)t.sym;

	if (t.ref.kind == DIFFER_REF_ABS) {
		int64_t v = t.ref.off;
		if (t.act == ARCH_ABS64)
			hp_store_le64(l->image + P, (uint64_t)v);
		else
			hp_store_le32(l->image + P, (uint32_t)v);
		return 0;
	}
	switch (t.act) {
	case ARCH_PCREL32:
	case ARCH_BRANCH32:
		if (t.item)
			return put_rel32(l, li, P, hp_sub_wrap(hp_add_wrap(T, off), (int64_t)P));
		return add_fixup(l, P, t.act == ARCH_BRANCH32 ? HPX_FIX_BRANCH32 : HPX_FIX_PC32, sym,
				 off);
	case ARCH_PCREL64:
		if (t.item) {
			hp_store_le64(l->image + P, (uint64_t)T + (uint64_t)off - P);
			return 0;
		}
		return add_fixup(l, P, HPX_FIX_PC64, sym, off);
	case ARCH_GOTPCREL: {
		/* G + GOT + A - P: the slot holds the symbol's address, A applies to the load. */
		uint64_t slot;
		if (t.item) {
			size_t s;
			if ((err = internal_slot(l, (size_t)(t.item - l->items),
						 hp_sub_wrap(off, r->addend), &s)) < 0)
				return err;
			slot = l->slots[s].at;
		} else {
			slot = (uint64_t)l->syms[t.sym].got;
		}
		return put_rel32(l, li, P,
				 hp_sub_wrap(hp_add_wrap((int64_t)slot, r->addend), (int64_t)P));
	}
	case ARCH_PCREL8: {
		/* Where the CPU goes: S + A + bias, with bias the field-to-end distance. */
		if (r->bias < 0)
			return l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, pair_path(l, li->pair),
						   li->it->sym ? li->it->sym->name : NULL,
						   "8-bit PC-relative relocation at +%#llx in an instruction that was not decoded",
						   (unsigned long long)(r->offset - li->it->start));
		int64_t v = T + off - (int64_t)P;
		if (t.item && v >= INT8_MIN && v <= INT8_MAX) {
			l->image[P] = (uint8_t)(int8_t)v;
			return 0;
		}
		struct litem *self = &l->items[(size_t)(li - l->items)];
		uint64_t stub = self->near_at + 16 * self->near_used++;
		int64_t dest = T + off + r->bias;
		arch_x86_64_near_stub(l->image + stub, stub, t.item ? dest : -1);
		if (!t.item && (err = add_fixup(l, stub + ARCH_NEAR_SLOT, HPX_FIX_ABS64, sym,
						off + r->bias)) < 0)
			return err;
		v = (int64_t)stub - (int64_t)(P + (uint64_t)r->bias);
		if (v < INT8_MIN || v > INT8_MAX)
			return l->refused = hp_err(
				       l->ctx, HP_EUNPATCHABLE, pair_path(l, li->pair),
				       li->it->sym ? li->it->sym->name : NULL,
				       "short jump at +%#llx to another function is too far from the end of this one to be redirected; build with -ffunction-sections",
				       (unsigned long long)(r->offset - li->it->start));
		l->image[P] = (uint8_t)(int8_t)v;
		return 0;
	}
	case ARCH_TPOFF32:
		return add_fixup(l, P, HPX_FIX_TPOFF32, sym, off);
	case ARCH_GOTTPOFF:
		/* The slot holds the offset (a TPOFF64 fixup, phase 4); A applies to the load. */
		return put_rel32(l, li, P,
				 hp_sub_wrap(hp_add_wrap(l->syms[t.sym].tpgot, r->addend), (int64_t)P));
	case ARCH_TLSGD:
	case ARCH_TLSLD: {
		/* lea PAIR(%rip), %rdi before the call to __tls_get_addr (phase 4 fills the pair) */
		int64_t pair = t.act == ARCH_TLSGD ? l->syms[t.sym].gd : l->syms[t.sym].ld;
		return put_rel32(l, li, P, hp_sub_wrap(hp_add_wrap(pair, r->addend), (int64_t)P));
	}
	case ARCH_DTPOFF32:
		return add_fixup(l, P, HPX_FIX_DTPOFF32, sym, off);
	case ARCH_DTPOFF64:
		return add_fixup(l, P, HPX_FIX_DTPOFF64, sym, off);
	case ARCH_ABS64:
		return add_fixup(l, P, HPX_FIX_ABS64, sym, hp_add_wrap(T, off));
	case ARCH_ABS32:
		return add_fixup(l, P, HPX_FIX_ABS32, sym, hp_add_wrap(T, off));
	case ARCH_ABS32S:
		return add_fixup(l, P, HPX_FIX_ABS32S, sym, hp_add_wrap(T, off));
	case ARCH_SKIP:
	case ARCH_REFUSE:
		break;
	}
	return 0;
}

static int emit(struct linker *l)
{
	uint64_t file_end = l->region_end[R_DATA];
	l->image = hp_arena_alloc(l->ctx, file_end ? file_end : 1);
	if (!l->image)
		return hp_nomem(l->ctx);
	memset(l->image + l->region_start[R_TEXT], ARCH_X86_64_CODE_FILL,
	       l->region_end[R_TEXT] - l->region_start[R_TEXT]);
	for (size_t i = 0; i < l->nitems; i++) {
		const struct litem *li = &l->items[i];
		if (li->region != R_BSS && li->it->sec->data)
			memcpy(l->image + li->off, li->it->sec->data + li->it->start, li->it->size);
	}
	int err;
	for (size_t i = 0; i < l->nitems; i++) {
		const struct litem *li = &l->items[i];
		const struct obj_sec *sec = li->it->sec;
		for (size_t k = obj_rel_lower_bound(sec, li->it->start);
		     k < sec->nrels && sec->rels[k].offset < li->it->start + li->it->size; k++)
			if ((err = emit_relocation(l, li, &sec->rels[k])) < 0 &&
			    err != -HP_EUNPATCHABLE)
				return err;
	}
	for (size_t s = 0; s < l->nsyms; s++) {
		const struct lsym *ls = &l->syms[s];
		if (ls->got >= 0 && (err = add_fixup(l, (uint64_t)ls->got, HPX_FIX_ABS64, (uint32_t)s,
						     0)) < 0)
			return err;
		if (ls->tpgot >= 0 && (err = add_fixup(l, (uint64_t)ls->tpgot, HPX_FIX_TPOFF64,
						       (uint32_t)s, 0)) < 0)
			return err;
		/* tls_index { module, offset }: the variable's; (module, 0) for local-dynamic */
		if (ls->gd >= 0 &&
		    ((err = add_fixup(l, (uint64_t)ls->gd, HPX_FIX_DTPMOD64, (uint32_t)s, 0)) < 0 ||
		     (err = add_fixup(l, (uint64_t)ls->gd + 8, HPX_FIX_DTPOFF64, (uint32_t)s, 0)) < 0))
			return err;
		if (ls->ld >= 0 &&
		    (err = add_fixup(l, (uint64_t)ls->ld, HPX_FIX_DTPMOD64, (uint32_t)s, 0)) < 0)
			return err;
		if (ls->needs_stub)
			arch_x86_64_stub(l->image + ls->sym.stub, ls->sym.stub, (uint64_t)ls->got);
	}
	for (size_t s = 0; s < l->nslots; s++) {
		const struct lslot *sl = &l->slots[s];
		if ((err = add_fixup(l, sl->at, HPX_FIX_ABS64, HPX_TARGET_IMAGE,
				     (int64_t)l->items[sl->item].off + sl->off)) < 0)
			return err;
	}
	return 0;
}

/* ----- phase 5: the functions replaced ----------------------------------- */

static int cmp_range(const void *a, const void *b)
{
	const struct hpx_range *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * The masks and hash of old function o: every field its relocations fill, and
 * the bytes a relaxation may rewrite, clipped to the function, sorted, merged.
 */
static int describe_old(struct linker *l, const struct obj_sym *o, struct hpx_func *f,
			struct hpx_range **masks, size_t *nmasks, size_t *capmasks)
{
	const struct obj_sec *sec = o->sec;
	size_t first = *nmasks;
	for (size_t k = obj_rel_lower_bound(sec, o->value);
	     k < sec->nrels && sec->rels[k].offset < o->value + o->size; k++) {
		int64_t lo, hi;
		arch_x86_64_mask(sec->rels[k].type, &lo, &hi);
		int64_t at = (int64_t)(sec->rels[k].offset - o->value);
		int64_t a = at + lo < 0 ? 0 : at + lo;
		int64_t b = at + hi > (int64_t)o->size ? (int64_t)o->size : at + hi;
		if (b <= a)
			continue;
		if (hp_arena_grow(l->ctx, masks, capmasks, *nmasks, sizeof *(*masks), 64) < 0)
			return -HP_ENOMEM;
		(*masks)[(*nmasks)++] = (struct hpx_range){ (uint32_t)a, (uint32_t)(b - a) };
	}
	struct hpx_range *m = *masks + first;
	size_t n = *nmasks - first;
	if (n > 1)
		qsort(m, n, sizeof *m, cmp_range);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && m[i].offset <= m[k - 1].offset + m[k - 1].length) {
			uint32_t end = m[i].offset + m[i].length;
			if (end > m[k - 1].offset + m[k - 1].length)
				m[k - 1].length = end - m[k - 1].offset;
		} else {
			m[k++] = m[i];
		}
	}
	*nmasks = first + k;
	f->mask_first = (uint32_t)first;
	f->mask_count = (uint32_t)k;

	if (!sec->data)
		return hp_err(l->ctx, HP_ECORRUPT, l->in[f->object].old->path, o->name,
			      "function without bytes");
	hpx_masked_hash(sec->data + o->value, o->size, m, k, f->old_hash);
	return 0;
}

static int describe_funcs(struct linker *l, struct hpx *h)
{
	size_t n = 0;
	for (size_t i = 0; i < l->nitems; i++)
		n += l->items[i].it->replaces || l->items[i].it->check_only;
	h->funcs = hp_arena_array(l->ctx, n, sizeof *h->funcs);
	if (!h->funcs)
		return hp_nomem(l->ctx);
	/* Never NULL, even with no masks: callers index it (masks + mask_first). */
	size_t nmasks = 0, capmasks = 64;
	struct hpx_range *masks = hp_arena_array(l->ctx, capmasks, sizeof *masks);
	if (!masks)
		return hp_nomem(l->ctx);
	for (size_t i = 0; i < l->nitems; i++) {
		const struct litem *li = &l->items[i];
		const struct differ_item *it = li->it;
		if (!it->replaces && !it->check_only)
			continue;
		const struct obj_sym *o = it->sym->twin;
		struct hpx_func *f = &h->funcs[h->nfuncs++];
		f->name = o->name;
		f->file = o->bind == STB_LOCAL && o->file ? o->file : "";
		const struct obj *old = l->in[li->pair].old;
		for (const struct obj_sym *x = obj_find_sym(old, o->name); x && x != o;
		     x = x->next_same_name)
			if (o->bind == STB_LOCAL && x->bind == STB_LOCAL && x->file == o->file)
				f->ordinal++;
		f->object = (uint32_t)li->pair;
		f->old_size = o->size;
		f->new_offset = it->check_only ? 0 : li->off;
		f->new_size = it->check_only ? 0 : it->size;
		f->flags = it->check_only ? HPX_FUNC_CHECK_ONLY : 0;
		if (!it->check_only && o->size < 5) {
			l->refused = hp_err(l->ctx, HP_EUNPATCHABLE, old->path, o->name,
					    DIFFER_TOO_SMALL_FMT, (unsigned long long)o->size);
			continue;
		}
		int err = describe_old(l, o, f, &masks, &nmasks, &capmasks);
		if (err < 0)
			return err;
	}
	h->masks = masks;
	h->nmasks = nmasks;
	return 0;
}

/* ----- the pass ------------------------------------------------------------ */

int linker_build(struct hp_ctx *ctx, const struct linker_input *in, size_t n, struct hpx *h)
{
	struct linker l = { 0 };
	l.ctx = ctx;
	l.in = in;
	l.nin = n;
	int err;
	if ((err = place_items(&l)) < 0 || (err = scan_relocations(&l)) < 0)
		return err;
	if (l.refused)
		return l.refused;
	if (!assign_offsets(&l))
		return hp_err(ctx, HP_EUNPATCHABLE, in[0].new->path, NULL,
			      "the patch's image would exceed %llu bytes, the most a container holds",
			      (unsigned long long)HPX_MAX_IMAGE);
	if ((err = emit(&l)) < 0)
		return err;
	if ((err = describe_funcs(&l, h)) < 0)
		return err;
	if (l.refused)
		return l.refused;

	h->objects = hp_arena_array(ctx, n, sizeof *h->objects);
	if (!h->objects)
		return hp_nomem(ctx);
	for (size_t p = 0; p < n; p++) {
		h->objects[p].path = in[p].path;
		h->objects[p].cu = "";
		for (size_t i = 1; i < in[p].new->nsyms; i++)
			if (in[p].new->syms[i].type == STT_FILE) {
				h->objects[p].cu = in[p].new->syms[i].name;
				break;
			}
	}
	h->nobjects = n;
	h->syms = hp_arena_array(ctx, l.nsyms, sizeof *h->syms);
	if (!h->syms)
		return hp_nomem(ctx);
	for (size_t s = 0; s < l.nsyms; s++)
		h->syms[s] = l.syms[s].sym;
	h->nsyms = l.nsyms;

	static const uint32_t prot[R_COUNT] = { HPX_PROT_R | HPX_PROT_X, HPX_PROT_R,
						 HPX_PROT_R | HPX_PROT_W, HPX_PROT_R | HPX_PROT_W };
	h->segments = hp_arena_array(ctx, 3, sizeof *h->segments);
	if (!h->segments)
		return hp_nomem(ctx);
	for (int r = 0; r < R_BSS; r++) {
		uint64_t end = r == R_DATA ? l.region_end[R_BSS] : l.region_end[r];
		if (end == l.region_start[r])
			continue;
		h->segments[h->nsegments++] = (struct hpx_segment){
			l.region_start[r], align_up(end, HPX_PAGE) - l.region_start[r], prot[r]
		};
	}
	h->image = l.image;
	h->image_file_size = l.region_end[R_DATA];
	/* Trailing zeros need not be stored: the image is zero beyond its bytes. */
	while (h->image_file_size && !l.image[h->image_file_size - 1])
		h->image_file_size--;
	h->image_size = l.image_size;
	h->fixups = l.fixups;
	h->nfixups = l.nfixups;
	return 0;
}
