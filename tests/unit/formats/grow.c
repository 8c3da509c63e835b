/*
 * Unit tests for hp_grow() and hp_arena_grow() (formats/ctx.c): the one way
 * growing arrays get room, malloc'ed or in the arena.
 */
#include <stdlib.h>

#include "formats/base.h"
#include "tests/unit/helpers.h"

static void test_formats_grow__keeps_contents_and_doubles(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	long *v = NULL, *a = NULL;
	size_t n = 0, cap = 0, acap = 0;
	for (long i = 0; i < 1000; i++) {
		assert_int_equal(hp_grow(&ctx, &v, &cap, n, sizeof *v, 4), 0);
		assert_int_equal(hp_arena_grow(&ctx, &a, &acap, n, sizeof *a, 4), 0);
		assert_true(n < cap && n < acap);
		v[n] = a[n] = i * 7;
		n++;
	}
	assert_int_equal(cap, 1024); /* 4, 8, ... 1024 */
	assert_int_equal(acap, 1024);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i], (long)i * 7);
		assert_int_equal(a[i], (long)i * 7);
	}
	/* Room left: nothing moves. */
	long *same = v;
	assert_int_equal(hp_grow(&ctx, &v, &cap, 1000, sizeof *v, 4), 0);
	assert_ptr_equal(v, same);
	assert_int_equal(ctx.ndiags, 0);
	free(v);
	hp_ctx_fini(&ctx);
}

/* A capacity whose double overflows the size: -HP_ENOMEM, array untouched. */
static void test_formats_grow__overflow_refused(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	char *v = malloc(1);
	assert_non_null(v);
	char *before = v;
	size_t cap = SIZE_MAX / 2 + 1;
	assert_int_equal(hp_grow(&ctx, &v, &cap, cap, 1, 4), -HP_ENOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, SIZE_MAX / 2 + 1);
	assert_non_null(strstr(th_last_diag(&ctx), "out of memory"));
	free(v);
	hp_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_grow__keeps_contents_and_doubles),
		cmocka_unit_test(test_formats_grow__overflow_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
