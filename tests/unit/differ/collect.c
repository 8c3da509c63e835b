/*
 * Unit tests for differ/collect.c: what travels in a patch, on real gcc and
 * clang objects. differ_collect() from the changed functions; and
 * differ_collect_add(), which hpbuild calls for a function new in one object
 * that a fix in another object calls.
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

static const char *const configs[][2] = {
	{ "gcc", "-O0" }, { "gcc", "-O2" }, { "clang", "-O0" }, { "clang", "-O2" },
};
#define NCONFIGS (sizeof configs / sizeof *configs)

struct pair {
	struct hp_ctx ctx;
	struct obj *old, *new;
	char *paths[2];
};

static void run(struct pair *p, size_t config, const char *tag, const char *old_src,
		const char *new_src)
{
	char flags[128], name[64];
	snprintf(flags, sizeof flags, "%s -g -ffunction-sections -fdata-sections",
		 configs[config][1]);
	hp_ctx_init(&p->ctx, "test");
	snprintf(name, sizeof name, "col-%s-old-%zu", tag, config);
	p->paths[0] = th_compile(configs[config][0], flags, name, old_src);
	snprintf(name, sizeof name, "col-%s-new-%zu", tag, config);
	p->paths[1] = th_compile(configs[config][0], flags, name, new_src);
	p->old = th_read_obj(&p->ctx, p->paths[0]);
	p->new = th_read_obj(&p->ctx, p->paths[1]);
	assert_int_equal(differ_correlate(&p->ctx, p->old, p->new), 0);
	assert_int_equal(differ_compare(&p->ctx, p->old, p->new), 0);
}

static void done(struct pair *p)
{
	obj_free(p->old);
	obj_free(p->new);
	free(p->paths[0]);
	free(p->paths[1]);
	hp_ctx_fini(&p->ctx);
}

/* The item of closure c that is symbol name, or NULL. */
static const struct differ_item *item(const struct differ_closure *c, const char *name)
{
	for (size_t i = 0; i < c->nitems; i++)
		if (c->items[i].sym && !strcmp(c->items[i].sym->name, name))
			return &c->items[i];
	return NULL;
}

static size_t count_kind(const struct differ_closure *c, enum differ_item_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nitems; i++)
		n += c->items[i].kind == kind;
	return n;
}

/* ----- differ_collect ----------------------------------------------------------- */

static const char fix_old[] =
	"extern int puts(const char *);\n"
	"__attribute__((noinline)) int same(int x) { return x * 7 + 1; }\n"
	"int fixed(int x) { return same(x) + 1; }\n";
static const char fix_new[] =
	"extern int puts(const char *);\n"
	"__attribute__((noinline)) int same(int x) { return x * 7 + 1; }\n"
	"static int rejected;\n"
	"static __attribute__((noinline)) int check(int x)\n"
	"{ if (x < 0) { rejected++; puts(\"negative input rejected\"); return 0; } return x; }\n"
	"int fixed(int x) { return same(check(x)) + 1; }\n";

/* The changed function, the new helper, the new variable and the string travel;
 * the SAME function and the library function stay in the process. */
static void test_differ_collect__closure(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, "fix", fix_old, fix_new);
		struct differ_closure cl;
		assert_int_equal(differ_collect(&p.ctx, p.old, p.new, &cl), 0);
		const struct differ_item *it = item(&cl, "fixed");
		assert_non_null(it);
		assert_true(it->replaces);
		assert_ptr_equal(&cl.items[0], it); /* roots first */
		it = item(&cl, "check");
		assert_non_null(it);
		assert_false(it->replaces);
		assert_int_equal(it->kind, DIFFER_ITEM_FUNC);
		/* gcc names a static "rejected", clang too; either may number it. */
		size_t data = 0;
		for (size_t i = 0; i < cl.nitems; i++)
			if (cl.items[i].kind == DIFFER_ITEM_DATA &&
			    !strncmp(cl.items[i].sym->name, "rejected", 8))
				data++;
		assert_int_equal(data, 1);
		assert_int_equal(count_kind(&cl, DIFFER_ITEM_PIECE), 1); /* the string */
		assert_null(item(&cl, "same"));
		assert_null(item(&cl, "puts"));
		assert_false(th_sym(p.new, "same")->include);
		done(&p);
	}
}

/* ----- differ_collect_add ---------------------------------------------------------- */

static const char util_old[] = "int util_keep(int x) { return x + 3; }\n";
static const char util_new[] =
	"int util_keep(int x) { return x + 3; }\n"
	"unsigned long util_rejected;\n"
	"static __attribute__((noinline)) void note(void) { util_rejected++; }\n"
	"long util_checked(unsigned long len, unsigned long room)\n"
	"{ if (len > room) { note(); return -1; } return (long)len; }\n";

/* A new global nothing in its own object calls: differ_collect() leaves it out;
 * differ_collect_add() adds it and what it needs, once. */
static void test_differ_collect__add(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, "util", util_old, util_new);
		struct differ_closure cl;
		assert_int_equal(differ_collect(&p.ctx, p.old, p.new, &cl), 0);
		assert_int_equal(cl.nitems, 0);
		struct obj_sym *checked = th_sym(p.new, "util_checked");
		assert_int_equal(checked->status, OBJ_NEW);
		assert_int_equal(differ_collect_add(&p.ctx, p.new, &cl, checked), 0);
		assert_int_equal(cl.nitems, 3);
		assert_ptr_equal(cl.items[0].sym, checked);
		assert_non_null(item(&cl, "note"));
		assert_non_null(item(&cl, "util_rejected"));
		for (size_t i = 0; i < cl.nitems; i++)
			assert_false(cl.items[i].replaces);
		/* Again: nothing more. */
		assert_int_equal(differ_collect_add(&p.ctx, p.new, &cl, checked), 0);
		assert_int_equal(cl.nitems, 3);
		/* Only what is new can be added: the process has the rest. */
		assert_int_equal(differ_collect_add(&p.ctx, p.new, &cl, th_sym(p.new, "util_keep")),
				 -HP_ERROR);
		assert_non_null(strstr(th_last_diag(&p.ctx), "only a NEW function or data object"));
		assert_int_equal(cl.nitems, 3);
		done(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differ_collect__closure),
		cmocka_unit_test(test_differ_collect__add),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
