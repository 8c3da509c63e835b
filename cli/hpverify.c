/*
 * hpverify: accept a patch only if enough trusted keys signed it.
 *
 *   hpverify FIX.hpx --trust FILE|DIR [--require N]
 *
 * Reads the fixed header and the signature blocks, nothing else
 * (hpx_read_envelope), checks every block against the trust store, and says
 * for each block which key made it and whether it holds. The body is never
 * parsed: that is for whoever acts on a verified patch.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_VERIFY = 4 };

static const char usage[] =
	"usage: hpverify FIX.hpx --trust FILE|DIR [options]\n"
	"Check the signatures of a hotpatch container against trusted public keys.\n"
	"Only the fixed header and the signature blocks are read.\n"
	"\n"
	"  -t, --trust PATH    a PEM public key file, or a directory of *.pem files;\n"
	"                      several --trust: the keys of each are trusted\n"
	"  --require N         distinct trusted keys whose signature must verify (default 1)\n"
	"  -q, --quiet         print nothing but errors\n"
	"  -v, --verbose       add to each error where in hotpatch it was raised\n"
	"  -h, --help          print this help\n"
	"  --version           print the version\n"
	"\n"
	"Each signature is listed on stdout: key id, algorithm, trusted or not, verified\n"
	"or not. A signature by a key outside the trust store is ignored: it does not\n"
	"count and is no error, unless its form is not the one accepted or a trusted key\n"
	"made it under another key id. One by a trusted key that does not verify is\n"
	"always an error. A later trusted signature covers an ignored one; one after\n"
	"the last trusted signature can be changed or removed by anyone.\n"
	"The trust store, its key files and every directory above it must belong to\n"
	"root or to you and be writable by their owner only (a sticky directory of\n"
	"root's, as /tmp, may be above it).\n"
	"Exit status: 0 verified, 1 usage or I/O error, 4 verification failed (too\n"
	"few trusted signatures, a signature that does not verify, a malformed header\n"
	"or signature block, or a trust store that is missing, unreadable or writable\n"
	"by others).\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_TRUST_OPTIONS,
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpverify");
	struct cli_trust tr = { .require = 1 };
	bool quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, ":t:qvh", longopts, NULL)) != -1) {
		if (c == 't') /* -t, as --trust */
			c = CLI_OPT_TRUST;
		int k = cli_trust_option("hpverify", c, optarg, &tr);
		if (k < 0)
			return EXIT_ERROR;
		if (k)
			continue;
		switch (c) {
		case 'q':
			quiet = ctx.quiet = true;
			break;
		case 'v':
			ctx.verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		case 'V':
			cli_print_version("hpverify");
			return EXIT_OK;
		default:
			return cli_bad_option("hpverify", c, argv, longopts);
		}
	}
	if (argc - optind != 1)
		return cli_usage("hpverify", "expected one container, got %d",
				 argc - optind);
	if (!tr.npaths)
		return cli_usage("hpverify", "no trust store (--trust FILE|DIR)");
	const char *path = argv[optind];

	struct signer_trust *trust = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct signer_verdict v;
	int rc = EXIT_ERROR;
	int err = signer_trust_load_all(&ctx, tr.paths, tr.npaths, &trust);
	if (err < 0) {
		/* No trust store, or one others could write to: nothing can be
		 * verified, as hpapply says it (docs/cli.md). */
		if (err != -HP_ENOMEM)
			rc = EXIT_VERIFY;
		goto out;
	}
	if (hp_read_file(&ctx, path, HPX_MAX_PAYLOAD + (1u << 20), &buf, &len) < 0)
		goto out;
	err = signer_verify(&ctx, trust, path, buf, len, tr.require, &v);
	rc = err < 0 ? EXIT_VERIFY : EXIT_OK;
	if (err == -HP_ENOMEM || err == -HP_ERROR)
		rc = EXIT_ERROR;
	if (quiet)
		goto out;
	/* One line per block, whatever the verdict: what a reviewer needs to see. */
	for (size_t i = 0; i < v.nblocks; i++) {
		const struct signer_block *b = &v.blocks[i];
		printf("%s: signature %zu: %s, key ", path, i + 1, signer_algorithm_name(b->algorithm));
		cli_print_hex(stdout, b->key_id, 32);
		if (b->trusted)
			printf(", trusted (%s), %s\n", b->key_name,
			       b->verified ? "verified" : "DOES NOT VERIFY");
		else if (b->why)
			printf(", untrusted, REFUSED\n");
		else if (b->covered_by)
			printf(", untrusted, not verified: ignored (signature %zu covers it)\n",
			       b->covered_by);
		else
			printf(", untrusted, not verified: ignored (no trusted signature covers it; anyone can change or remove it)\n");
	}
	if (rc == EXIT_OK)
		printf("%s: OK: signed by %zu distinct trusted key%s (%zu required)\n", path,
		       v.nkeys_ok, v.nkeys_ok == 1 ? "" : "s", tr.require);
out:
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	signer_trust_free(trust);
	free(buf);
	hp_ctx_fini(&ctx);
	return rc;
}
