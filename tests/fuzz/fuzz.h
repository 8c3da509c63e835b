/*
 * fuzz.h: what the fuzz targets share.
 *
 * Each target in tests/fuzz/ is one libFuzzer entry point around one reader
 * (zstd's tests/fuzz/ is the model). `make fuzz` links each with libFuzzer
 * under ASan and UBSan and lets it mutate for FUZZ_SECONDS; `make check` links
 * each with replay.c instead, which runs the committed corpus in
 * tests/fuzz/corpus/<target>/ once. A target never fails on bad input: it
 * returns, and only a crash, a sanitizer report, a leak or an abort() on a
 * broken invariant is a finding.
 */
#ifndef HP_FUZZ_H
#define HP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hpx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A malloc'd copy of the input (at least one byte), so that ASan flags a read
 * even one byte past the end of it, and a reader that wrote into its input
 * would not corrupt libFuzzer's copy.
 */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
	uint8_t *p = size ? malloc(size) : calloc(1, 1);
	if (!p)
		abort();
	if (size)
		memcpy(p, data, size);
	return p;
}

/*
 * Read every byte of [p, p + n) so that ASan checks the whole range: a pointer
 * a reader hands out must cover what it claims. The sum goes nowhere useful.
 */
static inline unsigned fuzz_touch(const void *p, size_t n)
{
	const volatile uint8_t *b = p;
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += b[i];
	return sum;
}

/* Read a string to its end (ASan checks it is terminated inside valid memory). */
static inline size_t fuzz_touch_str(const char *s)
{
	return s ? strlen(s) : 0;
}

/* Read everything a successful hpx_read() hands out, as hpinspect prints it. */
static inline void fuzz_touch_hpx(const struct hpx *h)
{
	fuzz_touch_str(h->tool_version);
	fuzz_touch_str(h->target_name);
	for (size_t i = 0; i < h->nobjects; i++) {
		fuzz_touch_str(h->objects[i].path);
		fuzz_touch_str(h->objects[i].cu);
	}
	for (size_t i = 0; i < h->nfuncs; i++) {
		const struct hpx_func *f = &h->funcs[i];
		fuzz_touch_str(f->name);
		fuzz_touch_str(f->file);
		fuzz_touch_str(h->objects[f->object].path);
		fuzz_touch(h->masks + f->mask_first, f->mask_count * sizeof *h->masks);
		/* The masks must lie inside old_size: hash a zero function of that size. */
		if (f->old_size <= 65536) {
			static const uint8_t zeros[65536];
			uint8_t out[32];
			hpx_masked_hash(zeros, f->old_size, h->masks + f->mask_first, f->mask_count,
					out);
		}
	}
	for (size_t i = 0; i < h->nsyms; i++) {
		fuzz_touch_str(h->syms[i].name);
		fuzz_touch_str(h->syms[i].file);
	}
	fuzz_touch(h->segments, h->nsegments * sizeof *h->segments);
	fuzz_touch(h->image, h->image_file_size);
	for (size_t i = 0; i < h->nfixups; i++)
		if (h->fixups[i].target != HPX_TARGET_IMAGE)
			fuzz_touch_str(h->syms[h->fixups[i].target].name);
	for (size_t i = 0; i < h->nsigs; i++)
		fuzz_touch(h->sigs[i].sig, h->sigs[i].sig_size);
}

#endif
