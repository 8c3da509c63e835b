/*
 * Fuzz target: the reader of a process's hotpatch record (runtime/state.c,
 * state_decode). The record lives in the target process, whose owner can
 * write anything there, so hpapply and hpstatus (often as root) read it as
 * hostile input. The input is one slot of the record; the MAC check is left
 * out (key NULL) so the fuzzer reaches every field check. A record the reader
 * accepts must keep its promises: counts within bounds, every function
 * belonging to a patch, every patch's count of functions right, names ended.
 */
#include "formats/base.h"
#include "runtime/runtime_internal.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = state_slot_size();
	uint8_t *b = calloc(1, n);
	struct rt_state *s = calloc(1, sizeof *s);
	if (!b || !s)
		abort();
	memcpy(b, data, size < n ? size : n);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "fuzz");
	if (state_decode(&ctx, 1, b, NULL, s) == 0) {
		if (s->npatches > RT_MAX_PATCHES || s->nfuncs > RT_MAX_FUNCS || s->nhigh > RT_MAX_HIGH)
			abort();
		if (s->op != RT_OP_NONE && s->op_patch >= s->npatches)
			abort();
		uint32_t count[RT_MAX_PATCHES] = { 0 };
		for (uint32_t i = 0; i < s->nfuncs; i++) {
			if (s->funcs[i].patch >= s->npatches)
				abort();
			count[s->funcs[i].patch]++;
			fuzz_touch_str(s->funcs[i].name);
		}
		for (uint32_t i = 0; i < s->npatches; i++) {
			if (count[i] != s->patches[i].nfuncs || s->patches[i].build_id_size > 64)
				abort();
			fuzz_touch_str(s->patches[i].target);
		}
	}
	hp_ctx_fini(&ctx);
	free(s);
	free(b);
	return 0;
}
