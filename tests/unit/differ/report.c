/*
 * Unit tests for differ/report.c: the entries gathered from a compared pair of
 * real objects, their counts and order, and the JSON and text renderings.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

#define FLAGS "-O2 -g -ffunction-sections -fdata-sections"

/*
 * One of each: functions b_changed (CHANGED), a_same and zz_same (SAME),
 * c_new (NEW), d_removed (REMOVED); data y_changed, z_same, x_new, w_removed.
 * Names are chosen so that sorting by name differs from source order.
 */
static const char old_src[] = "int z_same = 1;\n"
			      "int y_changed = 2;\n"
			      "int w_removed = 3;\n"
			      "int zz_same(int x) { return x + z_same; }\n"
			      "int b_changed(int x) { return x ^ 0x1234; }\n"
			      "int d_removed(int x) { return x - 1; }\n"
			      "int a_same(int x) { return x * y_changed; }\n";
static const char new_src[] = "int z_same = 1;\n"
			      "int y_changed = 5;\n"
			      "int x_new = 4;\n"
			      "int zz_same(int x) { return x + z_same; }\n"
			      "int b_changed(int x) { return x ^ 0x4321; }\n"
			      "int c_new(int x) { return x + x_new; }\n"
			      "int a_same(int x) { return x * y_changed; }\n";

struct run {
	struct hp_ctx ctx;
	char *opath, *npath;
	struct obj *old, *new;
	struct differ_report rep;
};

/* The whole pipeline of hpdiff, up to the report. */
static void run(struct run *r, const char *cc, const char *flags, const char *tag, const char *osrc,
		const char *nsrc)
{
	char oname[64], nname[64];
	snprintf(oname, sizeof oname, "%s-%s-old", cc, tag);
	snprintf(nname, sizeof nname, "%s-%s-new", cc, tag);
	hp_ctx_init(&r->ctx, "test");
	r->opath = th_compile(cc, flags, oname, osrc);
	r->npath = th_compile(cc, flags, nname, nsrc);
	r->old = th_read_obj(&r->ctx, r->opath);
	r->new = th_read_obj(&r->ctx, r->npath);
	int err = differ_correlate(&r->ctx, r->old, r->new);
	if (!err)
		err = differ_compare(&r->ctx, r->old, r->new);
	if (!err)
		err = differ_explain(&r->ctx, r->old, r->new);
	if (!err)
		err = differ_report_build(&r->ctx, r->old, r->new, &r->rep);
	if (err < 0)
		fail_msg("%s %s: %d: %s", cc, tag, err, th_last_diag(&r->ctx));
}

static void finish(struct run *r)
{
	obj_free(r->old);
	obj_free(r->new);
	free(r->opath);
	free(r->npath);
	hp_ctx_fini(&r->ctx);
}

static const struct differ_entry *find(const struct differ_report *rep, const char *name)
{
	for (size_t i = 0; i < rep->nentries; i++)
		if (!strcmp(rep->entries[i].name, name))
			return &rep->entries[i];
	fail_msg("no entry '%s' in the report", name);
	return NULL;
}

/* The report printed by print(), as a NUL-terminated malloc'd string. */
static char *render(const struct differ_report *rep,
		    void (*print)(FILE *, const struct differ_report *, bool), bool all)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	print(f, rep, all);
	assert_int_equal(fflush(f), 0);
	long n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void json_adapter(FILE *f, const struct differ_report *rep, bool all)
{
	(void)all;
	differ_report_json(f, rep);
}

static void expect_in(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("output does not contain '%s':\n%s", want, text);
}

/* ----- tests ---------------------------------------------------------- */

static void check_counts_and_order(const char *cc)
{
	struct run r;
	run(&r, cc, FLAGS, "order", old_src, new_src);
	const struct differ_report *rep = &r.rep;
	assert_string_equal(rep->old_path, r.opath);
	assert_string_equal(rep->new_path, r.npath);

	assert_int_equal(rep->nfunc[OBJ_CHANGED], 1);
	assert_int_equal(rep->nfunc[OBJ_NEW], 1);
	assert_int_equal(rep->nfunc[OBJ_REMOVED], 1);
	assert_int_equal(rep->nfunc[OBJ_SAME], 2);
	assert_int_equal(rep->ndata[OBJ_CHANGED], 1);
	assert_int_equal(rep->ndata[OBJ_NEW], 1);
	assert_int_equal(rep->ndata[OBJ_REMOVED], 1);
	assert_int_equal(rep->ndata[OBJ_SAME], 1);
	assert_int_equal(rep->nentries, 9);

	/* Functions first, then data, each sorted by name. */
	static const char *order[] = {"a_same",	   "b_changed", "c_new",     "d_removed", "zz_same",
				      "w_removed", "x_new",	"y_changed", "z_same"};
	for (size_t i = 0; i < rep->nentries; i++) {
		const struct differ_entry *e = &rep->entries[i];
		if (strcmp(e->name, order[i]))
			fail_msg("%s: entry %zu is %s, want %s", cc, i, e->name, order[i]);
		assert_int_equal(e->kind, i < 5 ? DIFFER_FUNC : DIFFER_OBJECT);
	}

	const struct differ_entry *e = find(rep, "b_changed");
	assert_int_equal(e->status, OBJ_CHANGED);
	assert_non_null(e->why);
	assert_non_null(strstr(e->why, "bytes differ"));
	assert_ptr_equal(e->new, th_sym(r.new, "b_changed"));
	assert_ptr_equal(e->old, th_sym(r.old, "b_changed"));
	assert_null(e->old_name);

	e = find(rep, "c_new");
	assert_int_equal(e->status, OBJ_NEW);
	assert_null(e->old);
	assert_ptr_equal(e->new, th_sym(r.new, "c_new"));
	assert_null(e->why);

	e = find(rep, "d_removed");
	assert_int_equal(e->status, OBJ_REMOVED);
	assert_null(e->new);
	assert_ptr_equal(e->old, th_sym(r.old, "d_removed"));
	assert_null(e->why);

	e = find(rep, "w_removed");
	assert_int_equal(e->kind, DIFFER_OBJECT);
	assert_int_equal(e->status, OBJ_REMOVED);

	e = find(rep, "a_same");
	assert_int_equal(e->status, OBJ_SAME);
	assert_null(e->why);
	assert_non_null(e->old);
	assert_non_null(e->new);

	assert_true(differ_report_has_changes(rep));
	finish(&r);
}

static void test_differ_report__gcc_counts_and_order(void **state)
{
	(void)state;
	check_counts_and_order("gcc");
}

static void test_differ_report__clang_counts_and_order(void **state)
{
	(void)state;
	check_counts_and_order("clang");
}

static void test_differ_report__no_changes(void **state)
{
	(void)state;
	struct run r;
	run(&r, "gcc", FLAGS, "same", old_src, old_src);
	assert_false(differ_report_has_changes(&r.rep));
	assert_int_equal(r.rep.nfunc[OBJ_SAME], 4);
	assert_int_equal(r.rep.ndata[OBJ_SAME], 3);
	for (int st = OBJ_CHANGED; st <= OBJ_REMOVED; st++)
		assert_true(r.rep.nfunc[st] == 0 && r.rep.ndata[st] == 0);

	/* Any single non-SAME count is a change, data as well as functions. */
	struct differ_report fake = r.rep;
	fake.ndata[OBJ_REMOVED] = 1;
	assert_true(differ_report_has_changes(&fake));
	fake = r.rep;
	fake.nfunc[OBJ_NEW] = 1;
	assert_true(differ_report_has_changes(&fake));
	fake = r.rep;
	fake.nfunc[OBJ_SAME] = 100;
	assert_false(differ_report_has_changes(&fake));

	/* The text report lists nothing but the summary unless asked for all. */
	char *text = render(&r.rep, differ_report_text, false);
	assert_string_equal(text, "summary: functions 0 changed, 0 new, 0 removed, 4 same; "
				  "data 0 changed, 0 new, 0 removed, 3 same\n");
	free(text);
	finish(&r);
}

/* gcc renumbers get_b's static (count.0 -> count.1): the entry says what it was. */
static void test_differ_report__old_name_and_cold_part(void **state)
{
	(void)state;
	static const char o[] =
		"int get_a(void) { static int count; return ++count; }\n"
		"int get_b(void) { static int count = 5; count += 2; return count; }\n";
	static const char n[] =
		"extern void sink(int);\n"
		"__attribute__((cold, noinline)) void oops(int x) { sink(x); }\n"
		"int get_a(void) { static int count; return ++count; }\n"
		"int get_b(void) { static int count = 5; count += 2; return count; }\n"
		"int last(int x)\n"
		"{\n"
		"	static int count;\n"
		"	if (__builtin_expect(x, 0)) {\n"
		"		oops(x);\n"
		"		sink(x * 2);\n"
		"	}\n"
		"	return count++;\n"
		"}\n";
	struct run r;
	run(&r, "gcc", FLAGS, "rename", o, n);
	const struct differ_entry *e = find(&r.rep, "count.1");
	assert_int_equal(e->status, OBJ_SAME);
	assert_non_null(e->old_name);
	assert_string_equal(e->old_name, "count.0");
	e = find(&r.rep, "last.cold");
	assert_int_equal(e->kind, DIFFER_FUNC);
	assert_int_equal(e->status, OBJ_NEW);
	assert_non_null(e->part_of);
	assert_string_equal(e->part_of, "last");

	char *json = render(&r.rep, json_adapter, true);
	expect_in(json, "\"name\": \"count.1\", \"old_name\": \"count.0\"");
	expect_in(json, "\"part_of\": \"last\"");
	free(json);
	char *text = render(&r.rep, differ_report_text, true);
	expect_in(text, "was count.0");
	expect_in(text, "cold part of last");
	free(text);
	finish(&r);
}

static void test_differ_report__json(void **state)
{
	(void)state;
	struct run r;
	run(&r, "gcc", FLAGS, "json", old_src, new_src);
	char *json = render(&r.rep, json_adapter, true);
	expect_in(json, "\"format\": \"hpdiff-report\"");
	expect_in(json, "\"version\": 1");
	expect_in(json, "\"summary\": {\"functions\": {\"changed\": 1, \"new\": 1, \"removed\": 1, "
			"\"same\": 2}, \"line_only\": 0, \"data\": {\"changed\": 1, \"new\": 1, "
			"\"removed\": 1, \"same\": 1}}");
	expect_in(json, "{\"kind\": \"func\", \"status\": \"CHANGED\", \"name\": \"b_changed\", "
			"\"old\": {\"section\": \".text.b_changed\", \"offset\": 0");
	expect_in(json, "\"binding\": \"global\"}, \"why\": \"bytes differ at +0x");
	expect_in(json, "{\"kind\": \"func\", \"status\": \"NEW\", \"name\": \"c_new\", "
			"\"new\": {\"section\": \".text.c_new\"");
	expect_in(json, "{\"kind\": \"func\", \"status\": \"REMOVED\", \"name\": \"d_removed\", "
			"\"old\": {\"section\": \".text.d_removed\"");
	expect_in(json, "{\"kind\": \"object\", \"status\": \"CHANGED\", \"name\": \"y_changed\"");
	expect_in(json, "\"section\": \".data.y_changed\"");
	/* A REMOVED entry has no "new", a NEW one no "old". */
	const char *rm = strstr(json, "\"name\": \"d_removed\"");
	assert_non_null(rm);
	const char *eol = strchr(rm, '\n');
	assert_non_null(eol);
	assert_null(memmem(rm, (size_t)(eol - rm), "\"new\":", 6));
	/* Entries come in report order: a_same before zz_same before w_removed. */
	const char *a = strstr(json, "\"a_same\""), *zz = strstr(json, "\"zz_same\"");
	const char *w = strstr(json, "\"w_removed\"");
	assert_true(a && zz && w && a < zz && zz < w);
	/* Each path is there, as a JSON string. */
	expect_in(json, r.opath);
	expect_in(json, r.npath);
	free(json);
	finish(&r);
}

/*
 * clang writes symbol names as they are, so a name with a quote, a backslash,
 * a tab and a byte that is not UTF-8 reaches the report. (gcc's assembler
 * refuses such a name.)
 */
static const char weird_old[] = "int f(void) __asm__(\"we\\\"ird\\\\na\\tme\\xff\");\n"
				"int f(void) { return 1; }\n"
				"int g(int x) { return x * 3; }\n";
static const char weird_new[] = "int f(void) __asm__(\"we\\\"ird\\\\na\\tme\\xff\");\n"
				"int f(void) { return 2; }\n"
				"int g(int x) { return x * 3; }\n";

static void test_differ_report__json_escaping(void **state)
{
	(void)state;
	struct run r;
	run(&r, "clang", FLAGS, "weird", weird_old, weird_new);
	const struct differ_entry *e = find(&r.rep, "we\"ird\\na\tme\xff");
	assert_int_equal(e->status, OBJ_CHANGED);
	assert_int_equal(find(&r.rep, "g")->status, OBJ_SAME);
	char *json = render(&r.rep, json_adapter, true);
	expect_in(json, "\"name\": \"we\\\"ird\\\\na\\tme\\u00ff\"");
	expect_in(json, "\"section\": \".text.we\\\"ird\\\\na\\tme\\u00ff\"");
	/* Nothing raw: no tab, no 0xff byte anywhere in the output. */
	assert_null(strchr(json, '\t'));
	assert_null(strchr(json, '\xff'));
	/* And the whole is valid JSON that names the function exactly. */
	char *path = th_write_file("weird.json", json, strlen(json));
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
		 "n=[e[\"name\"] for e in d[\"entries\"]]; "
		 "sys.exit(0 if \"we\\\"ird\\\\na\\tme\\xff\" in n else 1)' '%s'",
		 path);
	if (system(cmd) != 0)
		fail_msg("python3 rejects the JSON or its names:\n%s", json);
	free(path);
	free(json);
	finish(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differ_report__gcc_counts_and_order),
		cmocka_unit_test(test_differ_report__clang_counts_and_order),
		cmocka_unit_test(test_differ_report__no_changes),
		cmocka_unit_test(test_differ_report__old_name_and_cold_part),
		cmocka_unit_test(test_differ_report__json),
		cmocka_unit_test(test_differ_report__json_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
