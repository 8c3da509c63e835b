/*
 * Unit tests for formats/sha256.c against the FIPS 180-4 examples.
 */
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"
#include "tests/unit/helpers.h"

static void hex(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, const char *want)
{
	uint8_t d[32];
	char h[65];
	hp_sha256(msg, strlen(msg), d);
	hex(d, h);
	assert_string_equal(h, want);
}

static void test_formats_sha256__vectors(void **state)
{
	(void)state;
	check("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* A million 'a', fed in pieces that straddle block boundaries. */
static void test_formats_sha256__incremental(void **state)
{
	(void)state;
	char *a = malloc(1000000);
	assert_non_null(a);
	memset(a, 'a', 1000000);
	struct hp_sha256 s;
	hp_sha256_init(&s);
	size_t off = 0, step = 1;
	while (off < 1000000) {
		size_t n = step < 1000000 - off ? step : 1000000 - off;
		hp_sha256_update(&s, a + off, n);
		off += n;
		step = step * 3 % 997 + 1;
	}
	uint8_t d[32];
	char h[65];
	hp_sha256_final(&s, d);
	hex(d, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

/* The CPU's SHA instructions (where it has them) and the portable code give the
 * same digest, for every length from 0 to 1100 bytes of varied data and for the
 * vectors above. */
static void test_formats_sha256__cpu_and_portable(void **state)
{
	(void)state;
	uint8_t buf[1100], a[32], b[32];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof buf; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	bool cpu = hp_sha256_use_cpu(true);
	printf("# SHA-256 instructions of the CPU: %s\n", cpu ? "used" : "not available");
	for (size_t n = 0; n <= sizeof buf; n++) {
		hp_sha256_use_cpu(true);
		hp_sha256(buf, n, a);
		hp_sha256_use_cpu(false);
		hp_sha256(buf, n, b);
		assert_memory_equal(a, b, 32);
	}
	test_formats_sha256__vectors(state);
	test_formats_sha256__incremental(state);
	hp_sha256_use_cpu(true);
	test_formats_sha256__vectors(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_sha256__vectors),
		cmocka_unit_test(test_formats_sha256__incremental),
		cmocka_unit_test(test_formats_sha256__cpu_and_portable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
