/*
 * Unit tests for differ/layout.c: each rule of the safety gate on real gcc and
 * clang objects at -O0 and -O2, built from a base source and a variant that
 * changes one thing; and the safe variants next to them, which must give no
 * finding at all.
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
	struct differ_findings f;
	int rc;
	const char *cc, *opt;
};

/* Build old and new with cc and opt (plus extra flags), run the passes up to the check. */
static void run_flags(struct pair *p, size_t config, const char *old_src, const char *new_src,
		      const char *extra, enum hp_level level)
{
	static unsigned seq;
	char flags[160], name[64];
	p->cc = configs[config][0];
	p->opt = configs[config][1];
	snprintf(flags, sizeof flags, "%s %s -ffunction-sections -fdata-sections", p->opt, extra);
	hp_ctx_init(&p->ctx, "test");
	snprintf(name, sizeof name, "lay-old-%u", seq);
	p->paths[0] = th_compile(p->cc, flags, name, old_src);
	snprintf(name, sizeof name, "lay-new-%u", seq++);
	p->paths[1] = th_compile(p->cc, flags, name, new_src);
	p->old = th_read_obj(&p->ctx, p->paths[0]);
	p->new = th_read_obj(&p->ctx, p->paths[1]);
	assert_int_equal(differ_correlate(&p->ctx, p->old, p->new), 0);
	assert_int_equal(differ_compare(&p->ctx, p->old, p->new), 0);
	p->rc = differ_check_layout(&p->ctx, p->old, p->new, level, &p->f);
}

static void run(struct pair *p, size_t config, const char *old_src, const char *new_src)
{
	run_flags(p, config, old_src, new_src, "-g", HP_LEVEL_WARNING);
}

static void done(struct pair *p)
{
	obj_free(p->old);
	obj_free(p->new);
	free(p->paths[0]);
	free(p->paths[1]);
	hp_ctx_fini(&p->ctx);
}

static void dump(const struct pair *p)
{
	for (size_t i = 0; i < p->ctx.ndiags; i++)
		fprintf(stderr, "  %s\n", p->ctx.diags[i].text);
}

/* src with the one occurrence of from replaced by to (malloc). */
static char *replace(const char *src, const char *from, const char *to)
{
	const char *at = strstr(src, from);
	if (!at || strstr(at + 1, from))
		fail_msg("'%s' is not in the source exactly once", from);
	size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
	return out;
}

/* The one finding of rule about symbol; fails if there is not exactly one. */
static const struct differ_finding *one(const struct pair *p, enum differ_rule rule,
					const char *symbol)
{
	const struct differ_finding *found = NULL;
	size_t n = 0;
	for (size_t i = 0; i < p->f.n; i++)
		if (p->f.v[i].rule == rule && p->f.v[i].symbol &&
		    !strcmp(p->f.v[i].symbol, symbol)) {
			found = &p->f.v[i];
			n++;
		}
	if (n != 1) {
		dump(p);
		fail_msg("%s %s: %zu findings of rule %s about %s", p->cc, p->opt, n,
			 differ_rule_name(rule), symbol);
	}
	return found;
}

static bool has_change(const struct differ_finding *f, const char *member, const char *what,
		       const char *old, const char *new)
{
	for (size_t i = 0; i < f->nchanges; i++) {
		const struct differ_change *c = &f->changes[i];
		if ((member ? c->member && !strcmp(c->member, member) : !c->member) &&
		    !strcmp(c->what, what) && (!old || (c->old && !strcmp(c->old, old))) &&
		    (!new || (c->new && !strcmp(c->new, new))))
			return true;
	}
	return false;
}

static void expect_change(const struct pair *p, const struct differ_finding *f,
			  const char *member, const char *what, const char *old, const char *new)
{
	if (!has_change(f, member, what, old, new)) {
		dump(p);
		fail_msg("%s %s: %s: no change %s %s %s -> %s in '%s'", p->cc, p->opt, f->symbol,
			 member ? member : "-", what, old ? old : "-", new ? new : "-", f->text);
	}
}

static void expect_none(const struct pair *p)
{
	if (p->f.n || p->rc) {
		dump(p);
		fail_msg("%s %s: %zu findings (rc %d), expected none", p->cc, p->opt, p->f.n, p->rc);
	}
}

/* ----- types used by changed code ----------------------------------------- */

static const char types_src[] =
	"struct conn {\n"
	"	int fd;\n"
	"	unsigned len;\n"
	"	unsigned flags : 4, state : 4;\n"
	"	struct { short lo, hi; } range;\n"
	"};\n"
	"typedef struct { int a; int b; } pair_t;\n"
	"enum mode { IDLE, BUSY, DONE };\n"
	"struct peer { struct conn *c; };\n"
	"int conn_send(struct conn *c, int n)\n"
	"{\n"
	"	if (n > 100) return -1;\n"
	"	c->len += (unsigned)n;\n"
	"	return c->state == 3 ? 0 : c->range.hi;\n"
	"}\n"
	"int pair_sum(pair_t *p) { return p->a * 2 - p->b; }\n"
	"enum mode next(enum mode m) { return m == IDLE ? BUSY : DONE; }\n"
	"int peer_fd(struct peer *p) { return p->c->fd + 1000; }\n"
	"int unrelated(int x) { return x * 7 + 1; }\n";

/*
 * Change the type (from -> to) and the body of fn (touch -> touched, so that fn is
 * CHANGED whatever the type change did to its code), then expect one finding.
 */
static void layout_case(const char *from, const char *to, const char *touch, const char *touched,
			const char *fn, const char *entity, const char *member, const char *what,
			const char *old, const char *new)
{
	char *a = replace(types_src, from, to);
	char *variant = replace(a, touch, touched);
	free(a);
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, types_src, variant);
		const struct differ_finding *f = one(&p, DIFFER_RULE_TYPE_LAYOUT, fn);
		assert_string_equal(f->entity, entity);
		assert_non_null(f->via);
		assert_non_null(f->decl_file);
		assert_true(f->decl_line > 0);
		expect_change(&p, f, member, what, old, new);
		assert_non_null(strstr(f->text, "objects of the running process keep the old layout"));
		assert_int_equal(p.rc, 0); /* warnings */
		done(&p);
	}
	free(variant);
}

static void test_differ_layout__swapped_members(void **state)
{
	(void)state;
	layout_case("	int fd;\n	unsigned len;\n", "	unsigned len;\n	int fd;\n", "n > 100",
		    "n > 101", "conn_send", "struct conn", "len", "offset", "4", "0");
}

static void test_differ_layout__bit_field(void **state)
{
	(void)state;
	layout_case("flags : 4, state : 4", "flags : 5, state : 4", "n > 100", "n > 101",
		    "conn_send", "struct conn", "state", "bit-field", "bits 68..71", "bits 69..72");
}

static void test_differ_layout__anonymous_member(void **state)
{
	(void)state;
	layout_case("struct { short lo, hi; } range;", "struct { short hi, lo; } range;", "n > 100",
		    "n > 101", "conn_send", "struct conn", "range.hi", "offset", "2", "0");
}

static void test_differ_layout__member_type(void **state)
{
	(void)state;
	layout_case("	unsigned len;\n", "	int len;\n", "n > 100", "n > 101", "conn_send",
		    "struct conn", "len", "type", "unsigned int", "int");
}

static void test_differ_layout__anonymous_typedef(void **state)
{
	(void)state;
	layout_case("typedef struct { int a; int b; } pair_t;",
		    "typedef struct { int a; long b; } pair_t;", "p->a * 2", "p->a * 3", "pair_sum",
		    "pair_t", NULL, "size", "8", "16");
}

static void test_differ_layout__enum_value(void **state)
{
	(void)state;
	layout_case("enum mode { IDLE, BUSY, DONE };", "enum mode { IDLE, WAIT, BUSY, DONE };",
		    "m == IDLE ?", "m != IDLE ?", "next", "enum mode", NULL,
		    "enumerator 'BUSY' value", "1", "2");
}

/* Reached through a pointer member: peer_fd dereferences p->c. */
static void test_differ_layout__through_pointer(void **state)
{
	(void)state;
	char *variant = replace(types_src, "	int fd;\n	unsigned len;\n", "	unsigned len;\n	int fd;\n");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, types_src, variant);
		const struct differ_finding *f = one(&p, DIFFER_RULE_TYPE_LAYOUT, "peer_fd");
		assert_string_equal(f->via, "parameter 'p' -> member 'c'");
		done(&p);
	}
	free(variant);
}

/* A global of an anonymous struct type: no name to pair by, so the variables pair. */
static void test_differ_layout__anonymous_global(void **state)
{
	(void)state;
	static const char src[] =
		"static struct { int lo, hi; } state;\n"
		"int width(void) { return state.hi - state.lo; }\n"
		"void set(int a, int b) { state.lo = a; state.hi = b; }\n";
	char *a = replace(src, "int lo, hi;", "int hi, lo;");
	char *b = replace(a, "state.hi - state.lo;", "state.hi - state.lo + 1;");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, src, b);
		const struct differ_finding *f = one(&p, DIFFER_RULE_TYPE_LAYOUT, "width");
		assert_string_equal(f->entity, "the anonymous struct of 'state'");
		expect_change(&p, f, "lo", "offset", "0", "4");
		done(&p);
	}
	free(a);
	free(b);
}

/*
 * clang -O2 splits a static struct into one global per member (state.0,
 * state.1): a changed member is still a variable, found through DW_OP_piece,
 * never mistaken for data the compiler made.
 */
static void test_differ_layout__split_variable(void **state)
{
	(void)state;
	static const char src[] =
		"static struct { int lo, hi; } state = { 1, 2 };\n"
		"int width(void) { return state.hi - state.lo; }\n"
		"void set(int a, int b) { state.lo = a; state.hi = b; }\n";
	char *variant = replace(src, "{ 1, 2 }", "{ 1, 3 }");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, src, variant);
		const char *sym = obj_find_sym(p.new, "state.1") ? "state.1" : "state";
		const struct differ_finding *f = one(&p, DIFFER_RULE_VARIABLE, sym);
		expect_change(&p, f, "hi", "initial value", "2", "3");
		for (size_t i = 1; i < p.new->nsyms; i++)
			assert_false(p.new->syms[i].artificial);
		done(&p);
	}
	free(variant);
}

/*
 * A changed initializer that clang -O2 hides in the code: a global that only
 * ever holds two values becomes one byte, decoded by its readers
 * ("addr; deref_size 1; lit7; mul; ..."). The bytes stay; their meaning
 * changes. gcc keeps the int and its initializer moves to .data.
 */
static void test_differ_layout__shrunk_global(void **state)
{
	(void)state;
	static const char src[] =
		"static int flag = 0;\n"
		"void set(void) { flag = 7; }\n"
		"int get(void) { return flag; }\n";
	char *a = replace(src, "flag = 0;", "flag = 7;");
	char *b = replace(a, "{ flag = 7; }", "{ flag = 0; }");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, src, b);
		const struct differ_finding *f = one(&p, DIFFER_RULE_VARIABLE, "flag");
		if (!strcmp(p.cc, "clang") && !strcmp(p.opt, "-O2"))
			expect_change(&p, f, NULL, "encoding", NULL, NULL);
		done(&p);
	}
	free(a);
	free(b);
}

/* A type changed, but the only changed function never reaches it. */
static void test_differ_layout__unused_type(void **state)
{
	(void)state;
	char *a = replace(types_src, "return x * 7 + 1;", "return x * 9 + 1;");
	char *b = replace(a, "	struct { short lo, hi; } range;\n",
			  "	struct { short lo, hi; } range;\n	long extra;\n");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, types_src, b);
		expect_none(&p);
		assert_int_equal(th_sym(p.new, "unrelated")->status, OBJ_CHANGED);
		done(&p);
	}
	free(a);
	free(b);
}

/* Nothing changed: no finding, and no DWARF read at all. */
static void test_differ_layout__no_change_reads_nothing(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, types_src, types_src);
		expect_none(&p);
		assert_null(p.old->dwarf);
		assert_null(p.new->dwarf);
		done(&p);
	}
}

/* ----- variables -------------------------------------------------------------- */

static const char vars_src[] =
	"struct lim { int lo; int hi; };\n"
	"int max_clients = 16;\n"
	"const struct lim limits[3] = { { 1, 2 }, { 3, 4 }, { 5, 6 } };\n"
	"static unsigned long hist[8];\n"
	"static int mode;\n"
	"int tick(void)\n"
	"{\n"
	"	static int budget = 5;\n"
	"	return budget-- > 0;\n"
	"}\n"
	"int get(int i) { return limits[i & 1].hi + max_clients + (int)hist[i & 7]; }\n"
	"void bump(int i) { hist[i & 7]++; }\n"
	"int get_mode(void) { return mode; }\n"
	"void set_mode(int m) { mode = m; }\n";

static void var_case(const char *from, const char *to, const char *sym, const char *entity,
		     const char *member, const char *what, const char *old, const char *new)
{
	char *variant = replace(vars_src, from, to);
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, vars_src, variant);
		const char *s = sym;
		/* gcc names a static local budget.N, clang tick.budget. */
		if (!strcmp(sym, "budget"))
			for (size_t i = 1; i < p.new->nsyms; i++)
				if (obj_sym_is_data(&p.new->syms[i]) &&
				    strstr(p.new->syms[i].name, "budget"))
					s = p.new->syms[i].name;
		const struct differ_finding *f = one(&p, DIFFER_RULE_VARIABLE, s);
		assert_string_equal(f->entity, entity);
		expect_change(&p, f, member, what, old, new);
		assert_true(f->decl_line > 0);
		done(&p);
	}
	free(variant);
}

static void test_differ_layout__initial_value(void **state)
{
	(void)state;
	var_case("int max_clients = 16;", "int max_clients = 64;", "max_clients",
		 "variable 'max_clients'", NULL, "initial value", "16", "64");
}

static void test_differ_layout__const_element(void **state)
{
	(void)state;
	var_case("{ 3, 4 }", "{ 3, 40 }", "limits", "read-only variable 'limits'", "[1].hi",
		 "initial value", "4", "40");
}

static void test_differ_layout__static_local(void **state)
{
	(void)state;
	var_case("static int budget = 5;", "static int budget = 9;", "budget",
		 "static 'budget' of tick()", NULL, "initial value", "5", "9");
}

static void test_differ_layout__bss_to_data(void **state)
{
	(void)state;
	var_case("static int mode;", "static int mode = 2;", "mode", "variable 'mode'", NULL,
		 "initial value", "0 (.bss)", "2");
}

static void test_differ_layout__grown_array(void **state)
{
	(void)state;
	var_case("hist[8]", "hist[16]", "hist", "variable 'hist'", NULL, "size", "64", "128");
}

/* Same bytes, other type: only a function that touches it says so. */
static void test_differ_layout__type_of_touched_global(void **state)
{
	(void)state;
	char *a = replace(vars_src, "static int mode;", "static unsigned mode;");
	char *b = replace(a, "return mode;", "return (int)mode + 1;");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, vars_src, b);
		const struct differ_finding *f = one(&p, DIFFER_RULE_VARIABLE, "mode");
		expect_change(&p, f, NULL, "type", "int", "unsigned int");
		assert_string_equal(f->via, "touched by get_mode");
		done(&p);
	}
	free(a);
	free(b);
}

/* ----- data the compiler made ------------------------------------------------- */

static const char switch_src[] =
	"int port(int p)\n"
	"{\n"
	"	switch (p) {\n"
	"	case 0: return 21; case 1: return 22; case 2: return 23; case 3: return 25;\n"
	"	case 4: return 53; case 5: return 80; case 6: return 110; case 7: return 143;\n"
	"	}\n"
	"	return -1;\n"
	"}\n"
	"int other(int x) { return x + 1; }\n";

static void test_differ_layout__switch_table(void **state)
{
	(void)state;
	char *variant = replace(switch_src, "return 110;", "return 995;");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, switch_src, variant);
		expect_none(&p);
		assert_int_equal(th_sym(p.new, "port")->status, OBJ_CHANGED);
		assert_int_equal(th_sym(p.new, "other")->status, OBJ_SAME);
		/* gcc -O2: the table is marked and travels with port. */
		for (size_t i = 1; i < p.new->nsyms; i++) {
			struct obj_sym *s = &p.new->syms[i];
			if (!strncmp(s->name, "CSWTCH", 6)) {
				assert_true(s->artificial);
				assert_int_equal(s->status, OBJ_CHANGED);
				assert_non_null(strstr(th_sym(p.new, "port")->why, "reads CSWTCH"));
				struct differ_closure cl;
				assert_int_equal(differ_collect(&p.ctx, p.old, p.new, &cl), 0);
				assert_true(s->include);
			}
		}
		done(&p);
	}
	free(variant);
}

/* ----- thread-locals, constructors, signatures, small functions ---------------- */

static const char misc_src[] =
	"extern int puts(const char *);\n"
	"static int ready;\n"
	"static void setup(void) { ready = 1; puts(\"setup\"); }\n"
	"__attribute__((destructor)) static void bye(void) { puts(\"bye\"); }\n"
	"int parse(const char *s, int n) { return ready && s[0] == 'x' ? n + 1 : n - 1; }\n"
	"static __attribute__((noinline)) int helper(int a) { puts(\"h\"); return a * 3; }\n"
	"int caller(int a) { return helper(a) + 1; }\n"
	"void other_caller(int a) { helper(a); }\n"
	"int zero(void) { return 0; }\n"
	"int use_zero(void) { return zero() + 1000; }\n";

static void test_differ_layout__new_tls(void **state)
{
	(void)state;
	char *variant = replace(misc_src, "static int ready;\n",
				"static int ready;\nstatic __thread int depth;\n");
	char *v2 = replace(variant, "ready && s[0]", "(ready || s[depth++]) && s[0]");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, misc_src, v2);
		const struct differ_finding *f = one(&p, DIFFER_RULE_TLS, "depth");
		assert_non_null(strstr(f->text, "new thread-local variable"));
		done(&p);
	}
	free(variant);
	free(v2);
}

static void test_differ_layout__constructors(void **state)
{
	(void)state;
	char *added = replace(misc_src, "static void setup(void)",
			      "__attribute__((constructor)) static void setup(void)");
	char *removed = replace(misc_src, "__attribute__((destructor)) static void bye",
				"static void bye");
	char *changed = replace(misc_src, "puts(\"bye\");", "puts(\"goodbye\");");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, misc_src, added);
		const struct differ_finding *f = one(&p, DIFFER_RULE_CONSTRUCTOR, "setup");
		assert_non_null(strstr(f->text, "new constructor in .init_array"));
		done(&p);
		run(&p, c, misc_src, removed);
		f = one(&p, DIFFER_RULE_CONSTRUCTOR, "bye");
		assert_non_null(strstr(f->text, "destructor removed from .fini_array"));
		done(&p);
		run(&p, c, misc_src, changed);
		f = one(&p, DIFFER_RULE_CONSTRUCTOR, "bye");
		assert_non_null(strstr(f->text, "destructor changed"));
		done(&p);
	}
	free(added);
	free(removed);
	free(changed);
}

static void test_differ_layout__signature(void **state)
{
	(void)state;
	/* A global: callers elsewhere. */
	char *global = replace(misc_src, "int parse(const char *s, int n)", "long parse(const char *s, long n)");
	/* A static whose return type changed, with one caller changed and one unchanged
	 * (it ignores the result, so its bytes stay the same): the unchanged caller's
	 * code is what the new build made, so it already calls helper the new way. */
	char *half = replace(misc_src, "static __attribute__((noinline)) int helper(int a) { puts(\"h\"); return a * 3; }",
			     "static __attribute__((noinline)) long helper(int a) { puts(\"h\"); return a * 3L; }");
	char *half2 = replace(half, "return helper(a) + 1;", "return (int)helper(a) + 2;");
	char *all = replace(half2, "void other_caller(int a) { helper(a); }",
			    "void other_caller(int a) { if (helper(a) < 0) puts(\"neg\"); }");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run(&p, c, misc_src, global);
		const struct differ_finding *f = one(&p, DIFFER_RULE_SIGNATURE, "parse");
		expect_change(&p, f, NULL, "parameter 2 'n'", "int", NULL);
		expect_change(&p, f, NULL, "return type", "int", NULL);
		assert_non_null(strstr(f->text, "it is global"));
		done(&p);
		run(&p, c, misc_src, half2);
		for (size_t i = 0; i < p.f.n; i++)
			if (p.f.v[i].rule == DIFFER_RULE_SIGNATURE)
				fail_msg("%s %s: %s", p.cc, p.opt, p.f.v[i].text);
		done(&p);
		run(&p, c, misc_src, all);
		for (size_t i = 0; i < p.f.n; i++)
			assert_int_not_equal(p.f.v[i].rule, DIFFER_RULE_SIGNATURE);
		done(&p);
	}
	free(global);
	free(half);
	free(half2);
	free(all);
}

static void test_differ_layout__too_small(void **state)
{
	(void)state;
	char *variant = replace(misc_src, "int zero(void) { return 0; }", "int zero(void) { return 1; }");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run_flags(&p, c, misc_src, variant, "-g", HP_LEVEL_ERROR);
		if (!strcmp(p.opt, "-O2")) {
			const struct differ_finding *f = one(&p, DIFFER_RULE_TOO_SMALL, "zero");
			assert_string_equal(f->file, p.old->path);
			assert_string_equal(f->text, "only 3 bytes long; the 5-byte jump to its new version does not fit");
			assert_int_equal(p.rc, -HP_EUNPATCHABLE);
			assert_int_equal(p.ctx.nerrors, 1);
		} else {
			expect_none(&p);
		}
		done(&p);
	}
	free(variant);
}

/* ----- what cannot be checked -------------------------------------------------- */

static void test_differ_layout__no_dwarf(void **state)
{
	(void)state;
	char *variant = replace(vars_src, "return mode;", "return mode + 1;");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct pair p;
		run_flags(&p, c, vars_src, variant, "", HP_LEVEL_ERROR);
		assert_int_equal(p.f.n, 1);
		assert_int_equal(p.f.v[0].rule, DIFFER_RULE_UNKNOWN);
		assert_non_null(strstr(p.f.v[0].text, "has no DWARF"));
		assert_int_equal(p.rc, -HP_EUNPATCHABLE);
		done(&p);
	}
	free(variant);
}

/* Findings are errors for hpbuild (and the pass says refused), warnings for hpdiff. */
static void test_differ_layout__levels(void **state)
{
	(void)state;
	char *variant = replace(vars_src, "int max_clients = 16;", "int max_clients = 64;");
	struct pair p;
	run_flags(&p, 1, vars_src, variant, "-g", HP_LEVEL_ERROR);
	assert_int_equal(p.rc, -HP_EUNPATCHABLE);
	assert_int_equal(p.ctx.nerrors, 1);
	assert_int_equal(p.ctx.diags[0].level, HP_LEVEL_ERROR);
	assert_non_null(strstr(p.ctx.diags[0].text, ".o: max_clients: variable 'max_clients' ("));
	done(&p);
	free(variant);
}

/*
 * Common symbols (-fcommon, the default before gcc 10 and clang 11): a variable
 * the static linker allocates, zero-filled. The running build may have one
 * where the fix has a .bss definition, or the other way round; it is the same
 * variable as long as it keeps its size and starts zero-filled.
 */
static void common_case(struct pair *p, const char *cc, const char *old_flags, const char *old_src,
			const char *new_flags, const char *new_src)
{
	static unsigned seq;
	char name[64];
	memset(p, 0, sizeof *p);
	p->cc = cc;
	p->opt = "-O2";
	hp_ctx_init(&p->ctx, "test");
	snprintf(name, sizeof name, "common-old-%u", seq);
	p->paths[0] = th_compile(cc, old_flags, name, old_src);
	snprintf(name, sizeof name, "common-new-%u", seq++);
	p->paths[1] = th_compile(cc, new_flags, name, new_src);
	p->old = th_read_obj(&p->ctx, p->paths[0]);
	p->new = th_read_obj(&p->ctx, p->paths[1]);
	assert_int_equal(differ_correlate(&p->ctx, p->old, p->new), 0);
	assert_int_equal(differ_compare(&p->ctx, p->old, p->new), 0);
	p->rc = differ_check_layout(&p->ctx, p->old, p->new, HP_LEVEL_WARNING, &p->f);
	assert_int_equal(p->rc, 0);
}

static void test_differ_layout__common_symbols(void **state)
{
	(void)state;
	const char *common = "-O2 -g -fcommon -ffunction-sections -fdata-sections";
	const char *defined = "-O2 -g -fno-common -ffunction-sections -fdata-sections";
	const char *base = "int counter;\nint bump(int x) { counter += x; return counter; }\n";
	const char *fixed = "int counter;\nint bump(int x) { counter += x + 1; return counter; }\n";
	const char *grown = "long counter;\nint bump(int x) { counter += x + 1; return counter; }\n";
	const char *inited = "int counter = 5;\nint bump(int x) { counter += x + 1; return counter; }\n";
	const char *added = "int counter, extra;\nint bump(int x) { extra++; counter += x; return counter; }\n";
	static const char *const ccs[] = { "gcc", "clang" };
	for (size_t c = 0; c < 2; c++) {
		struct pair p;
		/* common -> .bss, as large: the same variable, nothing to say, nothing new */
		common_case(&p, ccs[c], common, base, defined, fixed);
		assert_int_equal(p.f.n, 0);
		struct obj_sym *n = th_sym(p.new, "counter");
		assert_int_equal(n->status, OBJ_SAME);
		assert_int_equal(th_sym(p.new, "bump")->status, OBJ_CHANGED);
		done(&p);
		/* .bss -> common: the same */
		common_case(&p, ccs[c], defined, base, common, fixed);
		assert_int_equal(p.f.n, 0);
		done(&p);
		/* common -> common, int -> long */
		common_case(&p, ccs[c], common, base, common, grown);
		assert_non_null(strstr(one(&p, DIFFER_RULE_VARIABLE, "counter")->text,
					"size 4 -> 8 (a common symbol)"));
		done(&p);
		/* common -> initialized */
		common_case(&p, ccs[c], common, base, defined, inited);
		assert_non_null(strstr(one(&p, DIFFER_RULE_VARIABLE, "counter")->text,
					"a common symbol (zero-filled) -> initialized in .data"));
		done(&p);
		/* initialized -> common */
		common_case(&p, ccs[c], defined, inited, common, base);
		assert_non_null(strstr(one(&p, DIFFER_RULE_VARIABLE, "counter")->text,
					"initialized in .data.counter -> a common symbol"));
		done(&p);
		/* a new common variable: no linker to allocate it */
		common_case(&p, ccs[c], defined, base, common, added);
		assert_non_null(strstr(one(&p, DIFFER_RULE_UNKNOWN, "extra")->text,
					"build with -fno-common"));
		done(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differ_layout__swapped_members),
		cmocka_unit_test(test_differ_layout__bit_field),
		cmocka_unit_test(test_differ_layout__anonymous_member),
		cmocka_unit_test(test_differ_layout__member_type),
		cmocka_unit_test(test_differ_layout__anonymous_typedef),
		cmocka_unit_test(test_differ_layout__enum_value),
		cmocka_unit_test(test_differ_layout__through_pointer),
		cmocka_unit_test(test_differ_layout__anonymous_global),
		cmocka_unit_test(test_differ_layout__split_variable),
		cmocka_unit_test(test_differ_layout__shrunk_global),
		cmocka_unit_test(test_differ_layout__unused_type),
		cmocka_unit_test(test_differ_layout__no_change_reads_nothing),
		cmocka_unit_test(test_differ_layout__initial_value),
		cmocka_unit_test(test_differ_layout__const_element),
		cmocka_unit_test(test_differ_layout__static_local),
		cmocka_unit_test(test_differ_layout__bss_to_data),
		cmocka_unit_test(test_differ_layout__grown_array),
		cmocka_unit_test(test_differ_layout__type_of_touched_global),
		cmocka_unit_test(test_differ_layout__switch_table),
		cmocka_unit_test(test_differ_layout__new_tls),
		cmocka_unit_test(test_differ_layout__constructors),
		cmocka_unit_test(test_differ_layout__signature),
		cmocka_unit_test(test_differ_layout__too_small),
		cmocka_unit_test(test_differ_layout__no_dwarf),
		cmocka_unit_test(test_differ_layout__levels),
		cmocka_unit_test(test_differ_layout__common_symbols),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
