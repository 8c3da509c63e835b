/*
 * Fuzz target: the DWARF readers (formats/dwarfread.c, dwtypes.c) on a mutated
 * object: dw_read_funcs, first every function instance, then only those whose
 * entry is a function symbol, as differ_explain() asks; then the model the
 * safety gate reads (dw_get): each function's subprogram, parameters and
 * locals, each data symbol's variable, and every type they reach, spelled,
 * sized and stripped; and the line readers (formats/dwlines.c) the line-only
 * rule asks: each function's line at a few offsets and its inlined call
 * sites. The object is read with obj_read_elf_mem first; inputs
 * it refuses never reach libdwarf, as in the tools.
 */
#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"
#include "tests/fuzz/fuzz.h"

static void touch_dw(const struct dw_info *dw)
{
	for (size_t i = 0; i < dw->nfuncs; i++) {
		const struct dw_func *f = &dw->funcs[i];
		fuzz_touch_str(f->name);
		fuzz_touch_str(f->decl_file);
		for (size_t k = 0; k < f->ninlines; k++)
			fuzz_touch_str(f->inlines[k]);
		dw_func_at(dw, f->sec, f->offset);
	}
}

/* Read type id and what it reaches through members, as the safety gate does;
 * at most *budget types, so a web of types costs a bounded time here too. */
static void touch_type(struct dw *dw, uint64_t id, int *budget)
{
	const struct dw_type *t, *st;
	const char *spell;
	uint64_t size;
	if (--*budget < 0 || dw_type_get(dw, id, &t) < 0 || !t)
		return;
	fuzz_touch_str(t->name);
	fuzz_touch_str(t->decl_file);
	fuzz_touch_str(dw_unit_of(dw, id));
	dw_type_strip(dw, id, &st);
	dw_type_sizeof(dw, id, &size);
	if (dw_type_spell(dw, id, false, &spell) == 0)
		fuzz_touch_str(spell);
	if (dw_type_spell(dw, id, true, &spell) == 0)
		fuzz_touch_str(spell);
	fuzz_touch(t->dims, t->ndims * sizeof *t->dims);
	for (size_t i = 0; i < t->nmembers; i++) {
		fuzz_touch_str(t->members[i].name);
		if (t->members[i].type)
			touch_type(dw, t->members[i].type, budget);
	}
	if (t->target)
		touch_type(dw, t->target, budget);
}

static void touch_model(struct obj *obj, struct dw *dw)
{
	int budget = 512;
	for (size_t i = 1; i < obj->nsyms; i++) {
		const struct obj_sym *s = &obj->syms[i];
		if (obj_sym_is_func(s)) {
			const struct dw_subprogram *sp;
			if (dw_subprogram_at(dw, s->sec, s->value, &sp) < 0 || !sp)
				continue;
			fuzz_touch_str(sp->name);
			fuzz_touch_str(sp->cu);
			fuzz_touch_str(sp->decl_file);
			touch_type(dw, sp->ret, &budget);
			for (size_t k = 0; k < sp->nparams; k++) {
				fuzz_touch_str(sp->params[k].name);
				touch_type(dw, sp->params[k].type, &budget);
			}
			for (size_t k = 0; k < sp->nlocals; k++) {
				fuzz_touch_str(sp->locals[k].name);
				fuzz_touch_str(sp->locals[k].inlined);
				touch_type(dw, sp->locals[k].type, &budget);
			}
			for (size_t k = 0; k < sp->ninlines; k++)
				fuzz_touch_str(sp->inlines[k]);
			uint32_t line;
			for (uint64_t off = 0; off < s->size && off < 64; off += 7)
				dw_line_at(dw, s->sec, s->value + off, &line);
			struct dw_site *sites = NULL;
			size_t nsites = 0;
			if (dw_inline_sites(dw, s->sec, s->value, &sites, &nsites) == 0)
				fuzz_touch(sites, nsites * sizeof *sites);
			free(sites);
		} else if (obj_sym_is_data(s)) {
			const struct dw_var *v;
			if (dw_var_at(dw, s->sec, s->value, &v) < 0 || !v)
				continue;
			fuzz_touch_str(v->name);
			fuzz_touch_str(v->scope);
			fuzz_touch_str(v->encoding);
			fuzz_touch_str(v->decl_file);
			touch_type(dw, v->type, &budget);
		}
	}
	uint64_t id;
	static const char *const names[] = { "conn", "table", "config", "int", "s" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		for (int kind = DWT_BASE; kind <= DWT_TYPEDEF; kind++)
			if (dw_type_find(dw, "", (enum dwt_kind)kind, names[i], &id) == 0 && id)
				touch_type(dw, id, &budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "fuzz");
	struct obj *obj = NULL;
	if (obj_read_elf_mem(&ctx, "fuzz.o", buf, size, &obj) == 0) {
		struct dw_info dw;
		if (dw_read_funcs(&ctx, obj, NULL, 0, &dw) == 0)
			touch_dw(&dw);
		size_t n = 0;
		struct obj_sym **want = hp_arena_array(&ctx, obj->nsyms, sizeof *want);
		for (size_t i = 1; want && i < obj->nsyms; i++)
			if (obj_sym_is_func(&obj->syms[i]))
				want[n++] = &obj->syms[i];
		if (want && dw_read_funcs(&ctx, obj, want, n, &dw) == 0)
			touch_dw(&dw);
		struct dw *model = NULL;
		if (dw_get(&ctx, obj, &model) == 0 && model)
			touch_model(obj, model);
		obj_free(obj);
	}
	hp_ctx_fini(&ctx);
	free(buf);
	return 0;
}
