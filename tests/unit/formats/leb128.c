/*
 * Unit tests for the LEB128 decoders every DWARF reader of ours shares
 * (dw_uleb, dw_sleb in formats/dwarfread.c): the DWARF 5 standard's examples
 * (section 7.6), the ends of the 64-bit range, padding, and the inputs that
 * must be refused: cut short, or longer than 10 bytes.
 */
#include "tests/unit/helpers.h"

#include "formats/dwarf_internal.h"

static void test_formats_leb128__uleb_values(void **state)
{
	(void)state;
	static const struct {
		uint8_t b[11];
		size_t n;
		uint64_t v;
	} cases[] = {
		{ { 0x02 }, 1, 2 },
		{ { 0x7f }, 1, 127 },
		{ { 0x80, 0x01 }, 2, 128 },
		{ { 0x81, 0x01 }, 2, 129 },
		{ { 0x82, 0x01 }, 2, 130 },
		{ { 0xb9, 0x64 }, 2, 12857 },
		{ { 0x80, 0x80, 0x00 }, 3, 0 }, /* padded: still one number */
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10, UINT64_MAX },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t at = 0;
		uint64_t v = 1234;
		assert_true(dw_uleb(cases[i].b, cases[i].n, &at, &v));
		assert_int_equal(at, cases[i].n);
		assert_int_equal(v, cases[i].v);
	}
}

static void test_formats_leb128__sleb_values(void **state)
{
	(void)state;
	static const struct {
		uint8_t b[11];
		size_t n;
		int64_t v;
	} cases[] = {
		{ { 0x02 }, 1, 2 },
		{ { 0x7e }, 1, -2 },
		{ { 0xff, 0x00 }, 2, 127 },
		{ { 0x81, 0x7f }, 2, -127 },
		{ { 0x80, 0x01 }, 2, 128 },
		{ { 0x80, 0x7f }, 2, -128 },
		{ { 0x40 }, 1, -64 },
		/* 9 bytes: the sign lands in bit 63, the shift the fuzzer found UB in */
		{ { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40 }, 9, -(INT64_C(1) << 62) },
		{ { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f }, 10, INT64_MIN },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 }, 10, INT64_MAX },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t at = 0;
		int64_t v = 1234;
		assert_true(dw_sleb(cases[i].b, cases[i].n, &at, &v));
		assert_int_equal(at, cases[i].n);
		if (v != cases[i].v)
			fail_msg("case %zu: %lld, want %lld", i, (long long)v, (long long)cases[i].v);
	}
}

/* A cursor moves past each number in turn, from where it stands. */
static void test_formats_leb128__cursor(void **state)
{
	(void)state;
	const uint8_t b[] = { 0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x01 };
	size_t at = 0;
	uint64_t u;
	int64_t s;
	assert_true(dw_uleb(b, sizeof b, &at, &u));
	assert_int_equal(u, 624485);
	assert_int_equal(at, 3);
	assert_true(dw_sleb(b, sizeof b, &at, &s));
	assert_int_equal(s, -1);
	assert_true(dw_uleb(b, sizeof b, &at, &u));
	assert_int_equal(u, 128);
	assert_int_equal(at, sizeof b);
	assert_false(dw_uleb(b, sizeof b, &at, &u)); /* at the end */
}

static void test_formats_leb128__refused(void **state)
{
	(void)state;
	const uint8_t cut[] = { 0x80, 0x80 };
	const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	size_t at = 0;
	uint64_t u;
	int64_t s;
	assert_false(dw_uleb(cut, sizeof cut, &at, &u));
	at = 0;
	assert_false(dw_sleb(cut, sizeof cut, &at, &s));
	at = 0;
	assert_false(dw_uleb(eleven, sizeof eleven, &at, &u));
	at = 0;
	assert_false(dw_sleb(eleven, sizeof eleven, &at, &s));
	at = 0;
	assert_false(dw_uleb(cut, 0, &at, &u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_leb128__uleb_values),
		cmocka_unit_test(test_formats_leb128__sleb_values),
		cmocka_unit_test(test_formats_leb128__cursor),
		cmocka_unit_test(test_formats_leb128__refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
