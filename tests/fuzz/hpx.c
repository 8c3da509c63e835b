/*
 * Fuzz target: the .hpx reader (formats/hpx.c) as hpinspect, hpverify and the
 * applier call it: the envelope alone (the header and signature blocks, what a
 * verifier reads before it trusts anything), then the whole container.
 *
 * Random bytes rarely get past the header's check field (a SHA-256 over the
 * header and body), so each input is read twice: as it is, and with the check
 * field recomputed, which lets mutations of the body reach the decompressor.
 * hpx_payload.c goes one step further and wraps a mutated payload in a valid
 * container, to reach the section parser.
 */
#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/fuzz/fuzz.h"

static void read_one(const uint8_t *buf, size_t len)
{
	struct hp_ctx ctx;
	struct hpx h;
	hp_ctx_init(&ctx, "fuzz");
	if (hpx_read_envelope(&ctx, "fuzz.hpx", buf, len, &h) == 0) {
		for (size_t i = 0; i < h.nsigs; i++) {
			uint8_t msg[HPX_SIG_MESSAGE_SIZE];
			fuzz_touch(h.sigs[i].sig, h.sigs[i].sig_size);
			hpx_sig_message(buf, h.sigs[i].start, h.sigs[i].algorithm, h.sigs[i].key_id,
					msg);
		}
	}
	if (hpx_read(&ctx, "fuzz.hpx", buf, len, &h) == 0)
		fuzz_touch_hpx(&h);
	hp_ctx_fini(&ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);
	read_one(buf, size);
	/* Again with a valid check field: header bytes 56..63 are the first 8
	 * bytes of SHA-256(header[0..56) || body). */
	if (size >= HPX_HEADER_SIZE) {
		uint64_t body = hp_load_le64(buf + 16);
		if (body >= HPX_BODY_HEADER_SIZE && body <= size - HPX_HEADER_SIZE) {
			struct hp_sha256 s;
			uint8_t d[32];
			hp_sha256_init(&s);
			hp_sha256_update(&s, buf, 56);
			hp_sha256_update(&s, buf + HPX_HEADER_SIZE, (size_t)body);
			hp_sha256_final(&s, d);
			if (memcmp(buf + 56, d, 8)) {
				memcpy(buf + 56, d, 8);
				read_one(buf, size);
			}
		}
	}
	free(buf);
	return 0;
}
