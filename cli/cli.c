/*
 * cli.c: helpers shared by the command-line tools.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "formats/base.h"

void cli_print_diags(const struct hp_ctx *ctx, FILE *f)
{
	for (size_t i = 0; i < ctx->ndiags; i++) {
		const struct hp_diag *d = &ctx->diags[i];
		if (ctx->quiet && d->level == HP_LEVEL_WARNING)
			continue;
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

int cli_key_option(const char *tool, int c, const char *arg, struct signer_key_opts *ko)
{
	const char **slot, *name;
	switch (c) {
	case CLI_OPT_MODULE:
		slot = &ko->module, name = "--module";
		break;
	case CLI_OPT_PIN_ENV:
		slot = &ko->pin_env, name = "--pin-env";
		break;
	case CLI_OPT_PIN_FILE:
		slot = &ko->pin_file, name = "--pin-file";
		break;
	default:
		return 0;
	}
	if (*slot) {
		cli_usage(tool, "%s given twice", name);
		return -1;
	}
	*slot = arg;
	return 1;
}

const char *cli_key_problem(const struct signer_key_opts *ko)
{
	return ko->pin_env && ko->pin_file ? "--pin-env and --pin-file exclude each other" : NULL;
}

int cli_trust_option(const char *tool, int c, const char *arg, struct cli_trust *t)
{
	if (c == CLI_OPT_TRUST) {
		if (t->npaths == CLI_MAX_TRUST) {
			cli_usage(tool, "--trust: more than %d trust stores", CLI_MAX_TRUST);
			return -1;
		}
		t->paths[t->npaths++] = arg;
		return 1;
	}
	if (c != CLI_OPT_REQUIRE)
		return 0;
	if (cli_once(tool, "--require", &t->require_seen))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || *end || !*arg || arg[0] == '-' || v == 0 || v > 1000) {
		cli_usage(tool, "--require: '%s' is not a number from 1 to 1000", arg);
		return -1;
	}
	t->require = (size_t)v;
	return 1;
}

const char *const *cli_trust_paths(struct cli_trust *t, const char *def, size_t *n)
{
	if (t->npaths == 0) {
		t->paths[0] = def;
		*n = 1;
		return t->paths;
	}
	*n = t->npaths;
	return t->paths;
}

int cli_usage(const char *tool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", tool);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", tool);
	return CLI_EXIT_ERROR;
}

int cli_bad_option(const char *tool, int c, char *const argv[], const struct option *longopts)
{
	/* A long option is argv[optind - 1]; a short one, perhaps inside a
	 * cluster ("-qx"), is only known by optopt (0 for an unknown long one). */
	const char *opt = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, 0 };
	if (strncmp(opt, "--", 2) || (c == '?' && optopt))
		opt = shortopt;
	if (c == ':')
		return cli_usage(tool, "%s needs an argument", opt);
	/* A prefix of several long options is ambiguous, not unknown: name them. */
	size_t len = strcspn(opt + 2, "="), n = 0;
	char these[256] = "";
	for (const struct option *o = longopts; opt != shortopt && o->name; o++)
		if (!strncmp(o->name, opt + 2, len) && strlen(these) + strlen(o->name) + 5 < sizeof these) {
			strcat(strcat(these, n++ ? ", --" : "--"), o->name);
		}
	if (n > 1)
		return cli_usage(tool, "option '%.*s' is ambiguous: %s", (int)len + 2, opt, these);
	return cli_usage(tool, "unknown option '%s'", opt);
}

int cli_once(const char *tool, const char *name, bool *seen)
{
	if (*seen) {
		cli_usage(tool, "%s given twice", name);
		return -1;
	}
	*seen = true;
	return 0;
}
