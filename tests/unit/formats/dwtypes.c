/*
 * Unit tests for formats/dwtypes.c: types, variables and functions read from
 * the DWARF of real gcc and clang objects, DWARF 4 and 5, -O0 and -O2. Every
 * test runs in all eight builds, and each build must give the same model.
 */
#include <elf.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/dwarfread.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

/*
 * struct cfg has bit-fields (gcc 12 DWARF 5 gives DW_AT_data_bit_offset, gcc
 * -gdwarf-4 and clang the DW_AT_bit_offset form) and an anonymous member struct
 * (clang nests its DIE inside cfg's). anon_t is an anonymous struct behind a
 * typedef. pick's dense switch becomes gcc -O2's CSWTCH table. count has a
 * static local; who reads __func__; depth is thread-local. twice calls out, so
 * that clang -O2 keeps a DW_TAG_inlined_subroutine for it (code it inlines and
 * folds to nothing leaves no trace in its DWARF).
 */
static const char src[] =
	"extern int puts(const char *);\n"
	"struct cfg {\n" /* line 2 */
	"	int a;\n"
	"	char b;\n"
	"	unsigned c : 3, d : 5;\n"
	"	struct { int x, y; } pt;\n"
	"	const char *name;\n"
	"	int (*cb)(int, char *);\n"
	"	short grid[2][3];\n"
	"};\n"
	"typedef struct { long q; int r; } anon_t;\n" /* line 11 */
	"enum color { RED, GREEN = 5, BLUE };\n"
	"typedef unsigned int u32;\n"
	"struct cfg cfg_table[4] = { { 1 } };\n" /* line 14 */
	"anon_t anon;\n"
	"static u32 hits;\n"
	"static __thread int depth;\n"
	"enum color paint = BLUE;\n"
	"int pick(int x)\n" /* line 19 */
	"{\n"
	"	switch (x) { case 0: return 17; case 1: return 4; case 2: return 99;\n"
	"	case 3: return 1; case 4: return 55; case 5: return 23; default: return 0; }\n"
	"}\n"
	"int count(void)\n" /* line 24 */
	"{\n"
	"	static int n = 3;\n"
	"	return n++;\n"
	"}\n"
	"void who(void) { puts(__func__); }\n"
	"static inline __attribute__((always_inline)) int twice(int v) { int t = v * 2; puts(\"2\"); return t; }\n"
	"long use(struct cfg *c, anon_t *a, const char *s, ...)\n" /* line 31 */
	"{\n"
	"	u32 local = hits++ + (u32)depth++;\n"
	"	return c->a + a->q + twice(c->b) + (long)local + s[0] + paint;\n"
	"}\n";

static const char *const builds[][3] = {
	{ "gcc", "-O0 -g", "g0" },	     { "gcc", "-O2 -g", "g2" },
	{ "gcc", "-O0 -gdwarf-4", "g0d4" },  { "gcc", "-O2 -gdwarf-4", "g2d4" },
	{ "clang", "-O0 -g", "c0" },	     { "clang", "-O2 -g", "c2" },
	{ "clang", "-O0 -gdwarf-4", "c0d4" }, { "clang", "-O2 -gdwarf-4", "c2d4" },
};
#define NBUILDS (sizeof builds / sizeof *builds)

struct fixture {
	struct hp_ctx ctx;
	char *path;
	struct obj *obj;
	struct dw *dw;
	const char *name; /* "gcc -O2 -g" */
};

static void setup(struct fixture *f, size_t b)
{
	char flags[128], name[64];
	snprintf(flags, sizeof flags, "%s -ffunction-sections -fdata-sections", builds[b][1]);
	snprintf(name, sizeof name, "types-%s", builds[b][2]);
	hp_ctx_init(&f->ctx, "test");
	f->path = th_compile(builds[b][0], flags, name, src);
	f->obj = th_read_obj(&f->ctx, f->path);
	f->name = builds[b][2];
	int err = dw_get(&f->ctx, f->obj, &f->dw);
	if (err < 0 || !f->dw)
		fail_msg("%s: dw_get: %d: %s", f->name, err, th_last_diag(&f->ctx));
}

static void teardown(struct fixture *f)
{
	obj_free(f->obj);
	free(f->path);
	hp_ctx_fini(&f->ctx);
}

static const struct dw_type *type(struct fixture *f, uint64_t id)
{
	const struct dw_type *t;
	int err = dw_type_get(f->dw, id, &t);
	if (err < 0)
		fail_msg("%s: dw_type_get(%llx): %s", f->name, (unsigned long long)id,
			 th_last_diag(&f->ctx));
	return t;
}

static const struct dw_type *find(struct fixture *f, enum dwt_kind kind, const char *name)
{
	uint64_t id;
	assert_int_equal(dw_type_find(f->dw, NULL, kind, name, &id), 0);
	if (!id)
		fail_msg("%s: no type %s", f->name, name);
	return type(f, id);
}

static const char *spelled(struct fixture *f, uint64_t id, bool resolve)
{
	const char *s;
	assert_int_equal(dw_type_spell(f->dw, id, resolve, &s), 0);
	return s;
}

static const struct dw_member *member(struct fixture *f, const struct dw_type *t, const char *name)
{
	for (size_t i = 0; i < t->nmembers; i++)
		if (t->members[i].name && !strcmp(t->members[i].name, name))
			return &t->members[i];
	fail_msg("%s: %s has no member %s", f->name, t->name ? t->name : "?", name);
	return NULL;
}

static const struct dw_var *var(struct fixture *f, const char *sym)
{
	const struct obj_sym *s = th_sym(f->obj, sym);
	const struct dw_var *v;
	assert_int_equal(dw_var_at(f->dw, s->sec, s->value, &v), 0);
	if (!v)
		fail_msg("%s: no variable at %s", f->name, sym);
	return v;
}

/* The struct's size, members, offsets and member types; bit-fields in either form. */
static void test_formats_dwtypes__struct_layout(void **state)
{
	(void)state;
	for (size_t b = 0; b < NBUILDS; b++) {
		struct fixture f;
		setup(&f, b);
		const struct dw_type *cfg = find(&f, DWT_STRUCT, "cfg");
		assert_int_equal(cfg->kind, DWT_STRUCT);
		assert_false(cfg->declaration);
		assert_int_equal(cfg->size, 48);
		assert_int_equal(cfg->decl_line, 2);
		assert_non_null(cfg->decl_file);
		assert_int_equal(cfg->nmembers, 8);
		assert_int_equal(member(&f, cfg, "a")->offset, 0);
		assert_int_equal(member(&f, cfg, "b")->offset, 4);
		/* c: bits 40..42, d: 43..47, whichever form the producer used. */
		const struct dw_member *c = member(&f, cfg, "c"), *d = member(&f, cfg, "d");
		if (c->bit_offset != 40 || c->bit_size != 3 || d->bit_offset != 43 || d->bit_size != 5)
			fail_msg("%s: bit-fields c %llu:%u d %llu:%u", f.name,
				 (unsigned long long)c->bit_offset, c->bit_size,
				 (unsigned long long)d->bit_offset, d->bit_size);
		assert_int_equal(c->offset, 5);
		assert_int_equal(member(&f, cfg, "a")->bit_size, 0);
		/* The anonymous member struct: reached through the member's type. */
		const struct dw_member *pt = member(&f, cfg, "pt");
		assert_int_equal(pt->offset, 8);
		const struct dw_type *ptt = type(&f, pt->type);
		assert_int_equal(ptt->kind, DWT_STRUCT);
		assert_null(ptt->name);
		assert_int_equal(ptt->size, 8);
		assert_int_equal(member(&f, ptt, "y")->offset, 4);
		assert_string_equal(spelled(&f, member(&f, cfg, "name")->type, false), "const char *");
		assert_string_equal(spelled(&f, member(&f, cfg, "cb")->type, false),
				    "int (*)(int, char *)");
		const struct dw_member *grid = member(&f, cfg, "grid");
		assert_int_equal(grid->offset, 32);
		const struct dw_type *g = type(&f, grid->type);
		assert_int_equal(g->kind, DWT_ARRAY);
		assert_int_equal(g->ndims, 2);
		assert_int_equal(g->dims[0], 2);
		assert_int_equal(g->dims[1], 3);
		uint64_t size;
		assert_int_equal(dw_type_sizeof(f.dw, grid->type, &size), 0);
		assert_int_equal(size, 12);
		/* Base type names are the producer's: gcc "short int", clang "short". */
		assert_string_equal(spelled(&f, grid->type, false),
				    f.name[0] == 'g' ? "short int[2][3]" : "short[2][3]");
		teardown(&f);
	}
}

/* typedef struct {...} anon_t: the struct takes the typedef's name and is found by it. */
static void test_formats_dwtypes__anonymous_typedef(void **state)
{
	(void)state;
	for (size_t b = 0; b < NBUILDS; b++) {
		struct fixture f;
		setup(&f, b);
		const struct dw_type *s = find(&f, DWT_STRUCT, "anon_t");
		assert_int_equal(s->kind, DWT_STRUCT);
		assert_string_equal(s->name, "anon_t");
		assert_true(s->typedef_name);
		assert_int_equal(s->size, 16);
		assert_int_equal(member(&f, s, "r")->offset, 8);
		const struct dw_type *td = find(&f, DWT_TYPEDEF, "anon_t");
		assert_int_equal(td->target, s->id);
		assert_string_equal(spelled(&f, td->id, false), "anon_t");
		/* A typedef of a base type spells as its name, or resolved. */
		const struct dw_type *u = find(&f, DWT_TYPEDEF, "u32");
		assert_string_equal(spelled(&f, u->id, false), "u32");
		assert_string_equal(spelled(&f, u->id, true), "unsigned int");
		uint64_t none;
		assert_int_equal(dw_type_find(f.dw, NULL, DWT_STRUCT, "no_such", &none), 0);
		assert_int_equal(none, 0);
		teardown(&f);
	}
}

static void test_formats_dwtypes__enum(void **state)
{
	(void)state;
	for (size_t b = 0; b < NBUILDS; b++) {
		struct fixture f;
		setup(&f, b);
		const struct dw_type *e = find(&f, DWT_ENUM, "color");
		assert_int_equal(e->nmembers, 3);
		assert_int_equal(member(&f, e, "RED")->value, 0);
		assert_int_equal(member(&f, e, "GREEN")->value, 5);
		assert_int_equal(member(&f, e, "BLUE")->value, 6);
		assert_int_equal(e->size, 4);
		teardown(&f);
	}
}

/* Globals, file statics, static locals, thread-locals, __func__; and the CSWTCH table is none. */
static void test_formats_dwtypes__variables(void **state)
{
	(void)state;
	for (size_t b = 0; b < NBUILDS; b++) {
		struct fixture f;
		setup(&f, b);
		const struct dw_var *v = var(&f, "cfg_table");
		assert_string_equal(v->name, "cfg_table");
		assert_true(v->external);
		assert_null(v->scope);
		assert_int_equal(v->decl_line, 14);
		assert_string_equal(spelled(&f, v->type, false), "struct cfg[4]");
		v = var(&f, "anon");
		assert_string_equal(spelled(&f, v->type, false), "anon_t");
		v = var(&f, "hits");
		assert_false(v->external);
		assert_string_equal(spelled(&f, v->type, false), "u32");
		v = var(&f, "depth");
		assert_true(v->tls);
		/* The static local: "n.N" (gcc) or "count.n" (clang), declared in count. */
		const char *nsym = "count.n";
		for (size_t i = 1; i < f.obj->nsyms; i++)
			if (!strncmp(f.obj->syms[i].name, "n.", 2))
				nsym = f.obj->syms[i].name;
		v = var(&f, nsym);
		assert_string_equal(v->name, "n");
		assert_non_null(v->scope);
		assert_string_equal(v->scope, "count");
		assert_int_equal(v->decl_line, 26);
		/* gcc -O2's switch table has no variable. */
		for (size_t i = 1; i < f.obj->nsyms; i++) {
			const struct obj_sym *s = &f.obj->syms[i];
			if (strncmp(s->name, "CSWTCH", 6))
				continue;
			const struct dw_var *t;
			assert_int_equal(dw_var_at(f.dw, s->sec, s->value, &t), 0);
			assert_null(t);
		}
		/* gcc's __func__ is a variable, marked artificial. */
		for (size_t i = 1; i < f.obj->nsyms; i++) {
			const struct obj_sym *s = &f.obj->syms[i];
			if (strncmp(s->name, "__func__", 8) || !s->sec)
				continue;
			const struct dw_var *t = var(&f, s->name);
			assert_true(t->artificial);
		}
		teardown(&f);
	}
}

/* Parameters, return type, locals (inlined code's too), unit, what it inlines. */
static void test_formats_dwtypes__subprogram(void **state)
{
	(void)state;
	for (size_t b = 0; b < NBUILDS; b++) {
		struct fixture f;
		setup(&f, b);
		const struct obj_sym *s = th_sym(f.obj, "use");
		const struct dw_subprogram *p;
		assert_int_equal(dw_subprogram_at(f.dw, s->sec, s->value, &p), 0);
		assert_non_null(p);
		assert_string_equal(p->name, "use");
		assert_true(strstr(p->cu, "types-") != NULL);
		assert_true(p->external);
		assert_int_equal(p->decl_line, 31);
		assert_string_equal(spelled(&f, p->ret, false), f.name[0] == 'g' ? "long int" : "long");
		assert_int_equal(p->nparams, 3);
		assert_true(p->varargs);
		assert_string_equal(p->params[0].name, "c");
		assert_string_equal(spelled(&f, p->params[0].type, false), "struct cfg *");
		assert_string_equal(spelled(&f, p->params[1].type, false), "anon_t *");
		assert_string_equal(spelled(&f, p->params[2].type, false), "const char *");
		bool local = false, inlined = false;
		for (size_t i = 0; i < p->nlocals; i++) {
			const struct dw_local *x = &p->locals[i];
			if (x->name && !strcmp(x->name, "local") && !x->inlined) {
				local = true;
				assert_string_equal(spelled(&f, x->type, false), "u32");
			}
			if (x->name && !strcmp(x->name, "t") && x->inlined &&
			    !strcmp(x->inlined, "twice"))
				inlined = true;
		}
		if (!local || !inlined)
			fail_msg("%s: locals of use: local %d, twice's t %d", f.name, local, inlined);
		bool twice = false;
		for (size_t i = 0; i < p->ninlines; i++)
			twice |= !strcmp(p->inlines[i], "twice");
		assert_true(twice);
		/* The same model for the same DIE: read once. */
		const struct dw_subprogram *again;
		assert_int_equal(dw_subprogram_at(f.dw, s->sec, s->value, &again), 0);
		assert_ptr_equal(p, again);
		/* Nothing at an address that is not an entry. */
		assert_int_equal(dw_subprogram_at(f.dw, s->sec, 1, &again), 0);
		assert_null(again);
		teardown(&f);
	}
}

/* gcc -O2 splits foo into foo and foo.cold: both entries lead to foo's DIE. */
static void test_formats_dwtypes__cold_part(void **state)
{
	(void)state;
	static const char cold_src[] =
		"extern void sink(int);\n"
		"__attribute__((cold, noinline)) void oops(int x) { sink(x); sink(x + 7); }\n"
		"int foo(int x, int y)\n"
		"{\n"
		"	if (__builtin_expect(x, 0)) { oops(y); sink(y * 2); return -1; }\n"
		"	return y + 1;\n"
		"}\n";
	static const char *const gflags[] = { "-O2 -g -ffunction-sections -fdata-sections",
					      "-O2 -gdwarf-4 -ffunction-sections -fdata-sections" };
	for (size_t i = 0; i < 2; i++) {
		struct hp_ctx ctx;
		hp_ctx_init(&ctx, "test");
		char *path = th_compile("gcc", gflags[i], i ? "cold4" : "cold5", cold_src);
		struct obj *obj = th_read_obj(&ctx, path);
		struct dw *dw;
		assert_int_equal(dw_get(&ctx, obj, &dw), 0);
		const struct obj_sym *hot = th_sym(obj, "foo"), *cold = th_sym(obj, "foo.cold");
		const struct dw_subprogram *a, *b;
		assert_int_equal(dw_subprogram_at(dw, hot->sec, hot->value, &a), 0);
		assert_int_equal(dw_subprogram_at(dw, cold->sec, cold->value, &b), 0);
		assert_non_null(a);
		assert_ptr_equal(a, b);
		assert_int_equal(a->nparams, 2);
		obj_free(obj);
		free(path);
		hp_ctx_fini(&ctx);
	}
}

/* No .debug_info: no reader, no error. The same reader is returned on every call. */
static void test_formats_dwtypes__get(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	char *path = th_compile("gcc", "-O2 -ffunction-sections", "nodebug", "int g(void) { return 1; }\n");
	struct obj *obj = th_read_obj(&ctx, path);
	struct dw *dw = (struct dw *)1;
	assert_int_equal(dw_get(&ctx, obj, &dw), 0);
	assert_null(dw);
	obj_free(obj);
	free(path);
	char *path2 = th_compile("clang", "-O2 -g -ffunction-sections", "debug", "int g(void) { return 1; }\n");
	obj = th_read_obj(&ctx, path2);
	struct dw *a, *b;
	assert_int_equal(dw_get(&ctx, obj, &a), 0);
	assert_int_equal(dw_get(&ctx, obj, &b), 0);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_ptr_equal(obj->dwarf, a);
	obj_free(obj);
	assert_null(obj->dwarf);
	free(path2);
	assert_int_equal(ctx.ndiags, 0);
	hp_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_dwtypes__struct_layout),
		cmocka_unit_test(test_formats_dwtypes__anonymous_typedef),
		cmocka_unit_test(test_formats_dwtypes__enum),
		cmocka_unit_test(test_formats_dwtypes__variables),
		cmocka_unit_test(test_formats_dwtypes__subprogram),
		cmocka_unit_test(test_formats_dwtypes__cold_part),
		cmocka_unit_test(test_formats_dwtypes__get),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
