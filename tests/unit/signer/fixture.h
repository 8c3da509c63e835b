/*
 * fixture.h: what the signer unit tests share: keys generated in-process and
 * written as PEM files into the test's temporary directory, and a small
 * container written by hpx_write(). Included by the tests in this folder only.
 */
#ifndef HP_TEST_SIGNER_FIXTURE_H
#define HP_TEST_SIGNER_FIXTURE_H

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/unit/helpers.h"

#include "signer/signer_internal.h"

/* A new key: "ED25519", "P-256", "P-384" or "RSA". Free with EVP_PKEY_free. */
static inline EVP_PKEY *fx_keygen(const char *kind)
{
	EVP_PKEY *k;
	if (!strcmp(kind, "ED25519"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (!strcmp(kind, "RSA"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
	assert_non_null(k);
	return k;
}

/* Write k's private (pub false) or public half as PEM to name in the temp dir; returns the path. */
static inline char *fx_write_pem(EVP_PKEY *k, const char *name, bool pub)
{
	BIO *b = BIO_new(BIO_s_mem());
	assert_non_null(b);
	if (pub)
		assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *path = th_write_file(name, data, (size_t)n);
	BIO_free(b);
	return path;
}

/* A small valid container, unsigned, malloc'd. */
static inline uint8_t *fx_container(size_t *len, uint64_t sequence)
{
	static uint8_t image[96];
	static struct hpx_object objects[] = { { "parse.o", "parse.c" } };
	static struct hpx_range masks[] = { { 3, 4 } };
	static struct hpx_func funcs[] = { { "parse_len", "", 0, 0, 64, { 1, 2, 3 }, 0, 1, 0, 80, 0 } };
	static struct hpx_sym syms[] = { { "strlen", "", 0, HPX_SYM_FUNC, HPX_SCOPE_GLOBAL, 0, 80 } };
	static struct hpx_segment segments[] = { { 0, 4096, HPX_PROT_R | HPX_PROT_X } };
	static struct hpx_fixup fixups[] = { { 20, HPX_FIX_BRANCH32, 0, -4 } };
	for (size_t i = 0; i < sizeof image; i++)
		image[i] = (uint8_t)(i * 13 + sequence);
	struct hpx h = { 0 };
	h.sequence = sequence;
	h.tool_version = "hpbuild test";
	h.target_name = "";
	h.image_size = 4096;
	h.objects = objects;
	h.nobjects = 1;
	h.funcs = funcs;
	h.nfuncs = 1;
	h.masks = masks;
	h.nmasks = 1;
	h.syms = syms;
	h.nsyms = 1;
	h.segments = segments;
	h.nsegments = 1;
	h.image = image;
	h.image_file_size = sizeof image;
	h.fixups = fixups;
	h.nfixups = 1;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	uint8_t *buf;
	if (hpx_write(&ctx, &h, &buf, len) < 0)
		fail_msg("hpx_write: %s", th_last_diag(&ctx));
	hp_ctx_fini(&ctx);
	return buf;
}

/* Open the PEM private key at path; the test fails if it cannot. */
static inline struct signer_key *fx_open(struct hp_ctx *ctx, const char *path)
{
	struct signer_key *k = NULL;
	if (signer_key_open(ctx, path, NULL, &k) < 0)
		fail_msg("signer_key_open(%s): %s", path, th_last_diag(ctx));
	return k;
}

#endif
