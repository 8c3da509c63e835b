/*
 * cli.c: helpers shared by the command-line tools.
 */
#include "cli/cli.h"

void cli_print_diags(const struct hp_ctx *ctx, FILE *f)
{
	for (size_t i = 0; i < ctx->ndiags; i++) {
		const struct hp_diag *d = &ctx->diags[i];
		fprintf(f, "%s: %s%s", ctx->tool, d->level == HP_LEVEL_WARNING ? "warning: " : "",
			d->text);
		if (ctx->verbose && d->where)
			fprintf(f, " [%s]", d->where);
		fputc('\n', f);
	}
	if (ctx->oom)
		fprintf(f, "%s: out of memory\n", ctx->tool);
}

void cli_print_version(const char *tool)
{
	printf("%s (hotpatch) %s\n", tool, HP_VERSION);
}
