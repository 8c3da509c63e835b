/*
 * Fuzz target: the section parser of the .hpx reader (formats/hpx.c). The
 * input is an uncompressed payload (the section table and the sections); the
 * target wraps it in a container that is valid on the outside (header, patch
 * id, body header, a zstd frame with content size and checksum, check field)
 * and reads it with hpx_read(), so every mutation reaches the checks of
 * STRINGS, PATCH, OBJECTS, FUNCS, MASKS, SYMBOLS, SEGMENTS, IMAGE and FIXUPS.
 */
#include <zstd.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ZSTD_CCtx *cctx;
	if (size == 0 || size > HPX_MAX_PAYLOAD)
		return 0;
	if (!cctx) {
		cctx = ZSTD_createCCtx();
		if (!cctx)
			abort();
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	}
	size_t bound = ZSTD_compressBound(size);
	size_t at = HPX_HEADER_SIZE + HPX_BODY_HEADER_SIZE;
	uint8_t *file = malloc(at + bound);
	if (!file)
		abort();
	size_t zn = ZSTD_compress2(cctx, file + at, bound, data, size);
	if (ZSTD_isError(zn))
		abort();
	size_t len = at + zn;
	uint8_t digest[32];
	hp_sha256(data, size, digest);
	static const uint8_t magic[8] = { 0x89, 'H', 'P', 'X', '\r', '\n', 0x1a, '\n' };
	memcpy(file, magic, 8);
	hp_store_le16(file + 8, HPX_VERSION);
	hp_store_le16(file + 10, HPX_HEADER_SIZE);
	hp_store_le32(file + 12, 0);
	hp_store_le64(file + 16, HPX_BODY_HEADER_SIZE + zn);
	memcpy(file + 24, digest, 16);
	hp_store_le64(file + 40, 1);
	hp_store_le64(file + 48, 0);
	hp_store_le64(file + HPX_HEADER_SIZE, size);
	hp_store_le32(file + HPX_HEADER_SIZE + 8, 1);
	hp_store_le32(file + HPX_HEADER_SIZE + 12, 0);
	struct hp_sha256 s;
	hp_sha256_init(&s);
	hp_sha256_update(&s, file, 56);
	hp_sha256_update(&s, file + HPX_HEADER_SIZE, len - HPX_HEADER_SIZE);
	hp_sha256_final(&s, digest);
	memcpy(file + 56, digest, 8);

	struct hp_ctx ctx;
	struct hpx h;
	hp_ctx_init(&ctx, "fuzz");
	if (hpx_read(&ctx, "fuzz.hpx", file, len, &h) == 0)
		fuzz_touch_hpx(&h);
	hp_ctx_fini(&ctx);
	free(file);
	return 0;
}
