/*
 * hpsign: append a signature to a patch, in a stage of its own (a security
 * team's, with a key in an HSM).
 *
 *   hpsign FIX.hpx --key KEY [-o OUT]
 *
 * Read the whole container and check it as a reader would (a malformed file
 * is never signed), open the key, append one block covering every byte, and
 * write the result atomically. Earlier signatures stay valid: no byte they
 * cover changes.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer.h"

static const char usage[] =
	"usage: hpsign FIX.hpx --key KEY [options]\n"
	"Append a signature block to a hotpatch container. Earlier signatures stay valid.\n"
	"\n"
	"  -k, --key KEY       a PEM private key file (Ed25519 or P-256), or a PKCS#11 URI\n"
	"                      (RFC 7512), e.g. 'pkcs11:token=release;object=patch-key'\n"
	"  -o, --output FILE   write the signed patch here (default: FIX.hpx in place);\n"
	"                      written atomically either way\n"
	"  --module FILE       the PKCS#11 module holding the key, over any other (below)\n"
	"  --pin-env VAR       read the PIN (or a PEM passphrase) from $VAR (default: $HP_PIN)\n"
	"  --pin-file FILE     read it from FILE (one trailing newline is dropped)\n"
	"  -q, --quiet         print nothing but errors (the default)\n"
	"  -v, --verbose       say what was signed\n"
	"  -h, --help          print this help\n"
	"  --version           print the version\n"
	"\n"
	"A PKCS#11 URI names the token and key with token=, object=, id=, type=private,\n"
	"serial= ... (';' between them), and may name its module after '?' (or among the\n"
	"others): module-path=FILE, or module-name=NAME for a module registered with\n"
	"p11-kit ('p11-kit list-modules'), e.g.\n"
	"  'pkcs11:token=release;object=patch-key?module-name=softhsm2'\n"
	"The module is the first of: --module, module-path=, module-name=,\n"
	"$PKCS11_MODULE_PATH, and p11-kit's proxy module, which reaches every module\n"
	"registered with p11-kit. An unknown attribute is refused, and so is pin-value=:\n"
	"the PIN is never taken from the command line.\n"
	"Exit status: 0 signed, 1 error (usage, I/O, malformed patch, key, token or PIN).\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		CLI_KEY_OPTIONS,
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpsign");
	struct signer_key_opts ko = { 0 };
	const char *key_spec = NULL, *output = NULL;
	int c;
	while ((c = getopt_long(argc, argv, ":k:o:qvh", longopts, NULL)) != -1) {
		int k = cli_key_option("hpsign", c, optarg, &ko);
		if (k < 0)
			return 1;
		if (k)
			continue;
		switch (c) {
		case 'k':
			if (key_spec)
				return cli_usage("hpsign", "--key given twice; a second signature is a second run");
			key_spec = optarg;
			break;
		case 'o':
			if (output)
				return cli_usage("hpsign", "--output given twice");
			output = optarg;
			break;
		case 'q':
			ctx.verbose = 0;
			break;
		case 'v':
			ctx.verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			cli_print_version("hpsign");
			return 0;
		default:
			return cli_bad_option("hpsign", c, argv, longopts);
		}
	}
	const char *problem = NULL;
	if (argc - optind != 1)
		problem = "expected one container";
	else if (!key_spec)
		problem = "no key (--key FILE.pem or --key 'pkcs11:...')";
	else
		problem = cli_key_problem(&ko);
	if (problem)
		return cli_usage("hpsign", "%s", problem);
	const char *path = argv[optind];
	if (!output)
		output = path;

	uint8_t *buf = NULL;
	size_t len = 0;
	struct signer_key *key = NULL;
	struct hpx h;
	int rc = 1;
	/* The whole container must be well formed: its body too, not just the envelope. */
	if (hp_read_file(&ctx, path, HPX_MAX_PAYLOAD + (1u << 20), &buf, &len) < 0 ||
	    hpx_read(&ctx, path, buf, len, &h) < 0)
		goto out;
	if (signer_key_open(&ctx, key_spec, &ko, &key) < 0)
		goto out;
	for (size_t i = 0; i < h.nsigs; i++)
		if (!memcmp(h.sigs[i].key_id, signer_key_id(key), 32)) {
			hp_err(&ctx, HP_ERROR, path, NULL,
			       "signature %zu is already by this key; nothing written", i + 1);
			goto out;
		}
	size_t before = len;
	if (signer_append(&ctx, key, path, &buf, &len) < 0 ||
	    hp_write_file_atomic(&ctx, output, buf, len) < 0)
		goto out;
	rc = 0;
	if (ctx.verbose) {
		printf("hpsign: %s: signature %zu, %s, key ", output, h.nsigs + 1,
		       signer_algorithm_name(signer_key_algorithm(key)));
		cli_print_hex(stdout, signer_key_id(key), 32);
		printf(", covers bytes 0..%zu, %zu bytes\n", before, len - before);
	}
out:
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	signer_key_free(key);
	free(buf);
	hp_ctx_fini(&ctx);
	return rc;
}
