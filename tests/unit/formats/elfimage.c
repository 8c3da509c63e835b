/*
 * Unit tests for formats/elfimage.c: what the applier reads from a linked
 * executable. image_tpoff() is checked against the truth: the executable
 * itself prints where glibc put each of its thread-local variables, relative
 * to the thread pointer, for TLS segments aligned from 4 to 64 bytes, built by
 * gcc and clang; and the TPOFF64 slot of a variable of a library is found.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

/* a, then b aligned to ALIGN bytes, then c; main prints each one's offset from %fs:0. */
static const char tls_src[] =
	"#include <stdio.h>\n"
	"__thread int a = 1;\n"
	"__thread char b[3] __attribute__((aligned(ALIGN)));\n"
	"__thread long c;\n"
	"int main(void)\n"
	"{\n"
	"	char *tp;\n"
	"	__asm__(\"mov %%fs:0, %0\" : \"=r\"(tp));\n"
	"	printf(\"%ld %ld %ld\\n\", (long)((char *)&a - tp), (long)(b - tp), (long)((char *)&c - tp));\n"
	"	return 0;\n"
	"}\n";

/* Link obj into an executable next to it, run it, return what it printed (static). */
static const char *link_and_run(const char *cc, const char *obj, const char *exe)
{
	static char out[256];
	char cmd[2200];
	snprintf(cmd, sizeof cmd, "%s '%s' -o '%s' && '%s'", cc, obj, exe, exe);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(out, sizeof out, p))
		out[0] = 0;
	assert_int_equal(pclose(p), 0);
	return out;
}

static uint64_t st_value(const struct image *img, const char *name)
{
	const struct image_sym *c[2];
	assert_int_equal(image_find(img, name, "", 0, c, 2), 1);
	assert_int_equal(c[0]->type, STT_TLS);
	return c[0]->value;
}

static void test_formats_elfimage__tpoff_matches_glibc(void **state)
{
	(void)state;
	static const char *const ccs[] = { "gcc", "clang" };
	static const int aligns[] = { 4, 8, 16, 32, 64 };
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
			char flags[64], name[64], exe[512];
			snprintf(flags, sizeof flags, "-O2 -DALIGN=%d", aligns[i]);
			snprintf(name, sizeof name, "tls-%s-%d", ccs[k], aligns[i]);
			char *obj = th_compile(ccs[k], flags, name, tls_src);
			snprintf(exe, sizeof exe, "%s/%s", th_tmpdir(), name);
			long want[3];
			assert_int_equal(sscanf(link_and_run(ccs[k], obj, exe), "%ld %ld %ld", &want[0],
						&want[1], &want[2]),
					 3);
			struct hp_ctx ctx;
			hp_ctx_init(&ctx, "test");
			struct image *img;
			assert_int_equal(image_read(&ctx, exe, &img), 0);
			assert_true(img->has_tls);
			assert_int_equal(img->tls_align, (uint64_t)aligns[i] < 8 ? 8 : (uint64_t)aligns[i]);
			static const char *const vars[] = { "a", "b", "c" };
			for (int v = 0; v < 3; v++) {
				int64_t off;
				assert_true(image_tpoff(img, st_value(img, vars[v]), &off));
				if (off != want[v])
					fail_msg("%s, TLS aligned to %d: %s at %lld, glibc put it at %ld", ccs[k],
						 aligns[i], vars[v], (long long)off, want[v]);
			}
			image_free(img);
			hp_ctx_fini(&ctx);
			free(obj);
		}
}

/* An executable that reads a library's thread-local variable has a TPOFF64 slot
 * for it, which image_find_got() does not return as an import. */
static void test_formats_elfimage__tpoff_got(void **state)
{
	(void)state;
	char *lib = th_compile("gcc", "-O2 -fPIC", "total", "__thread long total;\n");
	char *main_o = th_compile("gcc", "-O2", "uses-total",
				  "extern __thread long total;\n"
				  "int main(void) { return (int)total; }\n");
	char cmd[2048], so[512], exe[512];
	snprintf(so, sizeof so, "%s/libtotal.so", th_tmpdir());
	snprintf(exe, sizeof exe, "%s/uses-total", th_tmpdir());
	snprintf(cmd, sizeof cmd, "gcc -shared '%s' -o '%s' && gcc '%s' -o '%s' -L'%s' -ltotal", lib,
		 so, main_o, exe, th_tmpdir());
	assert_int_equal(system(cmd), 0);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct image *img;
	assert_int_equal(image_read(&ctx, exe, &img), 0);
	const struct image_got *g = image_find_tls_got(img, "total", R_X86_64_TPOFF64);
	assert_non_null(g);
	assert_int_equal(g->tls, R_X86_64_TPOFF64);
	assert_null(image_find_got(img, "total"));
	assert_false(img->has_tls); /* the executable has no TLS segment of its own */
	int64_t off;
	assert_false(image_tpoff(img, 0, &off));
	image_free(img);
	hp_ctx_fini(&ctx);
	free(lib);
	free(main_o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_elfimage__tpoff_matches_glibc),
		cmocka_unit_test(test_formats_elfimage__tpoff_got),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
