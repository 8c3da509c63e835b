/*
 * run.c: the pass list. hpdiff, hpbuild and the hpdiff fuzz target run the
 * same passes in the same order through differ_run(), so what hpbuild embeds
 * in its JSON as an "hpdiff-report" is what hpdiff prints for the same pair.
 */
#include "differ/differ.h"

int differ_run(struct hp_ctx *ctx, struct obj *old, struct obj *new, enum hp_level level,
	       struct differ_report *rep, struct differ_findings *findings)
{
	memset(rep, 0, sizeof *rep);
	memset(findings, 0, sizeof *findings);
	/* Recover the references the assembler resolved (no -ffunction-sections). */
	int err = differ_recover(ctx, old);
	int err2 = differ_recover(ctx, new);
	if (err < 0 || err2 < 0)
		return err < 0 ? err : err2;
	/* Pair each section and symbol of new with its twin in old. */
	if ((err = differ_correlate(ctx, old, new)) < 0)
		return err;
	/* Mark functions and data SAME/CHANGED/NEW/REMOVED; relocated fields do not count. */
	if ((err = differ_compare(ctx, old, new)) < 0)
		return err;
	/* Name what each changed function inlines, as DWARF tells. */
	if ((err = differ_explain(ctx, old, new)) < 0)
		return err;
	/* What a running process cannot absorb: changed data, layouts, signatures,
	 * constructors, TLS (every reason at once); tables the compiler made travel. */
	int refused = differ_check_layout(ctx, old, new, level, findings);
	if (refused < 0 && refused != -HP_EUNPATCHABLE)
		return refused;
	/* From here on the model is only read. */
	if ((err = differ_report_build(ctx, old, new, rep)) < 0)
		return err;
	rep->findings = findings;
	return refused < 0 ? refused : 0;
}
