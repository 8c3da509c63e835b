/*
 * Unit tests for signer/uri.c: pkcs11: URIs as RFC 7512 writes them (path and
 * query attributes, percent-encoding, id as bytes), read by p11-kit; the
 * module-path= and module-name= forms; and the refusals that keep a URI from
 * picking another key than the one meant, or a PIN from reaching the command
 * line (p11-kit alone would let each of them through).
 */
#include "formats/base.h"
#include "tests/unit/helpers.h"

#include <p11-kit/uri.h>

#include "signer/signer_internal.h"

static int parse(struct hp_ctx *ctx, struct signer_uri *u, const char *s)
{
	signer_uri_free(u);
	return signer_uri_parse(ctx, s, u);
}

/* A blank-padded PKCS#11 field as p11-kit filled it holds s. */
static void assert_padded(const unsigned char *field, size_t size, const char *s)
{
	size_t n = strlen(s);
	assert_true(n <= size);
	assert_memory_equal(field, s, n);
	for (size_t i = n; i < size; i++)
		if (field[i] != ' ')
			fail_msg("byte %zu of the field for '%s' is 0x%02x, not a blank", i, s,
				 field[i]);
}

static void test_signer_uri__attributes(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u = { 0 };
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=hp-sec;object=ec-key;type=private"), 0);
	CK_TOKEN_INFO *t = p11_kit_uri_get_token_info(u.kit);
	assert_padded(t->label, sizeof t->label, "hp-sec");
	assert_string_equal(u.object, "ec-key");
	assert_string_equal(u.type, "private");
	assert_true(u.is_private);
	assert_false(u.has_id);
	assert_null(u.module_path);
	assert_null(u.module_name);

	/* RFC 7512 section 3's example, with a query. */
	assert_int_equal(parse(&ctx, &u,
			       "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
			       "manufacturer=Snake%20Oil,%20Inc.;model=1.0;serial=42;"
			       "object=my-certificate;type=private;id=%69%95%3e%5c%f4%c2"
			       "?pin-source=file:/etc/token&module-path=/usr/lib/p11.so"),
			 0);
	t = p11_kit_uri_get_token_info(u.kit);
	assert_padded(t->label, sizeof t->label, "The Software PKCS#11 Softtoken");
	assert_padded(t->manufacturerID, sizeof t->manufacturerID, "Snake Oil, Inc.");
	assert_padded(t->model, sizeof t->model, "1.0");
	assert_padded(t->serialNumber, sizeof t->serialNumber, "42");
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
	CK_SLOT_INFO *s = p11_kit_uri_get_slot_info(u.kit);
	assert_padded(s->slotDescription, sizeof s->slotDescription, "a b");
	CK_INFO *m = p11_kit_uri_get_module_info(u.kit);
	assert_padded(m->manufacturerID, sizeof m->manufacturerID, "SoftHSM");
	assert_int_equal(m->libraryVersion.major, 2);
	assert_int_equal(m->libraryVersion.minor, 6);
	/* Nothing at all is a URI too (it matches every token), and a trailing ';' is harmless. */
	assert_int_equal(parse(&ctx, &u, "pkcs11:"), 0);
	assert_false(u.has_slot_id);
	assert_int_equal(parse(&ctx, &u, "pkcs11:object=k;"), 0);
	assert_string_equal(u.object, "k");
	/* The scheme is case-insensitive. */
	assert_int_equal(parse(&ctx, &u, "PKCS11:object=k"), 0);
	assert_string_equal(u.object, "k");
	assert_int_equal(ctx.ndiags, 0);
	signer_uri_free(&u);
	signer_uri_free(&u); /* twice is harmless */
	hp_ctx_fini(&ctx);
}

/* What pkcs11.c matches with: p11-kit's verdict on a token, slot and library. */
static void test_signer_uri__matching(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u = { 0 };
	CK_TOKEN_INFO tok;
	memset(&tok, ' ', sizeof tok);
	memcpy(tok.label, "hp-sec", 6);
	memcpy(tok.serialNumber, "42", 2);
	CK_SLOT_INFO slot;
	memset(&slot, ' ', sizeof slot);
	memcpy(slot.manufacturerID, "SoftHSM project", 15);
	CK_INFO lib;
	memset(&lib, ' ', sizeof lib);
	memcpy(lib.manufacturerID, "SoftHSM", 7);
	lib.libraryVersion.major = 2;
	lib.libraryVersion.minor = 6;

	assert_int_equal(parse(&ctx, &u, "pkcs11:object=k"), 0);
	assert_true(p11_kit_uri_match_token_info(u.kit, &tok));
	assert_true(p11_kit_uri_match_slot_info(u.kit, &slot));
	assert_true(p11_kit_uri_match_module_info(u.kit, &lib));
	assert_int_equal(parse(&ctx, &u,
			       "pkcs11:token=hp-sec;serial=42;slot-manufacturer=SoftHSM%20project;"
			       "library-manufacturer=SoftHSM;library-version=2.6"),
			 0);
	assert_true(p11_kit_uri_match_token_info(u.kit, &tok));
	assert_true(p11_kit_uri_match_slot_info(u.kit, &slot));
	assert_true(p11_kit_uri_match_module_info(u.kit, &lib));
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=hp-se"), 0);
	assert_false(p11_kit_uri_match_token_info(u.kit, &tok));
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=hp-sec;serial=43"), 0);
	assert_false(p11_kit_uri_match_token_info(u.kit, &tok));
	assert_int_equal(parse(&ctx, &u, "pkcs11:slot-manufacturer=SoftHSM"), 0);
	assert_false(p11_kit_uri_match_slot_info(u.kit, &slot));
	assert_int_equal(parse(&ctx, &u, "pkcs11:library-version=2"), 0);
	assert_false(p11_kit_uri_match_module_info(u.kit, &lib));
	assert_int_equal(ctx.ndiags, 0);
	signer_uri_free(&u);
	hp_ctx_fini(&ctx);
}

/* module-path= and module-name=: the query (RFC 7512) or the path, each once. */
static void test_signer_uri__module(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u = { 0 };
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=a;object=k?module-path=/usr/lib/x.so"), 0);
	assert_string_equal(u.module_path, "/usr/lib/x.so");
	assert_string_equal(u.object, "k");
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=a;module-path=/usr/lib/x.so;object=k"), 0);
	assert_string_equal(u.module_path, "/usr/lib/x.so");
	assert_string_equal(u.object, "k");
	assert_padded(p11_kit_uri_get_token_info(u.kit)->label, 32, "a");
	/* Moved to the query along with another query attribute; values are decoded. */
	assert_int_equal(parse(&ctx, &u, "pkcs11:module-path=/opt/my%20hsm/p11.so;object=k"
					 "?pin-source=/run/pin"),
			 0);
	assert_string_equal(u.module_path, "/opt/my hsm/p11.so");
	assert_string_equal(u.pin_source, "/run/pin");
	/* A '&' is a path value's own (RFC 7512 allows it there); it must not split the query. */
	assert_int_equal(parse(&ctx, &u, "pkcs11:module-path=/opt/a&b.so?pin-source=/run/pin"), 0);
	assert_string_equal(u.module_path, "/opt/a&b.so");
	assert_string_equal(u.pin_source, "/run/pin");
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=a?module-name=softhsm2"), 0);
	assert_string_equal(u.module_name, "softhsm2");
	assert_null(u.module_path);
	assert_int_equal(parse(&ctx, &u, "pkcs11:module-name=softhsm2;token=a"), 0);
	assert_string_equal(u.module_name, "softhsm2");
	assert_int_equal(parse(&ctx, &u, "pkcs11:token=a?module-name=softhsm2&module-path=/x.so"),
			 0);
	assert_string_equal(u.module_name, "softhsm2");
	assert_string_equal(u.module_path, "/x.so");
	assert_int_equal(ctx.ndiags, 0);
	signer_uri_free(&u);
	hp_ctx_fini(&ctx);
}

static void expect_refusal(const char *uri, const char *what)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u;
	assert_int_equal(signer_uri_parse(&ctx, uri, &u), -HP_ERROR);
	assert_null(u.kit); /* nothing to free */
	assert_int_equal(ctx.ndiags, 1);
	if (!strstr(th_last_diag(&ctx), what))
		fail_msg("%s: expected '%s' in '%s'", uri, what, th_last_diag(&ctx));
	hp_ctx_fini(&ctx);
}

static void test_signer_uri__refusals(void **state)
{
	(void)state;
	expect_refusal("file:/key.pem", "not a pkcs11: URI");
	/* p11-kit would keep the second of each. */
	expect_refusal("pkcs11:token=a;token=b", "'token' is given twice");
	expect_refusal("pkcs11:id=%01;id=%02", "'id' is given twice");
	expect_refusal("pkcs11:token=a?module-path=/a.so&module-path=/b.so",
		       "'module-path' is given twice");
	expect_refusal("pkcs11:module-path=/a.so?module-path=/b.so",
		       "'module-path' is given twice");
	/* p11-kit would ignore these (a path attribute it does not know sets a flag; a query
	 * attribute becomes a vendor query). */
	expect_refusal("pkcs11:objekt=x", "unknown attribute 'objekt'; a key is named by token");
	expect_refusal("pkcs11:token=a?foo=1", "unknown attribute 'foo'");
	expect_refusal("pkcs11:token=a;x-vendor=1", "unknown attribute 'x-vendor'");
	expect_refusal("pkcs11:pin-source=/run/pin", "'pin-source' belongs in the query");
	expect_refusal("pkcs11:token=a?object=k", "'object' belongs in the path");
	/* p11-kit takes pin-value= in the path and in the query. */
	expect_refusal("pkcs11:token=a?pin-value=1234", "pin-value= would show the PIN");
	expect_refusal("pkcs11:token=a;pin-value=1234", "pin-value= would show the PIN");
	/* p11-kit refuses these; the message names the attribute. */
	expect_refusal("pkcs11:token=a;object=%4", "attribute 'object': bad percent escape");
	expect_refusal("pkcs11:object=%zz", "bad percent escape");
	expect_refusal("pkcs11:object=%", "bad percent escape");
	expect_refusal("pkcs11:token=a?module-path=/x%2.so",
		       "attribute 'module-path': bad percent");
	expect_refusal("pkcs11:slot-id=x", "slot-id 'x' is not a number");
	expect_refusal("pkcs11:slot-id=-1", "slot-id '-1' is not a number");
	expect_refusal("pkcs11:library-version=two", "library-version 'two' is not MAJOR");
	/* ... and does not recognize these. */
	expect_refusal("pkcs11:type=secret", "type 'secret' is not");
	expect_refusal("pkcs11:token=012345678901234567890123456789012",
		       "attribute 'token' is longer than the 32 bytes");
	expect_refusal("pkcs11:serial=01234567890123456", "'serial' is longer than the 16 bytes");
	/* Ours. */
	expect_refusal("pkcs11:object=a%00b", "attribute 'object' holds a NUL byte");
	expect_refusal("pkcs11:object", "has no '=value'");
	expect_refusal("pkcs11:token=a?pin-source=relative/file", "not file:/ABSOLUTE/PATH");
	expect_refusal("pkcs11:=x", "is not an attribute");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_uri__attributes),
		cmocka_unit_test(test_signer_uri__matching),
		cmocka_unit_test(test_signer_uri__module),
		cmocka_unit_test(test_signer_uri__refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
