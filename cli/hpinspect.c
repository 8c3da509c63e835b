/*
 * hpinspect: show everything a .hpx container holds, as text or JSON. It reads
 * with the same checked reader the applier uses. With --trust it also says
 * whether each signature verifies (checked before the body is parsed, as
 * hpverify does); whether the patch is acceptable is hpverify's to say.
 */
#include <getopt.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer.h"

static const char usage[] =
	"usage: hpinspect [options] FIX.hpx\n"
	"Show the header, target, functions, symbols, segments, fixups and signature\n"
	"blocks of a hotpatch container. Signatures are verified only with --trust;\n"
	"hpverify decides whether a patch is acceptable.\n"
	"\n"
	"  --json         print JSON instead of text\n"
	"  --trust PATH   check each signature against a PEM public key file or a\n"
	"                 directory of *.pem files\n"
	"                 (several --trust: the keys of each)\n"
	"  -q, --quiet    print nothing; the exit status says whether it is well formed\n"
	"  -v, --verbose  add to each diagnostic where in hotpatch it was raised\n"
	"  -h, --help     print this help\n"
	"  --version      print the version\n"
	"\n"
	"Exit status: 0 the container is well formed, 1 it is not (or cannot be read),\n"
	"4 a --trust store is missing, unreadable or writable by others.\n";

static const char *kind_name(uint8_t k)
{
	return k == HPX_SYM_FUNC     ? "func"
	       : k == HPX_SYM_OBJECT ? "object"
	       : k == HPX_SYM_TLS    ? "tls"
				     : "other";
}

static const char *scope_name(uint8_t s)
{
	return s == HPX_SCOPE_TARGET ? "target" : "global";
}

static void prot_name(uint32_t p, char out[4])
{
	out[0] = p & HPX_PROT_R ? 'r' : '-';
	out[1] = p & HPX_PROT_W ? 'w' : '-';
	out[2] = p & HPX_PROT_X ? 'x' : '-';
	out[3] = 0;
}

static const char *alg_name(uint16_t a)
{
	return a == HPX_SIG_ED25519 ? "ed25519" : a == HPX_SIG_ECDSA_P256 ? "ecdsa-p256" : "?";
}

static void fixup_target(FILE *f, const struct hpx *h, const struct hpx_fixup *x)
{
	if (x->target == HPX_TARGET_IMAGE)
		fprintf(f, "image%+lld", (long long)x->addend);
	else
		fprintf(f, "%s%+lld", h->syms[x->target].name, (long long)x->addend);
}

/*
 * What --trust found for signature i: "verified", "DOES NOT VERIFY",
 * "untrusted", "untrusted, REFUSED" (a signature not in its accepted form) or NULL.
 */
static const char *sig_state(const struct signer_verdict *v, size_t i)
{
	if (!v || i >= v->nblocks)
		return NULL;
	if (!v->blocks[i].trusted)
		return v->blocks[i].why ? "untrusted, REFUSED" : "untrusted";
	return v->blocks[i].verified ? "verified" : "DOES NOT VERIFY";
}

static void print_text(const char *path, size_t len, const struct hpx *h,
		       const struct signer_verdict *v)
{
	printf("file:      %s (%zu bytes)\n", path, len);
	printf("patch:     ");
	cli_print_hex(stdout, h->patch_id, 16);
	printf("\nsequence:  %llu\n", (unsigned long long)h->sequence);
	if (h->created) {
		/* Any 64-bit value can arrive here; gmtime fails past year 2^31. */
		time_t t = (time_t)h->created;
		struct tm tm;
		char buf[64];
		if (h->created <= INT64_MAX && gmtime_r(&t, &tm) &&
		    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
			printf("created:   %s\n", buf);
		else
			printf("created:   %llu seconds after 1970 (not a date)\n",
			       (unsigned long long)h->created);
	} else {
		printf("created:   not recorded\n");
	}
	printf("tool:      %s\n", h->tool_version);
	printf("target:    %s", h->target_name[0] ? h->target_name : "(any image holding the functions)");
	if (h->build_id_size) {
		printf(", build-id ");
		cli_print_hex(stdout, h->build_id, h->build_id_size);
	}
	printf("\nimage:     %llu bytes in memory, %llu stored\n", (unsigned long long)h->image_size,
	       (unsigned long long)h->image_file_size);
	printf("\nobjects (%zu):\n", h->nobjects);
	for (size_t i = 0; i < h->nobjects; i++)
		printf("  [%zu] %s (%s)\n", i, h->objects[i].path, h->objects[i].cu);
	printf("\nfunctions (%zu):\n", h->nfuncs);
	for (size_t i = 0; i < h->nfuncs; i++) {
		const struct hpx_func *f = &h->funcs[i];
		printf("  %s", f->name);
		if (f->file[0])
			printf(" [static in %s #%u]", f->file, f->ordinal);
		printf(" in object %u", f->object);
		if (f->addr)
			printf(", at %#llx in the target", (unsigned long long)f->addr);
		printf(": old %llu bytes, hash ", (unsigned long long)f->old_size);
		cli_print_hex(stdout, f->old_hash, 8);
		printf("..., %u masked ranges; ", f->mask_count);
		if (f->flags & HPX_FUNC_CHECK_ONLY)
			printf("checked only (a cold part)\n");
		else
			printf("new %llu bytes at +%#llx\n", (unsigned long long)f->new_size,
			       (unsigned long long)f->new_offset);
	}
	printf("\nsymbols (%zu):\n", h->nsyms);
	for (size_t i = 0; i < h->nsyms; i++) {
		const struct hpx_sym *s = &h->syms[i];
		printf("  [%zu] %s %s, %s", i, kind_name(s->kind), s->name, scope_name(s->scope));
		if (s->file[0])
			printf(", static in %s #%u", s->file, s->ordinal);
		if (s->size)
			printf(", %llu bytes", (unsigned long long)s->size);
		if (s->stub != HPX_NO_STUB)
			printf(", stub at +%#x", s->stub);
		if (s->addr)
			printf(", at %#llx in the target", (unsigned long long)s->addr);
		printf("\n");
	}
	printf("\nsegments (%zu):\n", h->nsegments);
	for (size_t i = 0; i < h->nsegments; i++) {
		char p[4];
		prot_name(h->segments[i].prot, p);
		printf("  +%#llx %llu bytes %s\n", (unsigned long long)h->segments[i].offset,
		       (unsigned long long)h->segments[i].size, p);
	}
	printf("\nfixups (%zu):\n", h->nfixups);
	for (size_t i = 0; i < h->nfixups; i++) {
		printf("  +%#llx %-8s ", (unsigned long long)h->fixups[i].offset,
		       hpx_fix_name(h->fixups[i].type));
		fixup_target(stdout, h, &h->fixups[i]);
		printf("\n");
	}
	printf("\nsignatures (%zu%s):\n", h->nsigs, v ? "" : ", not verified here");
	for (size_t i = 0; i < h->nsigs; i++) {
		printf("  %s key ", alg_name(h->sigs[i].algorithm));
		cli_print_hex(stdout, h->sigs[i].key_id, 32);
		printf(", %u bytes, covers bytes 0..%llu", h->sigs[i].sig_size,
		       (unsigned long long)h->sigs[i].start);
		if (sig_state(v, i))
			printf(": %s", sig_state(v, i));
		printf("\n");
	}
}

static void print_json(const char *path, size_t len, const struct hpx *h,
		       const struct signer_verdict *v)
{
	FILE *f = stdout;
	fputs("{\n  \"format\": \"hpinspect\",\n  \"version\": 1,\n  \"file\": ", f);
	hp_json_string(f, path);
	fprintf(f, ",\n  \"size\": %zu,\n  \"patch_id\": \"", len);
	cli_print_hex(f, h->patch_id, 16);
	fprintf(f, "\",\n  \"sequence\": %llu,\n  \"created\": %llu,\n  \"tool\": ",
		(unsigned long long)h->sequence, (unsigned long long)h->created);
	hp_json_string(f, h->tool_version);
	fputs(",\n  \"target\": {\"name\": ", f);
	hp_json_string(f, h->target_name);
	fputs(", \"build_id\": \"", f);
	cli_print_hex(f, h->build_id, h->build_id_size);
	fprintf(f, "\"},\n  \"image_size\": %llu,\n  \"image_stored\": %llu,\n  \"objects\": [",
		(unsigned long long)h->image_size, (unsigned long long)h->image_file_size);
	for (size_t i = 0; i < h->nobjects; i++) {
		fputs(i ? ", {\"path\": " : "{\"path\": ", f);
		hp_json_string(f, h->objects[i].path);
		fputs(", \"cu\": ", f);
		hp_json_string(f, h->objects[i].cu);
		fputs("}", f);
	}
	fputs("],\n  \"functions\": [", f);
	for (size_t i = 0; i < h->nfuncs; i++) {
		const struct hpx_func *x = &h->funcs[i];
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		hp_json_string(f, x->name);
		fputs(", \"file\": ", f);
		hp_json_string(f, x->file);
		fprintf(f, ", \"ordinal\": %u, \"object\": %u, \"old_size\": %llu, \"old_hash\": \"",
			x->ordinal, x->object, (unsigned long long)x->old_size);
		cli_print_hex(f, x->old_hash, 32);
		fputs("\", \"masks\": [", f);
		for (uint32_t k = 0; k < x->mask_count; k++)
			fprintf(f, "%s[%u, %u]", k ? ", " : "", h->masks[x->mask_first + k].offset,
				h->masks[x->mask_first + k].length);
		fprintf(f, "], \"check_only\": %s, \"new_offset\": %llu, \"new_size\": %llu",
			x->flags & HPX_FUNC_CHECK_ONLY ? "true" : "false",
			(unsigned long long)x->new_offset, (unsigned long long)x->new_size);
		if (x->addr)
			fprintf(f, ", \"addr\": %llu", (unsigned long long)x->addr);
		fputs("}", f);
	}
	fputs("\n  ],\n  \"symbols\": [", f);
	for (size_t i = 0; i < h->nsyms; i++) {
		const struct hpx_sym *s = &h->syms[i];
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		hp_json_string(f, s->name);
		fputs(", \"file\": ", f);
		hp_json_string(f, s->file);
		fprintf(f, ", \"ordinal\": %u, \"kind\": \"%s\", \"scope\": \"%s\", \"size\": %llu",
			s->ordinal, kind_name(s->kind), scope_name(s->scope),
			(unsigned long long)s->size);
		if (s->stub != HPX_NO_STUB)
			fprintf(f, ", \"stub\": %u", s->stub);
		if (s->addr)
			fprintf(f, ", \"addr\": %llu", (unsigned long long)s->addr);
		fputs("}", f);
	}
	fputs("\n  ],\n  \"segments\": [", f);
	for (size_t i = 0; i < h->nsegments; i++) {
		char p[4];
		prot_name(h->segments[i].prot, p);
		fprintf(f, "%s{\"offset\": %llu, \"size\": %llu, \"prot\": \"%s\"}", i ? ", " : "",
			(unsigned long long)h->segments[i].offset,
			(unsigned long long)h->segments[i].size, p);
	}
	fputs("],\n  \"fixups\": [", f);
	for (size_t i = 0; i < h->nfixups; i++) {
		const struct hpx_fixup *x = &h->fixups[i];
		fprintf(f, "%s\n    {\"offset\": %llu, \"type\": \"%s\", ", i ? "," : "",
			(unsigned long long)x->offset, hpx_fix_name(x->type));
		if (x->target == HPX_TARGET_IMAGE)
			fputs("\"target\": \"image\"", f);
		else
			fprintf(f, "\"symbol\": %u", x->target);
		fprintf(f, ", \"addend\": %lld}", (long long)x->addend);
	}
	fputs("\n  ],\n  \"signatures\": [", f);
	for (size_t i = 0; i < h->nsigs; i++) {
		fprintf(f, "%s{\"algorithm\": \"%s\", \"key_id\": \"", i ? ", " : "",
			alg_name(h->sigs[i].algorithm));
		cli_print_hex(f, h->sigs[i].key_id, 32);
		fprintf(f, "\", \"size\": %u, \"covers\": %llu", h->sigs[i].sig_size,
			(unsigned long long)h->sigs[i].start);
		if (sig_state(v, i))
			fprintf(f, ", \"trusted\": %s, \"verified\": %s}",
				v->blocks[i].trusted ? "true" : "false",
				v->blocks[i].verified ? "true" : "false");
		else
			fputs(", \"verified\": null}", f);
	}
	fputs("]\n}\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "trust", required_argument, NULL, CLI_OPT_TRUST },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, quiet = false;
	struct cli_trust tr = { .require = 1 };
	int c, verbose = 0;
	while ((c = getopt_long(argc, argv, ":qvh", longopts, NULL)) != -1) {
		if (c == CLI_OPT_TRUST) {
			if (cli_trust_option("hpinspect", c, optarg, &tr) < 0)
				return 1;
			continue;
		}
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			cli_print_version("hpinspect");
			return 0;
		default:
			return cli_bad_option("hpinspect", c, argv, longopts);
		}
	}
	if (argc - optind != 1)
		return cli_usage("hpinspect", "expected one container, got %d", argc - optind);
	const char *path = argv[optind];
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpinspect");
	ctx.verbose = verbose;
	ctx.quiet = quiet;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct hpx h;
	struct signer_trust *trust = NULL;
	struct signer_verdict v;
	int rc = 1;
	int err;
	if (tr.npaths && (err = signer_trust_load_all(&ctx, tr.paths, tr.npaths, &trust)) < 0) {
		if (err != -HP_ENOMEM)
			rc = 4; /* a trust store that cannot be used, as everywhere (docs/cli.md) */
		goto out;
	}
	if (hp_read_file(&ctx, path, HPX_MAX_PAYLOAD + (1u << 20), &buf, &len) < 0)
		goto out;
	/* Signatures first, from the envelope alone; then the body. */
	if (trust && (hpx_read_envelope(&ctx, path, buf, len, &h) < 0 ||
		      signer_check(&ctx, trust, buf, len, &h, &v) < 0))
		goto out;
	if (hpx_read(&ctx, path, buf, len, &h) < 0)
		goto out;
	if (quiet)
		; /* -q: the exit status says whether it is well formed */
	else if (json)
		print_json(path, len, &h, trust ? &v : NULL);
	else
		print_text(path, len, &h, trust ? &v : NULL);
	rc = 0;
out:
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	signer_trust_free(trust);
	free(buf);
	hp_ctx_fini(&ctx);
	return rc;
}
