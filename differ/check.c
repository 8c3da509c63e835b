/*
 * check.c: refuse input the differ cannot compare function by function.
 *
 * Without -ffunction-sections, all functions share .text and a call from one to
 * another is resolved by the assembler: no relocation says where it goes, so the
 * compare pass would see two equal call instructions that reach different code.
 * Without -fdata-sections, statics share .data/.bss and a reference to one is
 * "section + offset", which the compare pass would have to attribute to a symbol
 * by guessing the instruction's length. Until both are recovered from the
 * instructions, such objects get a clear refusal instead of a wrong answer.
 */
#include <elf.h>

#include "differ/differ.h"

/* Count distinct start addresses of the symbols in sec accepted by keep(). */
static size_t count_starts(const struct obj_sec *sec, bool (*keep)(const struct obj_sym *))
{
	size_t n = 0;
	uint64_t last = 0;
	for (size_t i = 0; i < sec->nsyms; i++) {
		const struct obj_sym *s = sec->syms[i];
		if (!keep(s))
			continue;
		if (n == 0 || s->value != last)
			n++;
		last = s->value;
	}
	return n;
}

static bool is_func(const struct obj_sym *s)
{
	return obj_sym_is_func(s);
}

static bool is_data(const struct obj_sym *s)
{
	return obj_sym_is_data(s);
}

int differ_check_input(struct hp_ctx *ctx, const struct obj *obj)
{
	int err = 0;
	for (size_t i = 1; i < obj->nsecs; i++) {
		const struct obj_sec *sec = &obj->secs[i];
		if (!obj_sec_is_alloc(sec) || sec->nsyms < 2)
			continue;
		if (obj_sec_is_text(sec)) {
			size_t n = count_starts(sec, is_func);
			if (n > 1)
				err = hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
					     "section '%s' holds %zu functions; build with -ffunction-sections -fdata-sections (objects without them are not supported yet)",
					     sec->name, n);
		} else if (!(sec->flags & SHF_MERGE)) {
			size_t n = count_starts(sec, is_data);
			if (n > 1)
				err = hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
					     "section '%s' holds %zu data objects; build with -ffunction-sections -fdata-sections (objects without them are not supported yet)",
					     sec->name, n);
		}
	}
	return err;
}
