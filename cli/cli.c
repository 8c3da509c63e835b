/*
 * cli.c: helpers shared by the command-line tools.
 */
#include <errno.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "formats/base.h"

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

int cli_exit_code(int err)
{
	switch (-err) {
	case 0:
		return CLI_EXIT_OK;
	case HP_EMISMATCH:
		return CLI_EXIT_MISMATCH;
	case HP_EALREADY:
		return CLI_EXIT_ALREADY;
	case HP_EVERIFY:
	case HP_ECORRUPT:
	case HP_EUNSUPPORTED:
		return CLI_EXIT_VERIFY;
	case HP_EBUSY:
		return CLI_EXIT_NOSAFE;
	case HP_ELOCKED:
		return CLI_EXIT_LOCKED;
	case HP_ERECORD:
		return CLI_EXIT_RECORD;
	case HP_EINTR:
		return CLI_EXIT_INTR;
	case HP_EPOLICY:
		return CLI_EXIT_POLICY;
	case HP_ECONFINED:
		return CLI_EXIT_CONFINED;
	}
	return CLI_EXIT_ERROR;
}

const char *cli_result_name(int err, const char *done)
{
	switch (cli_exit_code(err)) {
	case CLI_EXIT_OK:
		return done;
	case CLI_EXIT_MISMATCH:
		return "refused: target mismatch";
	case CLI_EXIT_ALREADY:
		return "already applied";
	case CLI_EXIT_VERIFY:
		return "refused: verification failed";
	case CLI_EXIT_NOSAFE:
		return "refused: no safe moment";
	case CLI_EXIT_LOCKED:
		return "refused: busy";
	case CLI_EXIT_RECORD:
		return "refused: untrusted record";
	case CLI_EXIT_INTR:
		return "interrupted: undone";
	case CLI_EXIT_POLICY:
		return "refused: downgrade";
	case CLI_EXIT_CONFINED:
		return "refused: confinement";
	}
	return "error";
}

void cli_print_hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

int cli_key_option(int c, const char *arg, struct signer_key_opts *ko)
{
	switch (c) {
	case CLI_OPT_MODULE:
		ko->module = arg;
		return 1;
	case CLI_OPT_PIN_ENV:
		ko->pin_env = arg;
		return 1;
	case CLI_OPT_PIN_FILE:
		ko->pin_file = arg;
		return 1;
	}
	return 0;
}

const char *cli_key_problem(const struct signer_key_opts *ko)
{
	return ko->pin_env && ko->pin_file ? "--pin-env and --pin-file exclude each other" : NULL;
}

int cli_trust_option(const char *tool, int c, const char *arg, const char **trust,
		     size_t *require)
{
	if (c == CLI_OPT_TRUST) {
		*trust = arg;
		return 1;
	}
	if (c != CLI_OPT_REQUIRE)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || *end || !*arg || arg[0] == '-' || v == 0 || v > 1000) {
		fprintf(stderr, "%s: --require: '%s' is not a number from 1 to 1000\n", tool, arg);
		return -1;
	}
	*require = (size_t)v;
	return 1;
}
