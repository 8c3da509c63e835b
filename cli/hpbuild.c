/*
 * hpbuild: build a live patch from two builds of the same objects.
 *
 *   hpbuild OLD.o NEW.o [OLD2.o NEW2.o ...] -o FIX.hpx
 *   hpbuild --old-dir A --new-dir B -o FIX.hpx
 *
 * For each pair: read, compare (the differ's passes), collect what the changed
 * functions need; then link all of it into one image, check it against the
 * target binary when given one, and write the container atomically. The driver
 * is the list of passes; the work is in differ/, linker/ and formats/.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
#include "linker/linker.h"
#include "signer/signer.h"

enum { EXIT_WRITTEN = 0, EXIT_ERROR = 1, EXIT_REFUSED = 2, EXIT_NO_CHANGE = 3 };

static const char usage[] =
	"usage: hpbuild [options] OLD.o NEW.o [OLD2.o NEW2.o ...] -o FIX.hpx\n"
	"       hpbuild [options] --old-dir DIR --new-dir DIR -o FIX.hpx\n"
	"Build a live patch holding exactly the functions that changed between two\n"
	"builds of the same objects.\n"
	"\n"
	"  -o, --output FILE     the patch to write (written atomically)\n"
	"  --old-dir DIR         the running build's objects (pairs *.o by relative path)\n"
	"  --new-dir DIR         the fixed build's objects\n"
	"  --target BINARY       bind the patch to BINARY's build-id and check that the\n"
	"                        old objects are the ones linked into it\n"
	"  --sequence N          anti-rollback sequence number (default 1)\n"
	"  --json FILE           write a machine-readable report to FILE\n"
	"  --sign KEY            sign the patch as hpsign does: a PEM private key or a\n"
	"                        pkcs11: URI; --module, --pin-env, --pin-file as for hpsign\n"
	"  -q, --quiet           print nothing but errors\n"
	"  -v, --verbose         print what changed and what the patch holds\n"
	"  -h, --help            print this help\n"
	"  --version             print the version\n"
	"\n"
	"SOURCE_DATE_EPOCH, when set, is recorded as the creation time.\n"
	"Exit status: 0 patch written, 1 error, 2 refused as unsafe (every reason is\n"
	"listed), 3 no change (nothing written).\n";

struct opts {
	const char *output, *old_dir, *new_dir, *target, *json;
	const char *sign;               /* --sign KEY, or NULL */
	struct signer_key_opts key;     /* --module, --pin-env, --pin-file */
	uint64_t sequence;
	bool quiet;
	int verbose;
};

/* ----- reports -------------------------------------------------------------- */

static void print_summary(FILE *f, const struct opts *o, const struct hpx *h, size_t size)
{
	fprintf(f, "hpbuild: %s: %zu function%s replaced, %zu symbols, %llu bytes of image, %zu bytes; patch ",
		o->output, h->nfuncs, h->nfuncs == 1 ? "" : "s", h->nsyms,
		(unsigned long long)h->image_size, size);
	cli_print_hex(f, h->patch_id, 16);
	fputc('\n', f);
}

static int write_json(struct hp_ctx *ctx, const struct opts *o, struct differ_pair *pairs, size_t n,
		      const struct hpx *h, size_t size, int rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return hp_nomem(ctx);
	static const char *const verdicts[] = { "written", "error", "refused", "no change" };
	fprintf(f, "{\n  \"format\": \"hpbuild-report\",\n  \"version\": 1,\n  \"verdict\": \"%s\",\n",
		verdicts[rc]);
	fputs("  \"output\": ", f);
	hp_json_string(f, o->output ? o->output : "");
	if (rc == EXIT_WRITTEN) {
		fprintf(f, ",\n  \"size\": %zu,\n  \"patch_id\": \"", size);
		cli_print_hex(f, h->patch_id, 16);
		fputs("\",\n  \"functions\": [", f);
		for (size_t i = 0; i < h->nfuncs; i++) {
			fputs(i ? ", " : "", f);
			hp_json_string(f, h->funcs[i].name);
		}
		fputs("]", f);
	}
	fputs(",\n  \"diagnostics\": [", f);
	for (size_t i = 0; i < ctx->ndiags; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		hp_json_string(f, ctx->diags[i].text);
	}
	fputs("],\n  \"objects\": [", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n    {\"old\": ", i ? "," : "");
		hp_json_string(f, pairs[i].old_path);
		fputs(", \"new\": ", f);
		hp_json_string(f, pairs[i].new_path);
		fprintf(f, ", \"identical\": %s", pairs[i].identical ? "true" : "false");
		if (pairs[i].report.entries) {
			fputs(", \"report\": ", f);
			differ_report_json(f, &pairs[i].report);
		}
		fputs("}", f);
	}
	fputs("\n  ]\n}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return hp_nomem(ctx);
	}
	int err = hp_write_file_atomic(ctx, o->json, buf, len);
	free(buf);
	return err;
}

/* ----- main ------------------------------------------------------------------- */

/* Keep optarg in *slot, or refuse the option given twice. */
static int once(const char **slot, const char *name)
{
	if (*slot)
		return cli_usage("hpbuild", "%s given twice", name), -1;
	*slot = optarg;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o, struct hp_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "old-dir", required_argument, NULL, 'O' },
		{ "new-dir", required_argument, NULL, 'N' },
		{ "target", required_argument, NULL, 't' },
		{ "sequence", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "sign", required_argument, NULL, 'S' },
		CLI_KEY_OPTIONS,
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	o->sequence = 1;
	bool seen_sequence = false;
	int c;
	while ((c = getopt_long(argc, argv, ":o:qvh", longopts, NULL)) != -1) {
		int k = cli_key_option("hpbuild", c, optarg, &o->key);
		if (k < 0)
			return -1;
		if (k)
			continue;
		switch (c) {
		case 'o':
			if (once(&o->output, "--output"))
				return -1;
			break;
		case 'O':
			if (once(&o->old_dir, "--old-dir"))
				return -1;
			break;
		case 'N':
			if (once(&o->new_dir, "--new-dir"))
				return -1;
			break;
		case 't':
			if (once(&o->target, "--target"))
				return -1;
			break;
		case 's': {
			if (cli_once("hpbuild", "--sequence", &seen_sequence))
				return -1;
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || v == 0 || optarg[0] == '-')
				return cli_usage("hpbuild", "--sequence: '%s' is not a number from 1 up",
						 optarg), -1;
			o->sequence = v;
			break;
		}
		case 'j':
			if (once(&o->json, "--json"))
				return -1;
			break;
		case 'S':
			if (once(&o->sign, "--sign"))
				return -1;
			break;
		case 'q':
			o->quiet = ctx->quiet = true;
			break;
		case 'v':
			o->verbose++;
			ctx->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			cli_print_version("hpbuild");
			exit(0);
		default:
			return cli_bad_option("hpbuild", c, argv, longopts), -1;
		}
	}
	int nfiles = argc - optind;
	const char *problem = NULL;
	if (!o->output)
		problem = "no output file (-o FIX.hpx)";
	else if (!o->old_dir != !o->new_dir)
		problem = "--old-dir and --new-dir go together";
	else if (o->old_dir && nfiles)
		problem = "give either object pairs or --old-dir/--new-dir, not both";
	else if (!o->old_dir && (nfiles == 0 || nfiles % 2))
		problem = "objects come in pairs: OLD.o NEW.o";
	if (problem)
		return cli_usage("hpbuild", "%s", problem), -1;
	return 0;
}

static uint64_t creation_time(struct hp_ctx *ctx)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	if (!e || !*e)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(e, &end, 10);
	if (errno || *end || e[0] == '-') {
		hp_warn(ctx, NULL, NULL, "SOURCE_DATE_EPOCH '%s' is not a number; not recorded", e);
		return 0;
	}
	return v;
}

int main(int argc, char **argv)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpbuild");
	struct opts o = { 0 };
	if (parse_args(argc, argv, &o, &ctx) < 0)
		return EXIT_ERROR;

	struct differ_pair *pairs = NULL;
	size_t npairs = 0;
	struct hpx h = { 0 };
	uint8_t *file = NULL;
	size_t size = 0;
	int rc = EXIT_ERROR, err = 0;
	bool json_done = false; /* the --json report holds the final verdict */

	if (o.old_dir) {
		err = differ_pairs_from_dirs(&ctx, o.old_dir, o.new_dir, &pairs, &npairs);
	} else {
		npairs = (size_t)(argc - optind) / 2;
		pairs = hp_arena_array(&ctx, npairs, sizeof *pairs);
		if (!pairs)
			err = hp_nomem(&ctx);
		for (size_t i = 0; pairs && i < npairs; i++) {
			pairs[i].old_path = argv[optind + 2 * i];
			pairs[i].new_path = pairs[i].name = argv[optind + 2 * i + 1];
		}
	}
	if (err < 0)
		goto out;

	/* Compare each pair and collect what its changed functions need. */
	bool refused = false;
	for (size_t i = 0; i < npairs; i++) {
		if (pairs[i].identical)
			continue;
		err = differ_pair_run(&ctx, &pairs[i]);
		if (err == -HP_EUNPATCHABLE)
			refused = true;
		else if (err < 0)
			goto out;
	}
	if (!refused && (err = differ_cross_object(&ctx, pairs, npairs)) < 0) {
		if (err != -HP_EUNPATCHABLE)
			goto out;
		refused = true;
	}
	if (refused) {
		err = -HP_EUNPATCHABLE;
		goto out;
	}
	size_t nchanged = 0;
	for (size_t i = 0; i < npairs; i++)
		for (size_t k = 0; k < pairs[i].closure.nitems; k++)
			nchanged += pairs[i].closure.items[k].replaces;
	if (o.verbose)
		for (size_t i = 0; i < npairs; i++) {
			if (pairs[i].identical) {
				printf("== %s: identical, skipped\n", pairs[i].name);
				continue;
			}
			printf("== %s\n", pairs[i].name);
			differ_report_text(stdout, &pairs[i].report, false);
		}
	if (nchanged == 0) {
		rc = EXIT_NO_CHANGE;
		if (!o.quiet)
			fprintf(stderr, "hpbuild: no function changed; nothing written\n");
		goto out;
	}

	/* Lay out everything that travels into one image; from here on, old objects are
	 * only read through twins. */
	struct linker_input *in = hp_arena_array(&ctx, npairs, sizeof *in);
	size_t nin = 0;
	if (!in) {
		err = hp_nomem(&ctx);
		goto out;
	}
	for (size_t i = 0; i < npairs; i++)
		if (!pairs[i].identical && pairs[i].closure.nitems)
			in[nin++] = (struct linker_input){ pairs[i].old, pairs[i].new, pairs[i].name,
							   &pairs[i].closure };
	if ((err = linker_build(&ctx, in, nin, &h)) < 0)
		goto out;
	h.sequence = o.sequence;
	h.created = creation_time(&ctx);
	h.tool_version = "hpbuild " HP_VERSION;
	h.target_name = "";
	/* Bind to the binary and prove the old objects are in it. */
	if (o.target && (err = linker_bind_target(&ctx, o.target, &h)) < 0)
		goto out;
	if ((err = hpx_write(&ctx, &h, &file, &size)) < 0)
		goto out;
	/* --sign: the block hpsign would append, before anything is written. */
	if (o.sign) {
		struct signer_key *key = NULL;
		if ((err = signer_key_open(&ctx, o.sign, &o.key, &key)) == 0)
			err = signer_append(&ctx, key, o.output, &file, &size);
		signer_key_free(key);
		if (err < 0)
			goto out;
	}
	/* The report first, saying "written": if it cannot be written, the patch is
	 * not either, so a failed run never leaves a patch behind. If the patch
	 * then cannot be written, the report is written again, saying so. */
	if (o.json && (err = write_json(&ctx, &o, pairs, npairs, &h, size, EXIT_WRITTEN)) < 0) {
		json_done = true;
		goto out;
	}
	if ((err = hp_write_file_atomic(&ctx, o.output, file, size)) < 0)
		goto out;
	rc = EXIT_WRITTEN;
	json_done = true;
	if (o.verbose) {
		for (size_t i = 0; i < h.nfuncs; i++)
			printf("replaces %s%s%s (%llu bytes) with %llu bytes at +%#llx\n", h.funcs[i].name,
			       h.funcs[i].file[0] ? " in " : "", h.funcs[i].file,
			       (unsigned long long)h.funcs[i].old_size,
			       (unsigned long long)h.funcs[i].new_size,
			       (unsigned long long)h.funcs[i].new_offset);
		print_summary(stdout, &o, &h, size);
	}
out:
	if (err == -HP_EUNPATCHABLE)
		rc = EXIT_REFUSED;
	if (o.json && !json_done)
		write_json(&ctx, &o, pairs, npairs, &h, size, rc);
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	free(file);
	for (size_t i = 0; i < npairs; i++) {
		obj_free(pairs[i].old);
		obj_free(pairs[i].new);
	}
	hp_ctx_fini(&ctx);
	return rc;
}
