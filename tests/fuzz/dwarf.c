/*
 * Fuzz target: the DWARF reader (formats/dwarfread.c, dw_read_funcs) on a
 * mutated object: first every function instance, then only those whose entry
 * is a function symbol, as differ_explain() asks. The object is read with
 * obj_read_elf_mem first; inputs it refuses never reach libdwarf, as in the
 * tools.
 */
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
		obj_free(obj);
	}
	hp_ctx_fini(&ctx);
	free(buf);
	return 0;
}
