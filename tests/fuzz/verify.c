/*
 * Fuzz target: the verifier (signer/verify.c) as hpverify and hpapply run it,
 * before anything past the header is trusted: hpx_read_envelope, then
 * signer_check and signer_verify against a trust store of one Ed25519 and one
 * P-256 public key (tests/fuzz/keys/, whose private halves signed the seeds
 * and were thrown away). Mutations reach OpenSSL's signature decoding (the
 * DER of an ECDSA signature) through our glue. Like replay, it runs from the
 * top of the tree.
 */
#include <stdio.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer.h"
#include "tests/fuzz/fuzz.h"

#define KEYS "tests/fuzz/keys"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct signer_trust *trust;
	static struct hp_ctx trust_ctx; /* holds the store for the whole run */
	if (!trust) {
		hp_ctx_init(&trust_ctx, "fuzz");
		if (signer_trust_load(&trust_ctx, KEYS, &trust) < 0) {
			fprintf(stderr, "verify: cannot load the trust store %s (run from the top of "
					"the tree)\n", KEYS);
			abort();
		}
	}
	uint8_t *buf = fuzz_copy(data, size);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "fuzz");
	struct hpx env;
	struct signer_verdict v;
	if (hpx_read_envelope(&ctx, "fuzz.hpx", buf, size, &env) == 0 &&
	    signer_check(&ctx, trust, buf, size, &env, &v) == 0) {
		for (size_t i = 0; i < v.nblocks; i++) {
			fuzz_touch_str(v.blocks[i].key_name);
			fuzz_touch_str(v.blocks[i].why);
		}
	}
	for (size_t require = 1; require <= 2; require++)
		if (signer_verify(&ctx, trust, "fuzz.hpx", buf, size, require, &v) == 0) {
			/* Verified: the body must then read, or be refused, cleanly. */
			struct hpx h;
			if (hpx_read(&ctx, "fuzz.hpx", buf, size, &h) == 0)
				fuzz_touch_hpx(&h);
		}
	hp_ctx_fini(&ctx);
	free(buf);
	return 0;
}
