/*
 * Unit tests for signer/uri.c: pkcs11: URIs as RFC 7512 writes them (path and
 * query attributes, percent-encoding, id as bytes), and the refusals that keep
 * a URI from picking another key than the one meant, or a PIN from reaching
 * the command line.
 */
#include "formats/base.h"
#include "tests/unit/helpers.h"

#include "signer/signer_internal.h"

static int parse(struct hp_ctx *ctx, struct signer_uri *u, const char *s)
{
	return signer_uri_parse(ctx, s, u);
}

static void test_signer_uri__attributes(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u;
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=hp-sec;object=ec-key;type=private"), 0);
	assert_string_equal(u.token, "hp-sec");
	assert_string_equal(u.object, "ec-key");
	assert_string_equal(u.type, "private");
	assert_false(u.has_id);
	assert_null(u.module_path);

	/* RFC 7512 section 3's example, with a query. */
	assert_int_equal(parse(&ctx, &u,
			       "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
			       "manufacturer=Snake%20Oil,%20Inc.;model=1.0;serial=42;"
			       "object=my-certificate;type=private;id=%69%95%3e%5c%f4%c2"
			       "?pin-source=file:/etc/token&module-path=/usr/lib/p11.so"),
			 0);
	assert_string_equal(u.token, "The Software PKCS#11 Softtoken");
	assert_string_equal(u.manufacturer, "Snake Oil, Inc.");
	assert_string_equal(u.model, "1.0");
	assert_string_equal(u.serial, "42");
	assert_true(u.has_id);
	assert_int_equal(u.id_len, 6);
	assert_memory_equal(u.id, "\x69\x95\x3e\x5c\xf4\xc2", 6);
	assert_string_equal(u.pin_source, "/etc/token");
	assert_string_equal(u.module_path, "/usr/lib/p11.so");

	/* id is bytes: %00 is a byte like any other. */
	assert_int_equal(parse(&ctx, &u, "pkcs11:id=%01%00%ff"), 0);
	assert_int_equal(u.id_len, 3);
	assert_memory_equal(u.id, "\x01\x00\xff", 3);
	assert_int_equal(parse(&ctx, &u, "pkcs11:slot-id=7;slot-description=a%20b;"
					 "library-manufacturer=SoftHSM;library-version=2.6"),
			 0);
	assert_true(u.has_slot_id);
	assert_int_equal(u.slot_id, 7);
	assert_string_equal(u.slot_description, "a b");
	assert_string_equal(u.library_version, "2.6");
	/* Nothing at all is a URI too (it matches every token), and a trailing ';' is harmless. */
	assert_int_equal(parse(&ctx, &u, "pkcs11:"), 0);
	assert_int_equal(parse(&ctx, &u, "pkcs11:object=k;"), 0);
	assert_string_equal(u.object, "k");
	assert_int_equal(ctx.ndiags, 0);
	hp_ctx_fini(&ctx);
}

static void expect_refusal(const char *uri, const char *what)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u;
	assert_int_equal(parse(&ctx, &u, uri), -HP_ERROR);
	assert_int_equal(ctx.ndiags, 1);
	if (!strstr(th_last_diag(&ctx), what))
		fail_msg("%s: expected '%s' in '%s'", uri, what, th_last_diag(&ctx));
	hp_ctx_fini(&ctx);
}

static void test_signer_uri__refusals(void **state)
{
	(void)state;
	expect_refusal("file:/key.pem", "not a pkcs11: URI");
	expect_refusal("pkcs11:token=a;token=b", "'token' is given twice");
	expect_refusal("pkcs11:id=%01;id=%02", "'id' is given twice");
	expect_refusal("pkcs11:objekt=x", "unknown path attribute 'objekt'");
	expect_refusal("pkcs11:module-path=/x.so", "unknown path attribute 'module-path'");
	expect_refusal("pkcs11:token=a?foo=1", "unknown query attribute 'foo'");
	expect_refusal("pkcs11:token=a?pin-value=1234", "pin-value= would show the PIN");
	expect_refusal("pkcs11:token=a?module-name=softhsm2", "module-name= is not supported");
	expect_refusal("pkcs11:object=%4", "bad percent escape");
	expect_refusal("pkcs11:object=%zz", "bad percent escape");
	expect_refusal("pkcs11:object=%", "bad percent escape");
	expect_refusal("pkcs11:object=a%00b", "holds a NUL byte");
	expect_refusal("pkcs11:object", "has no '=value'");
	expect_refusal("pkcs11:type=secret", "type 'secret' is not");
	expect_refusal("pkcs11:slot-id=x", "slot-id 'x' is not a number");
	expect_refusal("pkcs11:slot-id=-1", "slot-id '-1' is not a number");
	expect_refusal("pkcs11:token=a?pin-source=relative/file", "not file:/ABSOLUTE/PATH");
	expect_refusal("pkcs11:=x", "is not an attribute");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_uri__attributes),
		cmocka_unit_test(test_signer_uri__refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
