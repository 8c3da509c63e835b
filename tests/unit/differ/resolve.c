/*
 * Unit tests for differ_resolve() (differ/compare.c): what the relocations of
 * real gcc and clang objects refer to, independent of layout.
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

static const char src[] = "extern int ext_fn(int);\n"
			  "static int counter;\n"
			  "int use_ext(int x) { return ext_fn(x) + 1; }\n"
			  "int bump(int x) { counter += x; return counter; }\n"
			  "const char *msg(void) { return \"hello, world\"; }\n"
			  "const char *pick(int i)\n"
			  "{\n"
			  "	static const char *t[] = { \"a\", \"bb\", \"ccc\" };\n"
			  "	return t[i];\n"
			  "}\n";

struct fixture {
	struct hp_ctx ctx;
	char *path;
	struct obj *obj;
};

static void setup(struct fixture *f, const char *cc, const char *opt, const char *source)
{
	char flags[128], name[64];
	snprintf(flags, sizeof flags, "%s -ffunction-sections -fdata-sections", opt);
	snprintf(name, sizeof name, "%s%s-%zu", cc, opt, strlen(source));
	hp_ctx_init(&f->ctx, "test");
	f->path = th_compile(cc, flags, name, source);
	f->obj = th_read_obj(&f->ctx, f->path);
}

static void teardown(struct fixture *f)
{
	obj_free(f->obj);
	free(f->path);
	hp_ctx_fini(&f->ctx);
}

/* Resolve the k-th relocation of sec; fails if differ_resolve does. */
static struct differ_ref resolve(struct fixture *f, const struct obj_sec *sec, size_t k)
{
	struct differ_ref ref;
	assert_true(k < sec->nrels);
	int err = differ_resolve(&f->ctx, f->obj, sec, &sec->rels[k], &ref);
	if (err < 0)
		fail_msg("differ_resolve(%s, %zu): %d: %s", sec->name, k, err,
			 th_last_diag(&f->ctx));
	return ref;
}

static const struct differ_ref *first_of_kind(struct fixture *f, const struct obj_sec *sec,
					      enum differ_ref_kind kind, struct differ_ref *out,
					      size_t *at)
{
	for (size_t k = 0; k < sec->nrels; k++) {
		*out = resolve(f, sec, k);
		if (out->kind == kind) {
			if (at)
				*at = k;
			return out;
		}
	}
	return NULL;
}

static const char *const ccs[] = {"gcc", "clang"};
static const char *const opts[] = {"-O0", "-O2"};

/* call ext_fn: the undefined symbol itself. */
static void test_differ_resolve__external_call(void **state)
{
	(void)state;
	for (size_t c = 0; c < 2; c++) {
		for (size_t o = 0; o < 2; o++) {
			struct fixture f;
			setup(&f, ccs[c], opts[o], src);
			const struct obj_sym *ext = th_sym(f.obj, "ext_fn");
			assert_int_equal(ext->shndx, SHN_UNDEF);
			const struct obj_sec *sec = th_sym(f.obj, "use_ext")->sec;
			struct differ_ref r;
			size_t k = 0;
			assert_non_null(first_of_kind(&f, sec, DIFFER_REF_SYM, &r, &k));
			assert_ptr_equal(r.sym, ext);
			assert_ptr_equal(sec->rels[k].sym, ext);
			assert_int_equal(r.off, sec->rels[k].addend); /* -4 of a call */
			teardown(&f);
		}
	}
}

/* counter is static: the code refers to .bss.counter, which is counter. */
static void test_differ_resolve__static_via_section_symbol(void **state)
{
	(void)state;
	for (size_t c = 0; c < 2; c++) {
		for (size_t o = 0; o < 2; o++) {
			struct fixture f;
			setup(&f, ccs[c], opts[o], src);
			const struct obj_sym *counter = th_sym(f.obj, "counter");
			const struct obj_sec *sec = th_sym(f.obj, "bump")->sec;
			assert_true(sec->nrels > 0);
			for (size_t k = 0; k < sec->nrels; k++) {
				/* What the compilers emit: the section symbol, not counter. */
				assert_int_equal(sec->rels[k].sym->type, STT_SECTION);
				assert_ptr_equal(sec->rels[k].sym->sec, counter->sec);
				struct differ_ref r = resolve(&f, sec, k);
				assert_int_equal(r.kind, DIFFER_REF_SYM);
				assert_ptr_equal(r.sym, counter);
			}
			teardown(&f);
		}
	}
}

/* return "hello, world": the piece is the string and its NUL. */
static void test_differ_resolve__string_piece(void **state)
{
	(void)state;
	for (size_t c = 0; c < 2; c++) {
		for (size_t o = 0; o < 2; o++) {
			struct fixture f;
			setup(&f, ccs[c], opts[o], src);
			const struct obj_sec *sec = th_sym(f.obj, "msg")->sec;
			struct differ_ref r;
			assert_non_null(first_of_kind(&f, sec, DIFFER_REF_PIECE, &r, NULL));
			assert_non_null(r.sec->data);
			assert_int_equal(r.len, sizeof "hello, world");
			assert_true(r.start + r.len <= r.sec->size);
			assert_memory_equal(r.sec->data + r.start, "hello, world",
					    sizeof "hello, world");
			teardown(&f);
		}
	}
}

/*
 * gcc -O0 keeps string literals in plain .rodata, where the piece "hi" runs up
 * to the next referenced address: the 8-aligned double after the padding. The
 * piece is the string and its NUL, not the padding.
 */
static void test_differ_resolve__gcc_O0_padded_string(void **state)
{
	(void)state;
	static const char padded[] = "const char *hi(void) { return \"hi\"; }\n"
				     "double half(double x) { return x * 1.5; }\n";
	struct fixture f;
	setup(&f, "gcc", "-O0", padded);
	const struct obj_sec *sec = th_sym(f.obj, "hi")->sec;
	struct differ_ref r;
	assert_non_null(first_of_kind(&f, sec, DIFFER_REF_PIECE, &r, NULL));
	assert_string_equal(r.sec->name, ".rodata");
	assert_false(obj_sec_is_strings(r.sec));
	/* The double really is in the same section, after padding. */
	struct differ_ref d;
	assert_non_null(first_of_kind(&f, th_sym(f.obj, "half")->sec, DIFFER_REF_PIECE, &d, NULL));
	assert_ptr_equal(d.sec, r.sec);
	assert_int_equal(d.start, 8);
	assert_int_equal(r.start, 0);
	assert_int_equal(r.len, 3);
	assert_memory_equal(r.sec->data + r.start, "hi", 3);
	teardown(&f);
}

/* Each entry of the table t, in its order, must resolve to "a", "bb", "ccc". */
static void expect_table(struct fixture *f, const struct obj_sec *table)
{
	static const char *want[] = {"a", "bb", "ccc"};
	assert_int_equal(table->nrels, 3);
	for (size_t k = 0; k < 3; k++) {
		struct differ_ref r = resolve(f, table, k);
		assert_int_equal(r.kind, DIFFER_REF_PIECE);
		size_t n = strlen(want[k]) + 1;
		if (r.len != n || memcmp(r.sec->data + r.start, want[k], n))
			fail_msg("%s entry %zu: piece %s+%llu (%llu bytes), want \"%s\"",
				 table->name, k, r.sec->name, (unsigned long long)r.start,
				 (unsigned long long)r.len, want[k]);
	}
}

/*
 * clang -O2 turns t into a relative lookup table: .rodata.reltable.pick holds
 * "string - table" entries (R_X86_64_PC32 in data), one against the section
 * symbol and two against .L.str labels, each addend biased by the entry's
 * position in the table.
 */
static void test_differ_resolve__clang_reltable(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "clang", "-O2", src);
	const struct obj_sec *table = obj_find_sec(f.obj, ".rodata.reltable.pick");
	assert_non_null(table);
	for (size_t k = 0; k < table->nrels; k++)
		assert_int_equal(table->rels[k].type, R_X86_64_PC32);
	expect_table(&f, table);
	for (size_t k = 0; k < 3; k++)
		assert_true(obj_sec_is_strings(resolve(&f, table, k).sec));
	/* The code refers to the table as a whole. */
	const struct obj_sec *code = th_sym(f.obj, "pick")->sec;
	struct differ_ref r;
	assert_non_null(first_of_kind(&f, code, DIFFER_REF_SYM, &r, NULL));
	assert_ptr_equal(r.sym->sec, table);
	teardown(&f);
}

/* The same table elsewhere is absolute pointers (R_X86_64_64): same answer. */
static void test_differ_resolve__pointer_table(void **state)
{
	(void)state;
	static const struct {
		const char *cc, *opt;
	} b[] = {{"gcc", "-O0"}, {"gcc", "-O2"}, {"clang", "-O0"}};
	for (size_t i = 0; i < 3; i++) {
		struct fixture f;
		setup(&f, b[i].cc, b[i].opt, src);
		/* gcc: t.0 in .data.rel.ro.local.t.0 (-O2) or .data.rel.local.t.0;
		 * clang -O0: pick.t in .data.pick.t. */
		const struct obj_sym *t = obj_find_sym(f.obj, "t.0");
		if (!t)
			t = th_sym(f.obj, "pick.t");
		assert_true(obj_sym_is_data(t));
		for (size_t k = 0; k < t->sec->nrels; k++)
			assert_int_equal(t->sec->rels[k].type, R_X86_64_64);
		expect_table(&f, t->sec);
		teardown(&f);
	}
}

/* A relocation with no symbol resolves to its addend. */
static void test_differ_resolve__absolute(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "gcc", "-O2", src);
	const struct obj_sec *sec = th_sym(f.obj, "msg")->sec;
	struct obj_rel r = {0, R_X86_64_64, 0x1234, &f.obj->syms[0]};
	struct differ_ref ref;
	assert_int_equal(differ_resolve(&f.ctx, f.obj, sec, &r, &ref), 0);
	assert_int_equal(ref.kind, DIFFER_REF_ABS);
	assert_int_equal(ref.off, 0x1234);
	assert_null(ref.sym);
	teardown(&f);
}

/*
 * Was a bug: a PC-relative reference from code whose instruction has an immediate
 * after the displacement ("shufps $0x4e, .LC1(%rip), %xmm1": R_X86_64_PC32
 * .LC1-5) resolves to the wrong constant. code_bias() assumes the field ends
 * the instruction and adds 4, so the target is .LC1-1: the last byte of the
 * previous 16-byte constant, and piece_at() returns that constant. gcc and clang
 * both emit this at -O2 for SSE shuffles with a constant operand. Consequence:
 * differ_compare() compares the wrong constant and calls a changed function
 * SAME (see test_differ_compare__vector_constant in compare.c).
 */
static const char shuf_src[] =
	"#include <xmmintrin.h>\n"
	"__m128 mix(__m128 x, __m128 y)\n"
	"{\n"
	"	__m128 a = _mm_shuffle_ps(x, _mm_set_ps(1, 2, 3, 4), 0x1b);\n"
	"	__m128 b = _mm_shuffle_ps(y, _mm_set_ps(5, 6, 7, 8), 0x4e);\n"
	"	return _mm_add_ps(a, b);\n"
	"}\n";

static void test_differ_resolve__constant_before_immediate(void **state)
{
	(void)state;
	for (size_t c = 0; c < 2; c++) {
		struct fixture f;
		setup(&f, ccs[c], "-O2", shuf_src);
		const struct obj_sec *sec = th_sym(f.obj, "mix")->sec;
		assert_int_equal(sec->nrels, 2);
		for (size_t k = 0; k < 2; k++) {
			const struct obj_rel *rel = &sec->rels[k];
			/* .LC0/.LC1 (gcc), .LCPI0_0/.LCPI0_1 (clang), addend -5 */
			assert_true(rel->sym->label && rel->sym->type != STT_SECTION);
			assert_int_equal(rel->addend, -5);
			struct differ_ref r = resolve(&f, sec, k);
			assert_int_equal(r.kind, DIFFER_REF_PIECE);
			assert_int_equal(r.len, 16);
			if (r.start != rel->sym->value)
				fail_msg("%s: %s-5 resolved to the constant at %#llx, not %#llx",
					 ccs[c], rel->sym->name, (unsigned long long)r.start,
					 (unsigned long long)rel->sym->value);
		}
		teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differ_resolve__external_call),
		cmocka_unit_test(test_differ_resolve__static_via_section_symbol),
		cmocka_unit_test(test_differ_resolve__string_piece),
		cmocka_unit_test(test_differ_resolve__gcc_O0_padded_string),
		cmocka_unit_test(test_differ_resolve__clang_reltable),
		cmocka_unit_test(test_differ_resolve__pointer_table),
		cmocka_unit_test(test_differ_resolve__absolute),
		cmocka_unit_test(test_differ_resolve__constant_before_immediate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
