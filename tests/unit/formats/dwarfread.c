/*
 * Unit tests for formats/dwarfread.c: the concrete function instances of real
 * gcc and clang objects (DWARF 5 and 4), mapped back to (section, offset).
 */
#include <elf.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

#define FLAGS "-O2 -ffunction-sections -fdata-sections"

/*
 * foo's unlikely branch calls a cold function, so gcc -O2 moves it to foo.cold
 * in .text.unlikely.foo. helper calls out, so clang keeps a trace of it in
 * uses: an always_inline helper that folds to nothing leaves no
 * DW_TAG_inlined_subroutine in clang's DWARF.
 */
static const char src[] =
	"extern void sink(int);\n"
	"static inline __attribute__((always_inline)) int helper(int x)\n"
	"{\n"
	"	sink(x);\n"
	"	return x * 3 + 1;\n"
	"}\n"
	"__attribute__((cold, noinline)) void oops(int x) { sink(x); sink(x + 7); }\n"
	"int foo(int x, int y)\n" /* line 8 */
	"{\n"
	"	if (__builtin_expect(x, 0)) {\n"
	"		oops(y);\n"
	"		sink(y * 2);\n"
	"		return -1;\n"
	"	}\n"
	"	return y + 1;\n"
	"}\n"
	"int uses(int x) { return helper(x) + 1; }\n"
	"static int counter;\n"
	"int bump(int x) { counter += x; return counter; }\n"
	"int g(void) { return 42; }\n";

struct fixture {
	struct hp_ctx ctx;
	char *path;
	struct obj *obj;
	struct dw_info dw;
};

static void setup(struct fixture *f, const char *cc, const char *gflags, const char *name)
{
	char flags[128];
	snprintf(flags, sizeof flags, "%s %s", FLAGS, gflags);
	hp_ctx_init(&f->ctx, "test");
	f->path = th_compile(cc, flags, name, src);
	f->obj = th_read_obj(&f->ctx, f->path);
	memset(&f->dw, 0, sizeof f->dw);
}

static void teardown(struct fixture *f)
{
	obj_free(f->obj);
	free(f->path);
	hp_ctx_fini(&f->ctx);
}

static void read_all(struct fixture *f)
{
	int err = dw_read_funcs(&f->ctx, f->obj, NULL, 0, &f->dw);
	if (err < 0)
		fail_msg("dw_read_funcs(%s): %d: %s", f->path, err, th_last_diag(&f->ctx));
	assert_true(f->dw.present);
	assert_int_equal(f->ctx.ndiags, 0);
}

/* The name DWARF gives the function whose entry is sym: foo for foo.cold. */
static const char *source_name(const struct obj_sym *sym)
{
	return sym->parent ? sym->parent->name : sym->name;
}

/*
 * Every function symbol has an instance at its entry, in its own section at
 * offset 0, under its source name; and every instance is at a function's entry.
 */
static void check_entries(const char *cc, const char *gflags, const char *name)
{
	struct fixture f;
	setup(&f, cc, gflags, name);
	read_all(&f);
	size_t nfuncs = 0;
	for (size_t i = 1; i < f.obj->nsyms; i++) {
		const struct obj_sym *s = &f.obj->syms[i];
		if (!obj_sym_is_func(s))
			continue;
		nfuncs++;
		assert_int_equal(s->value, 0); /* -ffunction-sections */
		const struct dw_func *df = dw_func_at(&f.dw, s->sec, 0);
		if (!df)
			fail_msg("%s %s: no DWARF instance at %s+0 (%s)", cc, gflags, s->sec->name,
				 s->name);
		assert_ptr_equal(df->sec, s->sec);
		assert_int_equal(df->offset, 0);
		assert_non_null(df->name);
		assert_string_equal(df->name, source_name(s));
	}
	/* oops, foo, uses, bump, g; gcc adds foo.cold. */
	assert_true(nfuncs >= 5);
	for (size_t i = 0; i < f.dw.nfuncs; i++) {
		const struct dw_func *df = &f.dw.funcs[i];
		assert_non_null(df->sec);
		const struct obj_sym *s = obj_sym_at(df->sec, df->offset);
		if (!s || !obj_sym_is_func(s) || s->value != df->offset)
			fail_msg("%s %s: instance of %s at %s+%llu is not a function entry", cc,
				 gflags, df->name, df->sec->name, (unsigned long long)df->offset);
	}
	/* Nothing is listed at an address that is not an entry. */
	const struct obj_sym *foo = th_sym(f.obj, "foo");
	assert_null(dw_func_at(&f.dw, foo->sec, 1));
	assert_null(dw_func_at(&f.dw, th_sym(f.obj, "counter")->sec, 0));
	/* decl_line comes through. */
	assert_int_equal(dw_func_at(&f.dw, foo->sec, 0)->decl_line, 8);
	teardown(&f);
}

static void test_formats_dwarfread__gcc_entries(void **state)
{
	(void)state;
	check_entries("gcc", "-g", "gcc5");
}

static void test_formats_dwarfread__gcc_dwarf4_entries(void **state)
{
	(void)state;
	check_entries("gcc", "-gdwarf-4", "gcc4");
}

static void test_formats_dwarfread__clang_entries(void **state)
{
	(void)state;
	check_entries("clang", "-g", "clang5");
}

static void test_formats_dwarfread__clang_dwarf4_entries(void **state)
{
	(void)state;
	check_entries("clang", "-gdwarf-4", "clang4");
}

/* gcc -O2 splits foo in a hot and a cold range: one instance at each entry. */
static void check_cold_split(const char *gflags, const char *name)
{
	struct fixture f;
	setup(&f, "gcc", gflags, name);
	const struct obj_sym *foo = th_sym(f.obj, "foo");
	const struct obj_sym *cold = th_sym(f.obj, "foo.cold");
	assert_true(obj_sym_is_func(cold));
	assert_int_equal(cold->bind, STB_LOCAL);
	assert_ptr_equal(cold->parent, foo);
	assert_ptr_not_equal(cold->sec, foo->sec);
	assert_string_equal(cold->sec->name, ".text.unlikely.foo");

	read_all(&f);
	const struct dw_func *hot = dw_func_at(&f.dw, foo->sec, 0);
	const struct dw_func *cpart = dw_func_at(&f.dw, cold->sec, 0);
	assert_non_null(hot);
	assert_non_null(cpart);
	assert_ptr_not_equal(hot, cpart);
	assert_string_equal(hot->name, "foo");
	assert_string_equal(cpart->name, "foo");
	size_t n = 0;
	for (size_t i = 0; i < f.dw.nfuncs; i++)
		n += !strcmp(f.dw.funcs[i].name, "foo");
	assert_int_equal(n, 2);
	teardown(&f);
}

static void test_formats_dwarfread__gcc_cold_split(void **state)
{
	(void)state;
	check_cold_split("-g", "cold5");
}

static void test_formats_dwarfread__gcc_dwarf4_cold_split(void **state)
{
	(void)state;
	check_cold_split("-gdwarf-4", "cold4");
}

static bool lists(const struct dw_func *df, const char *name)
{
	for (size_t i = 0; i < df->ninlines; i++)
		if (!strcmp(df->inlines[i], name))
			return true;
	return false;
}

static void check_inlines(const char *cc, const char *gflags, const char *name)
{
	struct fixture f;
	setup(&f, cc, gflags, name);
	/* helper has no out-of-line copy: always_inline and static. */
	assert_null(obj_find_sym(f.obj, "helper"));
	read_all(&f);
	const struct dw_func *uses = dw_func_at(&f.dw, th_sym(f.obj, "uses")->sec, 0);
	assert_non_null(uses);
	if (!lists(uses, "helper"))
		fail_msg("%s %s: uses does not list helper among its %zu inlines", cc, gflags,
			 uses->ninlines);
	/* Each name once. */
	assert_int_equal(uses->ninlines, 1);
	const struct dw_func *g = dw_func_at(&f.dw, th_sym(f.obj, "g")->sec, 0);
	assert_non_null(g);
	assert_int_equal(g->ninlines, 0);
	teardown(&f);
}

static void test_formats_dwarfread__gcc_inlines(void **state)
{
	(void)state;
	check_inlines("gcc", "-g", "ginl5");
	check_inlines("gcc", "-gdwarf-4", "ginl4");
}

static void test_formats_dwarfread__clang_inlines(void **state)
{
	(void)state;
	check_inlines("clang", "-g", "cinl5");
	check_inlines("clang", "-gdwarf-4", "cinl4");
}

/* Without -g there is no DWARF: present is false, and that is not an error. */
static void test_formats_dwarfread__no_debug_info(void **state)
{
	(void)state;
	const char *ccs[] = {"gcc", "clang"};
	for (size_t i = 0; i < 2; i++) {
		struct fixture f;
		setup(&f, ccs[i], "", ccs[i]);
		assert_null(obj_find_sec(f.obj, ".debug_info"));
		f.dw.present = true;
		f.dw.nfuncs = 99;
		assert_int_equal(dw_read_funcs(&f.ctx, f.obj, NULL, 0, &f.dw), 0);
		assert_false(f.dw.present);
		assert_int_equal(f.dw.nfuncs, 0);
		assert_int_equal(f.ctx.ndiags, 0);
		struct obj_sym *want[] = {th_sym(f.obj, "g")};
		assert_int_equal(dw_read_funcs(&f.ctx, f.obj, want, 1, &f.dw), 0);
		assert_false(f.dw.present);
		assert_int_equal(f.dw.nfuncs, 0);
		assert_null(dw_func_at(&f.dw, want[0]->sec, 0));
		assert_int_equal(f.ctx.ndiags, 0);
		teardown(&f);
	}
}

/* Only the instances whose entry is a wanted symbol come back. */
static void check_want(const char *cc, const char *name)
{
	struct fixture f;
	setup(&f, cc, "-g", name);
	struct obj_sym *foo = th_sym(f.obj, "foo"), *g = th_sym(f.obj, "g");
	struct obj_sym *want[] = {g, foo};
	assert_int_equal(dw_read_funcs(&f.ctx, f.obj, want, 2, &f.dw), 0);
	assert_true(f.dw.present);
	/* foo's cold range (gcc) starts at foo.cold, which was not asked for. */
	assert_int_equal(f.dw.nfuncs, 2);
	assert_non_null(dw_func_at(&f.dw, foo->sec, 0));
	assert_non_null(dw_func_at(&f.dw, g->sec, 0));
	assert_string_equal(dw_func_at(&f.dw, g->sec, 0)->name, "g");
	assert_null(dw_func_at(&f.dw, th_sym(f.obj, "uses")->sec, 0));
	assert_null(dw_func_at(&f.dw, th_sym(f.obj, "bump")->sec, 0));

	/* An empty want list: DWARF is there, no function is read. */
	assert_int_equal(dw_read_funcs(&f.ctx, f.obj, want, 0, &f.dw), 0);
	assert_true(f.dw.present);
	assert_int_equal(f.dw.nfuncs, 0);

	struct obj_sym *cold = obj_find_sym(f.obj, "foo.cold");
	if (!strcmp(cc, "gcc"))
		assert_non_null(cold);
	if (cold) {
		/* The cold part alone gives the instance at its own entry. */
		struct obj_sym *want_cold[] = {cold};
		assert_int_equal(dw_read_funcs(&f.ctx, f.obj, want_cold, 1, &f.dw), 0);
		assert_int_equal(f.dw.nfuncs, 1);
		assert_ptr_equal(f.dw.funcs[0].sec, cold->sec);
		assert_string_equal(f.dw.funcs[0].name, "foo");
	}
	assert_int_equal(f.ctx.ndiags, 0);
	teardown(&f);
}

static void test_formats_dwarfread__gcc_want(void **state)
{
	(void)state;
	check_want("gcc", "gwant");
}

static void test_formats_dwarfread__clang_want(void **state)
{
	(void)state;
	check_want("clang", "cwant");
}

/* ----- regressions: bugs these tests found, now fixed --------------------- */

/*
 * Was a gap: struct dw_func.decl_file is documented as "file of the
 * declaration, or NULL", but dw_read_funcs() never sets it: it is NULL for
 * every function, although both compilers emit DW_AT_decl_file. (decl_line is
 * read.) Nothing uses it yet.
 */
static void test_formats_dwarfread__decl_file(void **state)
{
	(void)state;
	const char *ccs[] = {"gcc", "clang"};
	for (size_t i = 0; i < 2; i++) {
		struct fixture f;
		char name[32];
		snprintf(name, sizeof name, "%s-declfile", ccs[i]);
		setup(&f, ccs[i], "-g", name);
		read_all(&f);
		const struct dw_func *df = dw_func_at(&f.dw, th_sym(f.obj, "foo")->sec, 0);
		assert_non_null(df);
		if (!df->decl_file || !strstr(df->decl_file, name))
			fail_msg("%s: foo's decl_file is %s, want .../%s.c", ccs[i],
				 df->decl_file ? df->decl_file : "NULL", name);
		teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_dwarfread__gcc_entries),
		cmocka_unit_test(test_formats_dwarfread__gcc_dwarf4_entries),
		cmocka_unit_test(test_formats_dwarfread__clang_entries),
		cmocka_unit_test(test_formats_dwarfread__clang_dwarf4_entries),
		cmocka_unit_test(test_formats_dwarfread__gcc_cold_split),
		cmocka_unit_test(test_formats_dwarfread__gcc_dwarf4_cold_split),
		cmocka_unit_test(test_formats_dwarfread__gcc_inlines),
		cmocka_unit_test(test_formats_dwarfread__clang_inlines),
		cmocka_unit_test(test_formats_dwarfread__no_debug_info),
		cmocka_unit_test(test_formats_dwarfread__gcc_want),
		cmocka_unit_test(test_formats_dwarfread__clang_want),
		cmocka_unit_test(test_formats_dwarfread__decl_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
