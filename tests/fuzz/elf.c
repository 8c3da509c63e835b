/*
 * Fuzz target: the ELF object reader (formats/elfread.c, obj_read_elf_mem) and
 * the object model it builds (formats/obj.c): sections, symbols, relocations,
 * groups, the name tables. Then the lazily read relocations of every
 * non-allocated section, and every pointer the model hands out is read to its
 * end, so that ASan checks it lies inside the input.
 */
#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "fuzz");
	struct obj *obj = NULL;
	if (obj_read_elf_mem(&ctx, "fuzz.o", buf, size, &obj) == 0) {
		for (size_t i = 1; i < obj->nsecs; i++) {
			struct obj_sec *s = &obj->secs[i];
			fuzz_touch_str(s->name);
			if (s->data)
				fuzz_touch(s->data, s->size);
			obj_load_rels(&ctx, obj, s);
			for (size_t k = 0; k < s->nrels; k++)
				fuzz_touch_str(s->rels[k].sym->name);
			for (size_t k = 0; k < s->nsyms; k++)
				obj_sym_at(s, s->syms[k]->value);
			if (s->nrels)
				obj_rel_lower_bound(s, s->rels[s->nrels / 2].offset);
		}
		for (size_t i = 1; i < obj->nsyms; i++) {
			const struct obj_sym *s = &obj->syms[i];
			fuzz_touch_str(s->name);
			fuzz_touch_str(s->file);
			const uint8_t *b = obj_sym_bytes(s);
			if (b && (obj_sym_is_func(s) || obj_sym_is_data(s)))
				fuzz_touch(b, s->size);
			for (const struct obj_sym *x = obj_find_sym(obj, s->name); x;
			     x = x->next_same_name)
				if (x == s)
					break;
		}
		obj_free(obj);
	}
	hp_ctx_fini(&ctx);
	free(buf);
	return 0;
}
