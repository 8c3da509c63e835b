/*
 * Unit tests for formats/hash.c: the map the object model uses for symbol and
 * section names and the DWARF reader for DIE offsets, with string and with
 * integer keys, and the hash behind it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"
#include "tests/unit/helpers.h"

static void test_formats_hash__put_get(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hp_map m;
	assert_int_equal(hp_map_init(&ctx, &m, 4), 0);
	int a = 1, b = 2, c = 3;
	void *out = NULL;
	assert_int_equal(hp_map_put(&ctx, &m, "alpha", &a, &out), 0);
	assert_ptr_equal(out, &a);
	assert_int_equal(hp_map_put(&ctx, &m, "beta", &b, NULL), 0);
	assert_int_equal(hp_map_put(&ctx, &m, "", &c, &out), 0);
	assert_ptr_equal(out, &c);
	assert_int_equal(m.len, 3);

	assert_ptr_equal(hp_map_get(&m, "alpha"), &a);
	assert_ptr_equal(hp_map_get(&m, "beta"), &b);
	assert_ptr_equal(hp_map_get(&m, ""), &c);
	assert_null(hp_map_get(&m, "gamma"));
	assert_null(hp_map_get(&m, "alph"));
	assert_null(hp_map_get(&m, "alphaa"));

	/* Keys compare by contents, not by pointer. */
	char key[] = "beta";
	assert_ptr_equal(hp_map_get(&m, key), &b);
	hp_ctx_fini(&ctx);
}

/* A map that was never initialised (cap 0) answers NULL, and grows on first put. */
static void test_formats_hash__empty_map(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hp_map m = {0};
	assert_null(hp_map_get(&m, "x"));
	int v = 7;
	assert_int_equal(hp_map_put(&ctx, &m, "x", &v, NULL), 0);
	assert_ptr_equal(hp_map_get(&m, "x"), &v);
	assert_true(m.cap >= 2);
	hp_ctx_fini(&ctx);
}

static void test_formats_hash__duplicate_keeps_first(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hp_map m;
	assert_int_equal(hp_map_init(&ctx, &m, 0), 0);
	int first = 1, second = 2;
	void *out = NULL;
	assert_int_equal(hp_map_put(&ctx, &m, "count", &first, &out), 0);
	assert_ptr_equal(out, &first);
	/* A second key with the same text, stored elsewhere. */
	char again[] = "count";
	assert_int_equal(hp_map_put(&ctx, &m, again, &second, &out), 0);
	assert_ptr_equal(out, &first);
	assert_ptr_equal(hp_map_get(&m, "count"), &first);
	assert_int_equal(m.len, 1);
	hp_ctx_fini(&ctx);
}

/* Far more keys than the map was sized for: every one is still found after growth. */
static void test_formats_hash__growth(void **state)
{
	(void)state;
	enum { N = 5000 };
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hp_map m;
	assert_int_equal(hp_map_init(&ctx, &m, 1), 0);
	size_t cap0 = m.cap;
	static char keys[N][16];
	static int vals[N];
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof keys[i], "sym.%d", i);
		vals[i] = i;
		void *out = NULL;
		assert_int_equal(hp_map_put(&ctx, &m, keys[i], &vals[i], &out), 0);
		assert_ptr_equal(out, &vals[i]);
	}
	assert_int_equal(m.len, N);
	assert_true(m.cap > cap0);
	assert_true(2 * m.len <= m.cap);	  /* never more than half full */
	assert_int_equal(m.cap & (m.cap - 1), 0); /* a power of two */
	for (int i = 0; i < N; i++) {
		char probe[16];
		snprintf(probe, sizeof probe, "sym.%d", i);
		int *v = hp_map_get(&m, probe);
		if (v != &vals[i])
			fail_msg("key %s: got %p, want %p", probe, (void *)v, (void *)&vals[i]);
	}
	assert_null(hp_map_get(&m, "sym.5000"));
	assert_null(hp_map_get(&m, "sym."));
	/* Duplicates are still refused after growth. */
	int other = -1;
	void *out = NULL;
	assert_int_equal(hp_map_put(&ctx, &m, "sym.1234", &other, &out), 0);
	assert_ptr_equal(out, &vals[1234]);
	assert_int_equal(m.len, N);
	hp_ctx_fini(&ctx);
}

/* A declaration's entry replaced by the definition's (the DWARF reader's type index). */
static void test_formats_hash__set_replaces(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hp_map m = {0};
	int first = 1, second = 2;
	assert_int_equal(hp_map_set(&ctx, &m, "S:conn", &first), 0);
	assert_ptr_equal(hp_map_get(&m, "S:conn"), &first);
	assert_int_equal(hp_map_set(&ctx, &m, "S:conn", &second), 0);
	assert_ptr_equal(hp_map_get(&m, "S:conn"), &second);
	assert_int_equal(m.len, 1);
	hp_ctx_fini(&ctx);
}

/* Integer keys: 0 is a key like any other, duplicates keep the first, and
 * DIE offsets that step by small amounts survive growth. */
static void test_formats_hash__integer_keys(void **state)
{
	(void)state;
	enum { N = 5000 };
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct hp_map m = {0};
	assert_null(hp_map_get_u64(&m, 0));
	static int vals[N];
	for (int i = 0; i < N; i++) {
		void *out = NULL;
		assert_int_equal(hp_map_put_u64(&ctx, &m, (uint64_t)i * 24, &vals[i], &out), 0);
		assert_ptr_equal(out, &vals[i]);
	}
	assert_int_equal(m.len, N);
	assert_true(2 * m.len <= m.cap);
	for (int i = 0; i < N; i++) {
		if (hp_map_get_u64(&m, (uint64_t)i * 24) != &vals[i])
			fail_msg("key %d missing", i * 24);
		assert_null(hp_map_get_u64(&m, (uint64_t)i * 24 + 1));
	}
	assert_null(hp_map_get_u64(&m, (uint64_t)N * 24));
	assert_null(hp_map_get_u64(&m, UINT64_MAX - 1));
	int other = -1;
	void *out = NULL;
	assert_int_equal(hp_map_put_u64(&ctx, &m, 0, &other, &out), 0);
	assert_ptr_equal(out, &vals[0]);
	assert_ptr_equal(hp_map_get_u64(&m, 0), &vals[0]);
	assert_int_equal(m.len, N);
	/* Addresses far apart, as the DWARF reader gives out (0x10000 up). */
	struct hp_map a = {0};
	assert_int_equal(hp_map_put_u64(&ctx, &a, 0x10000, &vals[1], NULL), 0);
	assert_int_equal(hp_map_put_u64(&ctx, &a, 0x10000ull << 32, &vals[2], NULL), 0);
	assert_int_equal(hp_map_put_u64(&ctx, &a, UINT64_MAX - 1, &vals[3], NULL), 0);
	assert_ptr_equal(hp_map_get_u64(&a, 0x10000), &vals[1]);
	assert_ptr_equal(hp_map_get_u64(&a, 0x10000ull << 32), &vals[2]);
	assert_ptr_equal(hp_map_get_u64(&a, UINT64_MAX - 1), &vals[3]);
	assert_null(hp_map_get_u64(&a, 0));
	hp_ctx_fini(&ctx);
}

static void test_formats_hash__bytes_stable(void **state)
{
	(void)state;
	/* Equal bytes at different addresses (and alignments) hash equal, for every
	 * length around the 8-byte word boundary. */
	static const char text[] = "a_long_identifier_name_for_hashing.constprop.0";
	char buf[sizeof text + 8];
	for (size_t n = 0; n < sizeof text; n++) {
		for (size_t shift = 1; shift < 8; shift += 3) {
			memcpy(buf + shift, text, n);
			assert_true(hp_hash_bytes(text, n) == hp_hash_bytes(buf + shift, n));
		}
		assert_true(hp_hash_bytes(text, n) == hp_hash_bytes(text, n));
	}
	assert_true(hp_hash_str("count.0") == hp_hash_bytes("count.0", 7));
	/* Different input should give a different hash: a sanity check of mixing,
	 * including a difference in the last byte and in the tail after the words. */
	assert_true(hp_hash_str("count.0") != hp_hash_str("count.1"));
	assert_true(hp_hash_str("abcdefgh") != hp_hash_str("abcdefgi"));
	assert_true(hp_hash_str("abcdefgh1") != hp_hash_str("abcdefgh2"));
	assert_true(hp_hash_bytes("", 0) != hp_hash_bytes("\0", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_hash__put_get),
		cmocka_unit_test(test_formats_hash__empty_map),
		cmocka_unit_test(test_formats_hash__duplicate_keeps_first),
		cmocka_unit_test(test_formats_hash__growth),
		cmocka_unit_test(test_formats_hash__set_replaces),
		cmocka_unit_test(test_formats_hash__integer_keys),
		cmocka_unit_test(test_formats_hash__bytes_stable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
