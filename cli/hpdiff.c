/*
 * hpdiff: compare two builds of one object file, function by function, and say
 * what changed and why. The driver is the list of passes; each pass is in
 * differ/ and records its findings in the model.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"

enum { EXIT_CHANGES = 0, EXIT_ERROR = 1, EXIT_NO_CHANGE = 3 };

static const char usage[] =
	"usage: hpdiff [options] OLD.o NEW.o\n"
	"Compare two builds of one object file function by function and report, for\n"
	"each function and data object, SAME, CHANGED, NEW or REMOVED and why.\n"
	"\n"
	"  --json         print the report as JSON (see differ/report-format.md)\n"
	"  --disasm       print the disassembly of every changed function, old and new\n"
	"                 as a unified diff, with what relocated operands refer to\n"
	"  -a, --all      list unchanged functions and data too\n"
	"  -q, --quiet    print nothing but errors; the exit code tells\n"
	"  -v, --verbose  add to each diagnostic where in hotpatch it was raised\n"
	"  -h, --help     print this help\n"
	"  --version      print the version\n"
	"\n"
	"Exit status: 0 changes found, 3 no change, 1 error.\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },    { "all", no_argument, NULL, 'a' },
		{ "disasm", no_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },   { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },    { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, all = false, quiet = false, disasm = false;
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpdiff");
	int c;
	while ((c = getopt_long(argc, argv, ":aqvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'd':
			disasm = true;
			break;
		case 'q':
			quiet = ctx.quiet = true;
			break;
		case 'v':
			ctx.verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			cli_print_version("hpdiff");
			return 0;
		default:
			return cli_bad_option("hpdiff", c, argv, longopts);
		}
	}
	if (argc - optind != 2)
		return cli_usage("hpdiff", "expected two object files, got %d", argc - optind);

	struct obj *old = NULL, *new = NULL;
	struct differ_report rep;
	int err, rc = EXIT_ERROR;
	/* Read both files, so that both are diagnosed at once. */
	err = obj_read_elf(&ctx, argv[optind], &old);
	int err2 = obj_read_elf(&ctx, argv[optind + 1], &new);
	if (err < 0 || err2 < 0)
		goto out;
	/* Every pass; the layout check only warns here (hpbuild refuses). */
	struct differ_findings findings;
	if ((err = differ_run(&ctx, old, new, HP_LEVEL_WARNING, &rep, &findings)) < 0)
		goto out;
	if (json)
		differ_report_json(stdout, &rep);
	else if (!quiet)
		differ_report_text(stdout, &rep, all);
	/* The instructions of each changed function, old against new. */
	for (size_t i = 0; disasm && !json && !quiet && i < rep.nentries; i++) {
		const struct differ_entry *e = &rep.entries[i];
		if (e->kind != DIFFER_FUNC || (e->status == OBJ_SAME && !e->line_only))
			continue;
		putchar('\n');
		if ((err = differ_print_disasm(&ctx, stdout, old, e->old, new, e->new)) < 0)
			goto out;
	}
	rc = differ_report_has_changes(&rep) ? EXIT_CHANGES : EXIT_NO_CHANGE;
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		hp_err(&ctx, HP_ERROR, NULL, NULL, "cannot write the report");
		rc = EXIT_ERROR;
	}
	cli_print_diags(&ctx, stderr);
	obj_free(old);
	obj_free(new);
	hp_ctx_fini(&ctx);
	return rc;
}
