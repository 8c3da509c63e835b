/*
 * Fuzz target: hpdiff and hpbuild on a pair of mutated objects, every pass in
 * the tools' order: read both (formats/elfread.c), differ_recover (LLVM),
 * differ_correlate, differ_compare, differ_explain (DWARF), differ_check_layout
 * (the safety gate: DWARF types and variables of both), the report as text and
 * JSON; then, when the gate found nothing, as hpbuild does, differ_collect and
 * linker_build, which walk the relocations of what travels, and hpx_write.
 *
 * Input: old_size:u32 (little-endian), then old_size bytes of OLD.o (fewer if
 * the input ends first), then NEW.o up to the end. make-corpus.sh writes the
 * seeds in that form.
 *
 * One invariant is checked beyond "no crash": a container hpx_write() produced
 * must be accepted by hpx_read(), or hpbuild would ship patches the applier
 * refuses. A violation aborts with the reader's message.
 */
#include <stdio.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
#include "linker/linker.h"
#include "tests/fuzz/fuzz.h"

static FILE *devnull(void)
{
	static FILE *f;
	if (!f && !(f = fopen("/dev/null", "w")))
		abort();
	return f;
}

/*
 * hpbuild's passes after the differ's, for one pair. They run even when the
 * safety gate found something (hpbuild would stop there), to reach the linker
 * with more inputs; the round trip is checked only for what hpbuild writes.
 */
static void build(struct hp_ctx *ctx, struct obj *old, struct obj *new, bool hpbuild_writes)
{
	struct differ_closure closure;
	if (differ_collect(ctx, old, new, &closure) < 0)
		return;
	size_t nchanged = 0;
	for (size_t i = 0; i < closure.nitems; i++)
		nchanged += closure.items[i].replaces;
	if (!nchanged)
		return;
	struct linker_input in = { old, new, "new.o", &closure };
	struct hpx h = { 0 };
	if (linker_build(ctx, &in, 1, &h) < 0)
		return;
	h.sequence = 1;
	h.tool_version = "hpbuild fuzz";
	h.target_name = "";
	uint8_t *file = NULL;
	size_t len = 0;
	if (hpx_write(ctx, &h, &file, &len) < 0)
		return;
	struct hpx back;
	if (hpx_read(ctx, "fix.hpx", file, len, &back) == 0) {
		fuzz_touch_hpx(&back);
	} else if (hpbuild_writes) {
		fprintf(stderr, "hpx_read refuses what hpx_write wrote: %s\n",
			ctx->ndiags ? ctx->diags[ctx->ndiags - 1].text : "?");
		abort();
	}
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	size_t n_old = hp_load_le32(data);
	if (n_old > size - 4)
		n_old = size - 4;
	uint8_t *a = fuzz_copy(data + 4, n_old), *b = fuzz_copy(data + 4 + n_old, size - 4 - n_old);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "fuzz");
	struct obj *old = NULL, *new = NULL;
	struct differ_report rep;
	if (obj_read_elf_mem(&ctx, "old.o", a, n_old, &old) < 0 ||
	    obj_read_elf_mem(&ctx, "new.o", b, size - 4 - n_old, &new) < 0)
		goto out;
	struct differ_findings findings;
	if (differ_run(&ctx, old, new, HP_LEVEL_WARNING, &rep, &findings) < 0)
		goto out;
	differ_report_text(devnull(), &rep, true);
	differ_report_json(devnull(), &rep);
	differ_report_has_changes(&rep);
	build(&ctx, old, new, findings.n == 0);
out:
	obj_free(old);
	obj_free(new);
	hp_ctx_fini(&ctx);
	free(a);
	free(b);
	return 0;
}
