/*
 * Unit tests for signer/pkcs11.c's choice of module: a URI and the options
 * map to one module, in the order --module, module-path=, module-name=,
 * $PKCS11_MODULE_PATH, p11-kit's proxy; and nothing found says what was
 * tried. Loading and signing with a real token is tests/e2e/pkcs11-uri.sh's.
 */
#include "formats/base.h"
#include "tests/unit/helpers.h"

#include <unistd.h>

#include "signer/signer_internal.h"

#define PROXY "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"

struct pick {
	const char *uri, *option, *env, *proxy;
	enum signer_module_from from;
	const char *value;
};

static void check_pick(const struct pick *c)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u = { 0 };
	if (signer_uri_parse(&ctx, c->uri, &u) < 0)
		fail_msg("%s: %s", c->uri, th_last_diag(&ctx));
	struct signer_key_opts opts = { .module = c->option };
	struct signer_module m = { 0 };
	int err = signer_p11_module(&ctx, c->uri, &u, &opts, c->env, c->proxy, &m);
	if (err < 0)
		fail_msg("%s: %s", c->uri, th_last_diag(&ctx));
	if (m.from != c->from || strcmp(m.value, c->value))
		fail_msg("%s (--module %s, env %s): got %s '%s', expected %s '%s'", c->uri,
			 c->option ? c->option : "-", c->env ? c->env : "-",
			 signer_module_why(m.from), m.value, signer_module_why(c->from), c->value);
	signer_uri_free(&u);
	hp_ctx_fini(&ctx);
}

static void test_signer_pkcs11__module_order(void **state)
{
	(void)state;
	const char *u_all = "pkcs11:token=t;module-path=/uri/path.so?module-name=softhsm2";
	const struct pick cases[] = {
		/* 1. --module beats all the rest. */
		{ u_all, "/opt/option.so", "/env.so", PROXY, SIGNER_MODULE_OPTION,
		  "/opt/option.so" },
		{ "pkcs11:token=t", "/opt/option.so", NULL, PROXY, SIGNER_MODULE_OPTION,
		  "/opt/option.so" },
		/* 2. module-path=, in the path or the query, beats module-name= and the rest. */
		{ u_all, NULL, "/env.so", PROXY, SIGNER_MODULE_URI_PATH, "/uri/path.so" },
		{ "pkcs11:token=t?module-path=/uri/q.so", NULL, "/env.so", PROXY,
		  SIGNER_MODULE_URI_PATH, "/uri/q.so" },
		{ "pkcs11:module-path=/uri/p.so;token=t", NULL, NULL, PROXY, SIGNER_MODULE_URI_PATH,
		  "/uri/p.so" },
		/* 3. module-name= beats the environment. */
		{ "pkcs11:token=t?module-name=softhsm2", NULL, "/env.so", PROXY,
		  SIGNER_MODULE_URI_NAME, "softhsm2" },
		{ "pkcs11:module-name=softhsm2;token=t", NULL, NULL, PROXY, SIGNER_MODULE_URI_NAME,
		  "softhsm2" },
		/* 4. $PKCS11_MODULE_PATH beats the proxy; empty is unset. */
		{ "pkcs11:token=t", NULL, "/env.so", PROXY, SIGNER_MODULE_ENV, "/env.so" },
		{ "pkcs11:token=t", NULL, "", PROXY, SIGNER_MODULE_PROXY, PROXY },
		/* 5. Nothing named: p11-kit's proxy. */
		{ "pkcs11:token=t", NULL, NULL, PROXY, SIGNER_MODULE_PROXY, PROXY },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_pick(&cases[i]);
}

static void test_signer_pkcs11__no_module(void **state)
{
	(void)state;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct signer_uri u = { 0 };
	assert_int_equal(signer_uri_parse(&ctx, "pkcs11:token=t", &u), 0);
	struct signer_module m = { 0 };
	assert_int_equal(signer_p11_module(&ctx, "pkcs11:token=t", &u, NULL, "",
					   "/nonexistent/p11-kit-proxy.so", &m),
			 -HP_ERROR);
	assert_int_equal(ctx.ndiags, 1);
	const char *d = th_last_diag(&ctx);
	/* Each place looked at is named. */
	const char *want[] = { "no PKCS#11 module", "--module", "module-path=", "module-name=",
			       "PKCS11_MODULE_PATH unset",
			       "p11-kit's proxy module /nonexistent/p11-kit-proxy.so is missing" };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(d, want[i]))
			fail_msg("expected '%s' in '%s'", want[i], d);
	signer_uri_free(&u);
	hp_ctx_fini(&ctx);
}

/* The proxy the build was told about (pkg-config's proxy_module) is a file of this machine. */
static void test_signer_pkcs11__proxy(void **state)
{
	(void)state;
	const char *p = signer_p11_proxy();
	size_t n = strlen(p);
	assert_true(n > 16 && !strcmp(p + n - 16, "p11-kit-proxy.so"));
	assert_int_equal(p[0], '/');
	assert_int_equal(access(p, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_pkcs11__module_order),
		cmocka_unit_test(test_signer_pkcs11__no_module),
		cmocka_unit_test(test_signer_pkcs11__proxy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
