/*
 * explain.c: pass 4b, add what DWARF knows to the verdicts of compare.c.
 *
 * A fix to a static inline helper changes every function it was inlined into,
 * and the bytes alone cannot say why. The DWARF of each changed function lists
 * its DW_TAG_inlined_subroutine children; the report names them, and says
 * "changed" for those whose own out-of-line copy changed too.
 */
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"

int differ_explain(struct hp_ctx *ctx, struct obj *old, struct obj *new)
{
	(void)old;
	size_t n = 0;
	for (size_t i = 1; i < new->nsyms; i++) {
		const struct obj_sym *s = &new->syms[i];
		if (obj_sym_is_func(s) && (s->status == OBJ_CHANGED || s->status == OBJ_NEW))
			n++;
	}
	if (!n)
		return 0;
	struct obj_sym **want = hp_arena_array(ctx, n, sizeof *want);
	if (!want)
		return hp_nomem(ctx);
	n = 0;
	for (size_t i = 1; i < new->nsyms; i++) {
		struct obj_sym *s = &new->syms[i];
		if (obj_sym_is_func(s) && (s->status == OBJ_CHANGED || s->status == OBJ_NEW))
			want[n++] = s;
	}
	struct dw_info dw;
	int err = dw_read_funcs(ctx, new, want, n, &dw);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct obj_sym *s = want[i];
		const struct dw_func *f = dw_func_at(&dw, s->sec, s->value);
		if (!f || !f->ninlines)
			continue;
		struct differ_func_info *info = hp_arena_alloc(ctx, sizeof *info);
		struct differ_inline *names = hp_arena_array(ctx, f->ninlines, sizeof *names);
		if (!info || !names)
			return hp_nomem(ctx);
		for (size_t k = 0; k < f->ninlines; k++) {
			const struct obj_sym *x = obj_find_sym(new, f->inlines[k]);
			names[k].name = f->inlines[k];
			names[k].changed = x && obj_sym_is_func(x) && x->status == OBJ_CHANGED;
		}
		info->inlines = names;
		info->ninlines = f->ninlines;
		s->aux = info;
	}
	return 0;
}
