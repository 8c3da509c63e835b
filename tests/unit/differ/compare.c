/*
 * Unit tests for differ/compare.c: SAME, CHANGED, NEW and REMOVED on real gcc
 * and clang objects at -O0 and -O2, each pair built from one base source and a
 * variant of it that changes one thing.
 */
#include <elf.h>
#include <stdlib.h>
#include <time.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

/*
 * mask's xor constant keeps its encoding when changed. "beta" is used by both
 * say_a and say_b: gcc -O2 keeps it in say_a's .rodata.say_a.str1.1, clang in
 * the shared .rodata.str1.1 and gcc -O0 in .rodata, so a string added to say_a
 * moves it in every build. sw1 and sw2 are dense switches, compiled to jump
 * tables (.rodata.sw1, .rodata.sw2) by both compilers at both levels.
 */
static const char base_src[] =
	"extern int puts(const char *);\n"
	"extern void s0(void), s1(void), s2(void), s3(void), s4(void), s5(void);\n"
	"int table[4] = { 1, 2, 3, 4 };\n"
	"static int hits;\n"
	"int old_var = 7;\n"
	"int mask(int x) { hits++; return (x ^ 0x1234) + table[x & 3]; }\n"
	"const char *greet(void) { return \"hello\"; }\n"
	"void say_a(void) { puts(\"alpha\"); puts(\"beta\"); }\n"
	"void say_b(void) { puts(\"beta\"); puts(\"gamma\"); }\n"
	"void sw1(int x)\n"
	"{\n"
	"	switch (x) {\n"
	"	case 0: s0(); break;\n"
	"	case 1: s1(); s2(); break;\n"
	"	case 2: s2(); break;\n"
	"	case 3: s3(); s0(); break;\n"
	"	case 4: s4(); break;\n"
	"	case 5: s5(); s1(); break;\n"
	"	}\n"
	"}\n"
	"void sw2(int x)\n"
	"{\n"
	"	switch (x) {\n"
	"	case 10: s5(); break;\n"
	"	case 11: s4(); s0(); break;\n"
	"	case 12: s3(); break;\n"
	"	case 13: s2(); s1(); break;\n"
	"	case 14: s1(); break;\n"
	"	case 15: s0(); s3(); break;\n"
	"	}\n"
	"}\n"
	"void relay(void) { s1(); }\n"
	"int old_only(int x) { return x - 1; }\n";

/* src with the one occurrence of from replaced by to (malloc). */
static char *replace(const char *src, const char *from, const char *to)
{
	const char *at = strstr(src, from);
	if (!at || strstr(at + 1, from))
		fail_msg("'%s' is not in the source exactly once", from);
	size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
	return s;
}

static char *variant(const char *from, const char *to)
{
	return replace(base_src, from, to);
}

struct build {
	const char *cc, *opt;
};
static const struct build builds[] = {
	{"gcc", "-O0"},
	{"gcc", "-O2"},
	{"clang", "-O0"},
	{"clang", "-O2"},
};
#define NBUILDS (sizeof builds / sizeof *builds)

struct pair {
	struct hp_ctx ctx;
	char *opath, *npath;
	struct obj *old, *new;
	const struct build *b;
};

/* Compile old_src and new_src with b, read both, correlate and compare. */
static void run_sources(struct pair *p, const struct build *b, const char *tag, const char *old_src,
			const char *new_src)
{
	char flags[128], oname[64], nname[64];
	snprintf(flags, sizeof flags, "%s -g -ffunction-sections -fdata-sections", b->opt);
	snprintf(oname, sizeof oname, "%s%s-%s-old", b->cc, b->opt, tag);
	snprintf(nname, sizeof nname, "%s%s-%s-new", b->cc, b->opt, tag);
	hp_ctx_init(&p->ctx, "test");
	p->b = b;
	p->opath = th_compile(b->cc, flags, oname, old_src);
	p->npath = th_compile(b->cc, flags, nname, new_src);
	p->old = th_read_obj(&p->ctx, p->opath);
	p->new = th_read_obj(&p->ctx, p->npath);
	assert_int_equal(differ_recover(&p->ctx, p->old), 0);
	assert_int_equal(differ_recover(&p->ctx, p->new), 0);
	int err = differ_correlate(&p->ctx, p->old, p->new);
	if (err == 0)
		err = differ_compare(&p->ctx, p->old, p->new);
	if (err < 0)
		fail_msg("%s %s %s: %d: %s", b->cc, b->opt, tag, err, th_last_diag(&p->ctx));
	assert_int_equal(p->ctx.ndiags, 0);
}

static void run_pair(struct pair *p, const struct build *b, const char *tag, const char *new_src)
{
	run_sources(p, b, tag, base_src, new_src);
}

static void free_pair(struct pair *p)
{
	obj_free(p->old);
	obj_free(p->new);
	free(p->opath);
	free(p->npath);
	hp_ctx_fini(&p->ctx);
}

/* The defined function or object called name. */
static struct obj_sym *entity(const struct obj *obj, const char *name)
{
	for (struct obj_sym *s = th_sym(obj, name); s; s = s->next_same_name)
		if (obj_sym_is_func(s) || obj_sym_is_data(s))
			return s;
	fail_msg("%s: no function or object '%s'", obj->path, name);
	return NULL;
}

static void expect_status(const struct pair *p, const char *name, enum obj_status want)
{
	const struct obj_sym *s = entity(p->new, name);
	if (s->status != want)
		fail_msg("%s %s: %s is %s, want %s (%s)", p->b->cc, p->b->opt, name,
			 obj_status_name(s->status), obj_status_name(want), s->why ? s->why : "");
	if (want == OBJ_SAME)
		assert_null(s->why);
	if (want == OBJ_CHANGED)
		assert_non_null(s->why);
	/* The old twin carries the same verdict. */
	if (want == OBJ_SAME || want == OBJ_CHANGED) {
		assert_non_null(s->twin);
		assert_int_equal(s->twin->status, want);
	}
}

/* name is CHANGED, and why contains each of the NULL-terminated words. */
static void expect_changed(const struct pair *p, const char *name, ...)
{
	expect_status(p, name, OBJ_CHANGED);
	const char *why = entity(p->new, name)->why;
	va_list ap;
	va_start(ap, name);
	for (const char *w; (w = va_arg(ap, const char *));)
		if (!strstr(why, w))
			fail_msg("%s %s: %s: why '%s' does not mention '%s'", p->b->cc, p->b->opt,
				 name, why, w);
	va_end(ap);
}

/* Every function and object except those listed (NULL-terminated) is SAME. */
static void expect_rest_same(const struct pair *p, ...)
{
	for (size_t i = 1; i < p->new->nsyms; i++) {
		const struct obj_sym *s = &p->new->syms[i];
		if (!obj_sym_is_func(s) && !obj_sym_is_data(s))
			continue;
		bool listed = false;
		va_list ap;
		va_start(ap, p);
		for (const char *w; (w = va_arg(ap, const char *));)
			listed |= !strcmp(w, s->name);
		va_end(ap);
		if (!listed && s->status != OBJ_SAME)
			fail_msg("%s %s: %s is %s (%s), want SAME", p->b->cc, p->b->opt, s->name,
				 obj_status_name(s->status), s->why ? s->why : "");
	}
}

/* ----- tests ---------------------------------------------------------- */

static void test_differ_compare__identical(void **state)
{
	(void)state;
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "same", base_src);
		size_t n = 0;
		for (size_t i = 1; i < p.new->nsyms; i++) {
			const struct obj_sym *s = &p.new->syms[i];
			if (!obj_sym_is_func(s) && !obj_sym_is_data(s))
				continue;
			n++;
			expect_status(&p, s->name, OBJ_SAME);
		}
		for (size_t i = 1; i < p.old->nsyms; i++) {
			const struct obj_sym *s = &p.old->syms[i];
			if (obj_sym_is_func(s) || obj_sym_is_data(s))
				assert_int_equal(s->status, OBJ_SAME);
		}
		/* mask greet say_a say_b sw1 sw2 relay old_only table hits old_var, at least. */
		assert_true(n >= 11);
		free_pair(&p);
	}
}

static void test_differ_compare__changed_constant(void **state)
{
	(void)state;
	char *src = variant("x ^ 0x1234", "x ^ 0x4321");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "const", src);
		/* Same size: the first difference is in the bytes, not the size. */
		assert_int_equal(entity(p.old, "mask")->size, entity(p.new, "mask")->size);
		expect_changed(&p, "mask", "bytes differ", NULL);
		expect_rest_same(&p, "mask", NULL);
		free_pair(&p);
	}
	free(src);
}

static void test_differ_compare__changed_string(void **state)
{
	(void)state;
	char *src = variant("\"hello\"", "\"hullo\"");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "str", src);
		expect_changed(&p, "greet", "\"hello\"", "\"hullo\"", NULL);
		expect_rest_same(&p, "greet", NULL);
		free_pair(&p);
	}
	free(src);
}

/* The same call instruction to another function: only the relocation differs. */
static void test_differ_compare__call_target_changed(void **state)
{
	(void)state;
	char *src = variant("relay(void) { s1(); }", "relay(void) { s2(); }");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "call", src);
		const struct obj_sym *o = entity(p.old, "relay"), *n = entity(p.new, "relay");
		assert_int_equal(o->size, n->size);
		assert_memory_equal(obj_sym_bytes(o), obj_sym_bytes(n), o->size);
		expect_changed(&p, "relay", "reference", "s1", "s2", NULL);
		expect_rest_same(&p, "relay", NULL);
		free_pair(&p);
	}
	free(src);
}

/* Where the first string say_b refers to lies (section and piece start). */
static void first_string(struct hp_ctx *ctx, const struct obj *obj, struct differ_ref *out)
{
	const struct obj_sec *sec = entity(obj, "say_b")->sec;
	for (size_t i = 0; i < sec->nrels; i++) {
		assert_int_equal(differ_resolve(ctx, obj, sec, &sec->rels[i], out), 0);
		if (out->kind == DIFFER_REF_PIECE)
			return;
	}
	fail_msg("%s: say_b refers to no string", obj->path);
}

/* A string added to say_a moves "beta", which say_b uses too: say_b stays SAME. */
static void test_differ_compare__shifted_strings(void **state)
{
	(void)state;
	char *src = variant("{ puts(\"alpha\");", "{ puts(\"zeroth\"); puts(\"alpha\");");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "shift", src);
		struct differ_ref o, n;
		first_string(&p.ctx, p.old, &o);
		first_string(&p.ctx, p.new, &n);
		assert_int_equal(o.len, 5);
		assert_memory_equal(o.sec->data + o.start, "beta", 5);
		assert_memory_equal(n.sec->data + n.start, "beta", 5);
		/* The point of the test: the string really moved. */
		if (o.start == n.start)
			fail_msg("%s %s: \"beta\" did not move (%llu)", p.b->cc, p.b->opt,
				 (unsigned long long)o.start);
		expect_status(&p, "say_b", OBJ_SAME);
		expect_changed(&p, "say_a", NULL);
		expect_rest_same(&p, "say_a", NULL);
		free_pair(&p);
	}
	free(src);
}

/* sw's code refers to a jump table: an anonymous piece of a non-string section. */
static bool has_jump_table(struct hp_ctx *ctx, const struct obj *obj, const char *sw)
{
	const struct obj_sec *sec = entity(obj, sw)->sec;
	for (size_t i = 0; i < sec->nrels; i++) {
		struct differ_ref r;
		assert_int_equal(differ_resolve(ctx, obj, sec, &sec->rels[i], &r), 0);
		if (r.kind == DIFFER_REF_PIECE && !obj_sec_is_strings(r.sec) && r.sec->nrels > 0)
			return true;
	}
	return false;
}

static void test_differ_compare__switch_case_changed(void **state)
{
	(void)state;
	char *src = variant("case 2: s2(); break;", "case 2: s2(); s3(); break;");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "sw", src);
		assert_true(has_jump_table(&p.ctx, p.old, "sw1"));
		assert_true(has_jump_table(&p.ctx, p.new, "sw2"));
		expect_changed(&p, "sw1", NULL);
		expect_status(&p, "sw2", OBJ_SAME);
		expect_rest_same(&p, "sw1", NULL);
		free_pair(&p);
	}
	free(src);
}

/*
 * Cases 1 and 2 swap bodies: the code is laid out as before and (at -O0, and
 * for clang at -O2) only the jump table's entries differ.
 */
static void test_differ_compare__switch_table_only(void **state)
{
	(void)state;
	char *src = variant("case 1: s1(); s2(); break;\n\tcase 2: s2(); break;",
			    "case 2: s1(); s2(); break;\n\tcase 1: s2(); break;");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "swap", src);
		expect_changed(&p, "sw1", NULL);
		const struct obj_sym *o = entity(p.old, "sw1"), *n = entity(p.new, "sw1");
		if (o->size == n->size && !memcmp(obj_sym_bytes(o), obj_sym_bytes(n), o->size)) {
			/* Only the table can tell, and it did. */
			expect_changed(&p, "sw1", "contents of .rodata", "differ", NULL);
		}
		expect_status(&p, "sw2", OBJ_SAME);
		expect_rest_same(&p, "sw1", NULL);
		free_pair(&p);
	}
	free(src);
}

static void test_differ_compare__data_changed(void **state)
{
	(void)state;
	char *src = variant("{ 1, 2, 3, 4 }", "{ 1, 2, 3, 5 }");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "data", src);
		expect_changed(&p, "table", "bytes differ", NULL);
		/* mask refers to table by twin symbol: its code did not change. */
		expect_status(&p, "mask", OBJ_SAME);
		expect_rest_same(&p, "table", NULL);
		free_pair(&p);
	}
	free(src);
}

/*
 * gcc -O2 moves foo's unlikely branch to foo.cold. A change there alone leaves
 * foo's own bytes equal; foo is CHANGED because of its cold part.
 */
static const char cold_src[] =
	"extern void sink(int);\n"
	"__attribute__((cold, noinline)) void oops(int x) { sink(x); sink(x + 7); }\n"
	"int foo(int x, int y)\n"
	"{\n"
	"	if (__builtin_expect(x, 0)) {\n"
	"		oops(y);\n"
	"		sink(y * 2);\n"
	"		return -1;\n"
	"	}\n"
	"	return y + 1;\n"
	"}\n";
static const char cold_src2[] =
	"extern void sink(int);\n"
	"__attribute__((cold, noinline)) void oops(int x) { sink(x); sink(x + 7); }\n"
	"int foo(int x, int y)\n"
	"{\n"
	"	if (__builtin_expect(x, 0)) {\n"
	"		oops(y);\n"
	"		sink(y * 3);\n"
	"		return -1;\n"
	"	}\n"
	"	return y + 1;\n"
	"}\n";

static void test_differ_compare__gcc_cold_part(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	const char *flags = "-O2 -g -ffunction-sections -fdata-sections";
	char *op = th_compile("gcc", flags, "cold-old", cold_src);
	char *np = th_compile("gcc", flags, "cold-new", cold_src2);
	struct obj *old = th_read_obj(&ctx, op), *new = th_read_obj(&ctx, np);
	assert_int_equal(differ_correlate(&ctx, old, new), 0);
	assert_int_equal(differ_compare(&ctx, old, new), 0);

	struct obj_sym *foo = th_sym(new, "foo"), *cold = th_sym(new, "foo.cold");
	assert_ptr_equal(cold->parent, foo);
	assert_ptr_equal(cold->twin, th_sym(old, "foo.cold"));
	assert_int_equal(cold->status, OBJ_CHANGED);
	assert_non_null(strstr(cold->why, "bytes differ"));
	/* foo's hot part is the same bytes... */
	assert_int_equal(foo->size, foo->twin->size);
	assert_memory_equal(obj_sym_bytes(foo), obj_sym_bytes(foo->twin), foo->size);
	/* ...but it is CHANGED, on both sides, because of its cold part. */
	assert_int_equal(foo->status, OBJ_CHANGED);
	assert_int_equal(foo->twin->status, OBJ_CHANGED);
	assert_non_null(foo->why);
	assert_non_null(strstr(foo->why, "foo.cold"));
	assert_int_equal(th_sym(new, "oops")->status, OBJ_SAME);

	obj_free(old);
	obj_free(new);
	free(op);
	free(np);
	hp_ctx_fini(&ctx);
}

static void test_differ_compare__new_and_removed(void **state)
{
	(void)state;
	char *src1 = variant("int old_only(int x) { return x - 1; }",
			     "int new_only(int x) { return x + 1; }");
	char *src = replace(src1, "int old_var = 7;", "int new_var = 7;");
	for (size_t b = 0; b < NBUILDS; b++) {
		struct pair p;
		run_pair(&p, &builds[b], "newrm", src);
		struct obj_sym *nf = entity(p.new, "new_only"), *nv = entity(p.new, "new_var");
		struct obj_sym *of = entity(p.old, "old_only"), *ov = entity(p.old, "old_var");
		assert_int_equal(nf->status, OBJ_NEW);
		assert_int_equal(nv->status, OBJ_NEW);
		assert_null(nf->why);
		assert_int_equal(of->status, OBJ_REMOVED);
		assert_int_equal(ov->status, OBJ_REMOVED);
		assert_null(obj_find_sym(p.new, "old_only"));
		expect_rest_same(&p, "new_only", "new_var", NULL);
		free_pair(&p);
	}
	free(src1);
	free(src);
}

/* ----- regressions: bugs these tests found, now fixed --------------------- */

/*
 * Was a bug: a changed vector constant goes unnoticed. mix's second shuffle reads
 * its constant with "shufps $0x4e, .LC1(%rip), %xmm1" (R_X86_64_PC32 .LC1-5:
 * an imm8 follows the displacement). differ_resolve() adds 4 for the field and
 * lands on .LC1-1, inside .LC0, so the compare checks .LC0 (unchanged) and calls
 * mix SAME. gcc and clang -O2 both emit this for _mm_shuffle_ps with a constant.
 * See test_differ_resolve__constant_before_immediate in resolve.c.
 */
static const char shuf_old[] =
	"#include <xmmintrin.h>\n"
	"__m128 mix(__m128 x, __m128 y)\n"
	"{\n"
	"	__m128 a = _mm_shuffle_ps(x, _mm_set_ps(1, 2, 3, 4), 0x1b);\n"
	"	__m128 b = _mm_shuffle_ps(y, _mm_set_ps(5, 6, 7, 8), 0x4e);\n"
	"	return _mm_add_ps(a, b);\n"
	"}\n";
static const char shuf_new[] =
	"#include <xmmintrin.h>\n"
	"__m128 mix(__m128 x, __m128 y)\n"
	"{\n"
	"	__m128 a = _mm_shuffle_ps(x, _mm_set_ps(1, 2, 3, 4), 0x1b);\n"
	"	__m128 b = _mm_shuffle_ps(y, _mm_set_ps(5, 6, 7, 9), 0x4e);\n"
	"	return _mm_add_ps(a, b);\n"
	"}\n";

static void test_differ_compare__vector_constant(void **state)
{
	(void)state;
	for (size_t b = 1; b < NBUILDS; b += 2) { /* gcc -O2, clang -O2 */
		struct pair p;
		run_sources(&p, &builds[b], "shuf", shuf_old, shuf_new);
		expect_changed(&p, "mix", NULL);
		free_pair(&p);
	}
}

/*
 * Was a bug: the why of a changed reference to an anonymous piece names S + A, not
 * the piece: "reference .rodata.sw1+0xfffffffffffffffc ->
 * .rodata.sw1+0xfffffffffffffffc" for the lea of a jump table at offset 0
 * (describe() prints start + off, and off is -4 for code). Both sides read the
 * same, so the report does not say what differs.
 */
static void test_differ_compare__piece_why(void **state)
{
	(void)state;
	char *src = variant("case 1: s1(); s2(); break;\n\tcase 2: s2(); break;",
			    "case 2: s1(); s2(); break;\n\tcase 1: s2(); break;");
	struct pair p;
	run_pair(&p, &builds[2], "swapwhy", src); /* clang -O0: only the table differs */
	const char *why = entity(p.new, "sw1")->why;
	assert_non_null(why);
	if (strstr(why, "0xffffffff"))
		fail_msg("why names a negative offset: %s", why);
	/* Either "contents of PIECE differ at +0x23", or "reference OLD -> NEW at
	 * +0x23" where OLD and NEW differ. */
	if (strstr(why, "contents of .rodata") == why && strstr(why, " differ at +")) {
		free_pair(&p);
		free(src);
		return;
	}
	const char *lhs = strstr(why, "reference "), *arrow = strstr(why, " -> ");
	const char *at = strstr(why, " at +");
	assert_true(lhs && arrow && at && lhs < arrow && arrow < at);
	lhs += strlen("reference ");
	size_t nl = (size_t)(arrow - lhs), nr = (size_t)(at - (arrow + 4));
	if (nl == nr && !memcmp(lhs, arrow + 4, nl))
		fail_msg("both sides of the why read the same: %s", why);
	free_pair(&p);
	free(src);
}

/* Assembly for an object whose function f references layer 0 of a web of
 * anonymous pieces: each of the k pieces of a layer points at all k of the
 * next. */
static char *piece_web(int k, int layers)
{
	char *src = malloc(1 << 20), *at = src;
	at += sprintf(at, "\t.section .text.f,\"ax\",@progbits\n\t.globl f\n\t.type f,@function\n"
			  "f:\n\tleaq .Lp0_0(%%rip), %%rax\n\tret\n\t.size f, .-f\n"
			  "\t.section .rodata.web,\"a\",@progbits\n\t.p2align 3\n");
	for (int l = 0; l < layers; l++)
		for (int i = 0; i < k; i++) {
			at += sprintf(at, ".Lp%d_%d:\n", l, i);
			for (int j = 0; j < k; j++) {
				if (l + 1 < layers)
					at += sprintf(at, "\t.quad .Lp%d_%d\n", l + 1, j);
				else
					at += sprintf(at, "\t.quad %d\n", j);
			}
		}
	return src;
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * 7 layers of 16 pieces, each pointing at all 16 of the next, all equal: the
 * depth limit alone allowed 16^7 comparisons (a minute and more); each pair
 * found equal is now remembered, and the pass takes milliseconds.
 */
static void test_differ_compare__piece_web_compared_once(void **state)
{
	(void)state;
	char *src = piece_web(16, 7);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	char *path = th_compile("gcc", "-x assembler", "web", src);
	struct obj *old = th_read_obj(&ctx, path), *new = th_read_obj(&ctx, path);
	double t0 = seconds();
	assert_int_equal(differ_correlate(&ctx, old, new), 0);
	assert_int_equal(differ_compare(&ctx, old, new), 0);
	double dt = seconds() - t0;
	if (dt > 2.0)
		fail_msg("comparing the web of pieces took %.2f s", dt);
	assert_int_equal(th_sym(new, "f")->status, OBJ_SAME);
	obj_free(old);
	obj_free(new);
	hp_ctx_fini(&ctx);
	free(path);
	free(src);
}

/* Functions f0..f(n-1), fj referencing table j, whose n entries point at n
 * equal pieces of 2 KiB, in an order rotated by j * rot. */
static char *rotated_tables(int n, int rot)
{
	char *src = malloc(4 << 20), *at = src;
	at += sprintf(at, "\t.section .rodata.pieces,\"a\",@progbits\n\t.p2align 3\n");
	for (int i = 0; i < n; i++)
		at += sprintf(at, ".Lp%d:\n\t.zero 2048\n", i);
	for (int j = 0; j < n; j++) {
		at += sprintf(at, "\t.section .text.f%d,\"ax\",@progbits\n\t.globl f%d\n"
				  "\t.type f%d,@function\nf%d:\n\tleaq .Lt%d(%%rip), %%rax\n\tret\n"
				  "\t.size f%d, .-f%d\n\t.section .rodata.t%d,\"a\",@progbits\n"
				  "\t.p2align 3\n.Lt%d:\n",
			      j, j, j, j, j, j, j, j, j);
		for (int i = 0; i < n; i++)
			at += sprintf(at, "\t.quad .Lp%d\n", (i + j * rot) % n);
	}
	return src;
}

/*
 * Remembering equal pairs does not help when every reference pairs different
 * pieces: 128 tables of 128 entries, rotated differently in the two builds,
 * make 16,384 distinct pairs of 2 KiB pieces. The pass's budget (16 times
 * the bytes of both objects) runs out first, and what was left is taken as
 * changed, never as equal.
 */
static void test_differ_compare__piece_budget(void **state)
{
	(void)state;
	enum { N = 128 };
	char *os = rotated_tables(N, 0), *ns = rotated_tables(N, 1);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	char *opath = th_compile("gcc", "-x assembler", "rot-old", os);
	char *npath = th_compile("gcc", "-x assembler", "rot-new", ns);
	struct obj *old = th_read_obj(&ctx, opath), *new = th_read_obj(&ctx, npath);
	double t0 = seconds();
	assert_int_equal(differ_correlate(&ctx, old, new), 0);
	assert_int_equal(differ_compare(&ctx, old, new), 0);
	double dt = seconds() - t0;
	if (dt > 2.0)
		fail_msg("comparing the rotated tables took %.2f s", dt);
	size_t same = 0, gave_up = 0;
	for (int j = 0; j < N; j++) {
		char name[16];
		snprintf(name, sizeof name, "f%d", j);
		const struct obj_sym *f = th_sym(new, name);
		if (f->status == OBJ_SAME)
			same++;
		else if (strstr(f->why, "point at pieces too often to compare; taken as changed"))
			gave_up++;
	}
	assert_true(same > 0 && gave_up > 0 && same + gave_up == N);
	obj_free(old);
	obj_free(new);
	hp_ctx_fini(&ctx);
	free(opath);
	free(npath);
	free(os);
	free(ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differ_compare__identical),
		cmocka_unit_test(test_differ_compare__changed_constant),
		cmocka_unit_test(test_differ_compare__changed_string),
		cmocka_unit_test(test_differ_compare__call_target_changed),
		cmocka_unit_test(test_differ_compare__shifted_strings),
		cmocka_unit_test(test_differ_compare__switch_case_changed),
		cmocka_unit_test(test_differ_compare__switch_table_only),
		cmocka_unit_test(test_differ_compare__data_changed),
		cmocka_unit_test(test_differ_compare__gcc_cold_part),
		cmocka_unit_test(test_differ_compare__new_and_removed),
		cmocka_unit_test(test_differ_compare__vector_constant),
		cmocka_unit_test(test_differ_compare__piece_web_compared_once),
		cmocka_unit_test(test_differ_compare__piece_budget),
		cmocka_unit_test(test_differ_compare__piece_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
