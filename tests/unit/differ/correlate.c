/*
 * Unit tests for differ/correlate.c: the canonical names of compiler-numbered
 * locals, and twins set on real gcc and clang objects whose numbering shifted.
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

#define FLAGS "-O2 -g -ffunction-sections -fdata-sections"

/* ----- differ_canonical_name ------------------------------------------ */

static void expect_canon(struct hp_ctx *ctx, const char *name, const char *want)
{
	const char *got = differ_canonical_name(ctx, name);
	assert_non_null(got);
	if (strcmp(got, want))
		fail_msg("differ_canonical_name(\"%s\") = \"%s\", want \"%s\"", name, got, want);
}

static void test_differ_correlate__canonical_name(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	expect_canon(&ctx, "count.3", "count");
	expect_canon(&ctx, "count.0", "count");
	expect_canon(&ctx, "f.constprop.0", "f.constprop");
	expect_canon(&ctx, "f.isra.12", "f.isra");
	expect_canon(&ctx, "f.part.1.cold", "f.part.cold");
	expect_canon(&ctx, "f.constprop.0.isra.0", "f.constprop.isra");
	expect_canon(&ctx, "f.llvm.123", "f");
	expect_canon(&ctx, "f.llvm.8812", "f");
	expect_canon(&ctx, "foo.cold", "foo.cold");
	expect_canon(&ctx, "get_a.count", "get_a.count"); /* clang's statics */
	hp_ctx_fini(&ctx);
}

/* Nothing to strip: the very same pointer comes back, no copy. */
static void test_differ_correlate__canonical_name_unchanged(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	static const char *same[] = {"plain",  ".LC0", ".L.str.1", "get_a.count",
				     "f.cold", "x.",   ""};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++)
		if (differ_canonical_name(&ctx, same[i]) != same[i])
			fail_msg("differ_canonical_name(\"%s\") is not the name itself", same[i]);
	/* A stripped name is a copy: the input is left alone. */
	char name[] = "count.7";
	const char *c = differ_canonical_name(&ctx, name);
	assert_ptr_not_equal(c, name);
	assert_string_equal(name, "count.7");
	hp_ctx_fini(&ctx);
}

/* ----- differ_correlate on real objects ------------------------------- */

struct pair {
	struct hp_ctx ctx;
	char *opath, *npath;
	struct obj *old, *new;
};

static void load_pair(struct pair *p, const char *cc, const char *flags, const char *name,
		      const char *old_src, const char *new_src)
{
	char oname[64], nname[64];
	snprintf(oname, sizeof oname, "%s-old", name);
	snprintf(nname, sizeof nname, "%s-new", name);
	hp_ctx_init(&p->ctx, "test");
	p->opath = th_compile(cc, flags, oname, old_src);
	p->npath = th_compile(cc, flags, nname, new_src);
	p->old = th_read_obj(&p->ctx, p->opath);
	p->new = th_read_obj(&p->ctx, p->npath);
	int err = differ_correlate(&p->ctx, p->old, p->new);
	if (err < 0)
		fail_msg("differ_correlate: %d: %s", err, th_last_diag(&p->ctx));
}

static void free_pair(struct pair *p)
{
	obj_free(p->old);
	obj_free(p->new);
	free(p->opath);
	free(p->npath);
	hp_ctx_fini(&p->ctx);
}

/*
 * The one defined function or object, other than func itself, that func's code
 * refers to (through section symbols or not). Fails when there are several.
 */
static struct obj_sym *referent(struct hp_ctx *ctx, const struct obj *obj,
				const struct obj_sym *func)
{
	const struct obj_sec *sec = func->sec;
	const struct obj_sym *found = NULL;
	for (size_t i = 0; i < sec->nrels; i++) {
		struct differ_ref ref;
		assert_int_equal(differ_resolve(ctx, obj, sec, &sec->rels[i], &ref), 0);
		if (ref.kind != DIFFER_REF_SYM || ref.sym == func || !ref.sym->sec)
			continue;
		if (found && found != ref.sym)
			fail_msg("%s refers to both %s and %s", func->name, found->name,
				 ref.sym->name);
		found = ref.sym;
	}
	if (!found)
		fail_msg("%s refers to no defined symbol", func->name);
	return (struct obj_sym *)found;
}

static void expect_twins(const struct obj_sym *o, const struct obj_sym *n)
{
	if (n->twin != o || o->twin != n)
		fail_msg("%s (new) and %s (old) are not twins: new's twin is %s", n->name, o->name,
			 n->twin ? n->twin->name : "none");
}

static const char globals_old[] = "int total = 3;\n"
				  "int counter;\n"
				  "extern int ext(int);\n"
				  "int add(int x) { return x + total + ext(x); }\n"
				  "int bump(void) { return ++counter; }\n";

/* The new build moves things around and adds a global in front. */
static const char globals_new[] = "int before = 1;\n"
				  "int other(int x) { return x * before; }\n"
				  "int counter;\n"
				  "int total = 3;\n"
				  "extern int ext(int);\n"
				  "int bump(void) { return ++counter; }\n"
				  "int add(int x) { return x + total + ext(x); }\n";

static void check_globals(const char *cc)
{
	struct pair p;
	load_pair(&p, cc, FLAGS, cc, globals_old, globals_new);
	static const char *names[] = {"total", "counter", "add", "bump", "ext"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		struct obj_sym *o = th_sym(p.old, names[i]), *n = th_sym(p.new, names[i]);
		assert_int_not_equal(n->bind, STB_LOCAL);
		expect_twins(o, n);
		if (n->sec) {
			/* .text.add goes with .text.add, and so do the section symbols. */
			assert_ptr_equal(n->sec->twin, o->sec);
			assert_ptr_equal(o->sec->twin, n->sec);
			if (n->sec->secsym && o->sec->secsym)
				assert_ptr_equal(n->sec->secsym->twin, o->sec->secsym);
		}
	}
	/* Different symbol indexes, same pairs: pairing is by name, not position. */
	assert_int_not_equal(th_sym(p.old, "add")->index, th_sym(p.new, "add")->index);
	assert_null(th_sym(p.new, "before")->twin);
	assert_null(th_sym(p.new, "other")->twin);
	assert_null(th_sym(p.new, "other")->sec->twin);
	free_pair(&p);
}

static void test_differ_correlate__gcc_globals(void **state)
{
	(void)state;
	check_globals("gcc");
}

static void test_differ_correlate__clang_globals(void **state)
{
	(void)state;
	check_globals("clang");
}

/*
 * gcc numbers function-scope statics: old has get_b's count.0 and get_a's
 * count.1. gcc 12 counts from the end of the file, so the static new adds in
 * last(), after both, is count.0 and renumbers the others: get_b's becomes
 * count.1 and get_a's count.2. (A static added before them renumbers nothing.)
 */
static const char statics_old[] =
	"int get_a(void) { static int count; return ++count; }\n"
	"int get_b(void) { static int count = 5; count += 2; return count; }\n";
static const char statics_new[] =
	"int get_a(void) { static int count; return ++count; }\n"
	"int get_b(void) { static int count = 5; count += 2; return count; }\n"
	"int last(void) { static int count = 9; return count--; }\n";
static const char statics_before[] =
	"int first(void) { static int count = 9; return count--; }\n"
	"int get_a(void) { static int count; return ++count; }\n"
	"int get_b(void) { static int count = 5; count += 2; return count; }\n";

/* added names the function of new_src whose static is new. */
static void check_statics(const char *cc, const char *new_src, const char *added)
{
	struct pair p;
	char name[32];
	snprintf(name, sizeof name, "%s-statics-%s", cc, added);
	load_pair(&p, cc, FLAGS, name, statics_old, new_src);
	bool renumbered = !strcmp(cc, "gcc") && new_src == statics_new;
	static const char *funcs[] = {"get_a", "get_b"};
	for (size_t i = 0; i < 2; i++) {
		struct obj_sym *of = th_sym(p.old, funcs[i]), *nf = th_sym(p.new, funcs[i]);
		struct obj_sym *ov = referent(&p.ctx, p.old, of);
		struct obj_sym *nv = referent(&p.ctx, p.new, nf);
		assert_true(obj_sym_is_data(ov) && obj_sym_is_data(nv));
		assert_int_equal(nv->bind, STB_LOCAL);
		expect_twins(ov, nv);
		assert_ptr_equal(nv->sec->twin, ov->sec);
		expect_twins(of, nf);
		if (renumbered) {
			/* The renumbering the pairing had to see through. */
			assert_string_not_equal(ov->name, nv->name);
			assert_string_equal(ov->name, i == 0 ? "count.1" : "count.0");
			assert_string_equal(nv->name, i == 0 ? "count.2" : "count.1");
		}
	}
	/* The added static is new: nothing in old is its twin, although old has a
	 * static of that name (gcc: count.0 or count.2 in old and new). */
	struct obj_sym *fv = referent(&p.ctx, p.new, th_sym(p.new, added));
	assert_null(fv->twin);
	assert_null(fv->sec->twin);
	if (renumbered)
		assert_string_equal(fv->name, "count.0");
	/* And no symbol of old is left pointing at it. */
	for (size_t i = 1; i < p.old->nsyms; i++)
		assert_ptr_not_equal(p.old->syms[i].twin, fv);
	free_pair(&p);
}

static void test_differ_correlate__gcc_static_renumbered(void **state)
{
	(void)state;
	check_statics("gcc", statics_new, "last");
}

static void test_differ_correlate__gcc_static_added_before(void **state)
{
	(void)state;
	check_statics("gcc", statics_before, "first");
}

static void test_differ_correlate__clang_statics(void **state)
{
	(void)state;
	check_statics("clang", statics_new, "last");
	check_statics("clang", statics_before, "first");
}

/*
 * scale is cloned for k = 3 (use1). New adds a caller with k = 5 after use1;
 * gcc then names use1's clone scale.constprop.1 and use0's scale.constprop.0.
 * -fipa-cp-clone (on at -O3) lets gcc clone for callers that disagree.
 */
#define SCALE                                                                                      \
	"static __attribute__((noinline)) int scale(int x, int k)\n"                               \
	"{\n"                                                                                      \
	"	for (int i = 0; i < k; i++)\n"                                                           \
	"		x = x * k + (x >> i);\n"                                                                \
	"	return x;\n"                                                                             \
	"}\n"
static const char clone_old[] = SCALE "int use1(int x) { return scale(x, 3) + scale(x + 1, 3); }\n";
static const char clone_new[] = SCALE "int use1(int x) { return scale(x, 3) + scale(x + 1, 3); }\n"
				      "int use0(int x) { return scale(x, 5) + scale(x + 2, 5); }\n";

static void test_differ_correlate__gcc_constprop_renumbered(void **state)
{
	(void)state;
	struct pair p;
	load_pair(&p, "gcc", FLAGS " -fipa-cp-clone", "constprop", clone_old, clone_new);
	struct obj_sym *oc = referent(&p.ctx, p.old, th_sym(p.old, "use1"));
	struct obj_sym *nc1 = referent(&p.ctx, p.new, th_sym(p.new, "use1"));
	struct obj_sym *nc0 = referent(&p.ctx, p.new, th_sym(p.new, "use0"));
	assert_string_equal(oc->name, "scale.constprop.0");
	assert_string_equal(nc1->name, "scale.constprop.1");
	assert_string_equal(nc0->name, "scale.constprop.0");
	assert_true(obj_sym_is_func(nc1) && nc1->bind == STB_LOCAL);
	/* Same name, wrong clone: the exact name must not win. */
	expect_twins(oc, nc1);
	assert_null(nc0->twin);
	assert_ptr_equal(nc1->sec->twin, oc->sec);
	assert_null(nc0->sec->twin);
	free_pair(&p);
}

/*
 * A numbered local is never paired by its exact name (the number may now be
 * another's); with one clone on each side it pairs by the name without it.
 */
static void test_differ_correlate__gcc_constprop_unique(void **state)
{
	(void)state;
	static const char o[] = SCALE "int use1(int x) { return scale(x, 3) + scale(x + 1, 3); }\n";
	static const char n[] =
		SCALE "int use1(int x) { return scale(x, 3) + scale(x + 1, 3) + 1; }\n";
	struct pair p;
	load_pair(&p, "gcc", FLAGS, "constprop1", o, n);
	struct obj_sym *oc = th_sym(p.old, "scale.constprop.0");
	struct obj_sym *nc = th_sym(p.new, "scale.constprop.0");
	expect_twins(oc, nc);
	expect_twins(th_sym(p.old, "use1"), th_sym(p.new, "use1"));
	free_pair(&p);
}

static const char newfunc_old[] = "int keep(int x) { return x + 1; }\n"
				  "int gone(int x) { return x - 1; }\n";
static const char newfunc_new[] = "int keep(int x) { return x + 1; }\n"
				  "int fresh(int x) { return x * 2; }\n"
				  "static int fresh_static(int x) { return x * 3; }\n"
				  "int (*use_static)(int) = fresh_static;\n";

static void check_new_function(const char *cc)
{
	struct pair p;
	char name[32];
	snprintf(name, sizeof name, "%s-newfn", cc);
	load_pair(&p, cc, FLAGS, name, newfunc_old, newfunc_new);
	expect_twins(th_sym(p.old, "keep"), th_sym(p.new, "keep"));
	static const char *fresh[] = {"fresh", "fresh_static", "use_static"};
	for (size_t i = 0; i < 3; i++) {
		struct obj_sym *s = th_sym(p.new, fresh[i]);
		if (s->twin)
			fail_msg("%s: new %s has twin %s", cc, s->name, s->twin->name);
		assert_null(s->sec->twin);
	}
	struct obj_sym *gone = th_sym(p.old, "gone");
	assert_null(gone->twin);
	assert_null(gone->sec->twin);
	free_pair(&p);
}

static void test_differ_correlate__gcc_new_function(void **state)
{
	(void)state;
	check_new_function("gcc");
}

static void test_differ_correlate__clang_new_function(void **state)
{
	(void)state;
	check_new_function("clang");
}

/* ----- regressions: bugs these tests found, now fixed --------------------- */

/*
 * Was a bug: a static that moves from one function to another is paired with the
 * one it replaced. Old get_a holds "static int count" and get_b none; new get_a
 * holds none and get_b one. gcc names both count.0: step 1 skips numbered
 * locals, and step 2 pairs them because each side has exactly one "count",
 * without looking at who refers to them. hpdiff says "SAME object count.0", and
 * a patch would give get_b the live counter get_a incremented. clang names them
 * get_a.count and get_b.count and reports NEW and REMOVED, as it should.
 * correlate.c's own definition: a twin is "the same thing in the other build".
 */
static void test_differ_correlate__gcc_static_moved(void **state)
{
	(void)state;
	static const char o[] = "int get_a(void) { static int count; return ++count; }\n"
				"int get_b(void) { return 7; }\n";
	static const char n[] = "int get_a(void) { return 1; }\n"
				"int get_b(void) { static int count; return ++count; }\n";
	struct pair p;
	load_pair(&p, "gcc", FLAGS, "moved", o, n);
	struct obj_sym *ov = referent(&p.ctx, p.old, th_sym(p.old, "get_a"));
	struct obj_sym *nv = referent(&p.ctx, p.new, th_sym(p.new, "get_b"));
	assert_string_equal(ov->name, "count.0");
	assert_string_equal(nv->name, "count.0");
	if (nv->twin)
		fail_msg("get_b's new static %s is paired with get_a's old %s", nv->name,
			 nv->twin->name);
	assert_null(ov->twin);
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differ_correlate__canonical_name),
		cmocka_unit_test(test_differ_correlate__canonical_name_unchanged),
		cmocka_unit_test(test_differ_correlate__gcc_globals),
		cmocka_unit_test(test_differ_correlate__clang_globals),
		cmocka_unit_test(test_differ_correlate__gcc_static_renumbered),
		cmocka_unit_test(test_differ_correlate__gcc_static_added_before),
		cmocka_unit_test(test_differ_correlate__clang_statics),
		cmocka_unit_test(test_differ_correlate__gcc_constprop_renumbered),
		cmocka_unit_test(test_differ_correlate__gcc_constprop_unique),
		cmocka_unit_test(test_differ_correlate__gcc_new_function),
		cmocka_unit_test(test_differ_correlate__clang_new_function),
		cmocka_unit_test(test_differ_correlate__gcc_static_moved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
