/*
 * hpstatus: what hotpatch has applied to a running process, read from the
 * state block inside it, without stopping it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "formats/base.h"
#include "runtime/runtime.h"
#include "signer/signer.h"


static const char usage[] =
	"usage: hpstatus [--json] --pid PID\n"
	"       hpstatus [--json] --all\n"
	"       hpstatus [--json] --store [DIR] [--trust FILE|DIR] [--require N]\n"
	"Show the patches applied to a running process, oldest first, and the\n"
	"functions each one redirects. The process is not stopped.\n"
	"\n"
	"  --pid PID      the process\n"
	"  --all          every process a patch was applied to (with --json, one object\n"
	"                 whose \"processes\" holds what --pid prints for each)\n"
	"  --store [DIR]  the compliance view: each patch installed in the store (default\n"
	"                 $HOTPATCH_STORE, else /var/lib/hotpatch), its signatures\n"
	"                 verified again (--trust, default " CLI_DEFAULT_TRUST "), and\n"
	"                 each process that maps its binary, patched or not and why\n"
	"  --trust FILE|DIR  with --store; several --trust: the keys of each are trusted\n"
	"  --require N    with --store: signatures by N distinct trusted keys (default 1)\n"
	"  --json         print JSON\n"
	"  -q, --quiet    print nothing but errors; the exit status tells\n"
	"  -v, --verbose  add to each diagnostic where in hotpatch it was raised\n"
	"  -h, --help, --version\n"
	"\n"
	"An operation a killed hpapply left unfinished is finished or rolled back\n"
	"first (the process is stopped briefly), and said.\n"
	"\n"
	"Exit status: 0 read (also when nothing is applied), 1 error, 2 no such\n"
	"process, 6 another tool holds the process, 7 a record is untrusted (not\n"
	"written by hpapply here) or disagrees with the code (with --all: any).\n"
	"With --store: 0 every process of a stored patch's binary carries it, 4 a\n"
	"stored patch does not verify, 11 a process lacks a stored patch.\n";

static void when(uint64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *op_name(uint32_t op)
{
	return op == RT_OP_APPLY ? "apply" : "revert";
}

static void print_text(pid_t pid, const struct rt_state *s)
{
	if (s->op != RT_OP_NONE) {
		printf("process %d: an %s of patch ", (int)pid, op_name(s->op));
		cli_print_hex(stdout, s->patches[s->op_patch].patch_id, 16);
		printf(" is under way (hotpatch tool %u)\n", s->writer_pid);
	}
	if (!s->npatches) {
		printf("process %d: no patch applied\n", (int)pid);
		return;
	}
	char who[64];
	runtime_process_name(pid, who, sizeof who);
	printf("%s: %u patch%s applied\n", who, s->npatches, s->npatches == 1 ? "" : "es");
	for (uint32_t i = 0; i < s->npatches; i++) {
		const struct rt_patch *x = &s->patches[i];
		char t[32];
		when(x->applied_at, t);
		printf("\npatch ");
		cli_print_hex(stdout, x->patch_id, 16);
		printf("\n  sequence %llu, applied %s\n  target %s, build-id ",
		       (unsigned long long)x->sequence, t, x->target);
		cli_print_hex(stdout, x->build_id, x->build_id_size);
		printf("\n  image %#llx, %llu bytes\n", (unsigned long long)x->image_addr,
		       (unsigned long long)x->image_size);
		for (uint32_t k = 0; k < s->nfuncs; k++) {
			const struct rt_func *f = &s->funcs[k];
			if (f->patch != i)
				continue;
			if (f->new_size)
				printf("  %s at %#llx -> %#llx (%llu bytes)\n", f->name,
				       (unsigned long long)f->addr, (unsigned long long)f->new_addr,
				       (unsigned long long)f->new_size);
			else
				printf("  %s at %#llx (cold part, checked only)\n", f->name,
				       (unsigned long long)f->addr);
		}
	}
}

static void print_json(pid_t pid, const struct rt_state *s)
{
	printf("{\n  \"format\": \"hpstatus\",\n  \"version\": 1,\n  \"pid\": %d,\n", (int)pid);
	pid_t inner = runtime_ns_pid(pid);
	if (inner)
		printf("  \"ns_pid\": %d,\n", (int)inner);
	if (s->op != RT_OP_NONE) {
		printf("  \"under_way\": {\"op\": \"%s\", \"patch_id\": \"", op_name(s->op));
		cli_print_hex(stdout, s->patches[s->op_patch].patch_id, 16);
		printf("\", \"tool_pid\": %u},\n", s->writer_pid);
	}
	printf("  \"patches\": [");
	for (uint32_t i = 0; i < s->npatches; i++) {
		const struct rt_patch *x = &s->patches[i];
		char t[32];
		when(x->applied_at, t);
		printf("%s\n    {\"patch_id\": \"", i ? "," : "");
		cli_print_hex(stdout, x->patch_id, 16);
		printf("\", \"sequence\": %llu, \"applied\": \"%s\", \"target\": ",
		       (unsigned long long)x->sequence, t);
		hp_json_string(stdout, x->target);
		printf(", \"build_id\": \"");
		cli_print_hex(stdout, x->build_id, x->build_id_size);
		printf("\", \"image\": %llu, \"image_size\": %llu, \"functions\": [",
		       (unsigned long long)x->image_addr, (unsigned long long)x->image_size);
		bool first = true;
		for (uint32_t k = 0; k < s->nfuncs; k++) {
			const struct rt_func *f = &s->funcs[k];
			if (f->patch != i)
				continue;
			printf("%s{\"name\": ", first ? "" : ", ");
			hp_json_string(stdout, f->name);
			printf(", \"addr\": %llu, \"new_addr\": %llu, \"new_size\": %llu}",
			       (unsigned long long)f->addr, (unsigned long long)f->new_addr,
			       (unsigned long long)f->new_size);
			first = false;
		}
		printf("]}");
	}
	printf("\n  ]\n}\n");
}

/* ----- --store: the compliance view (docs/hpstatus-store.md) ---------------- */

static void print_store(struct hp_ctx *ctx, const struct rt_store *s, struct cli_trust *tr,
			bool json, int *rc)
{
	struct signer_trust *trust = NULL;
	size_t mark = ctx->ndiags, ntrust;
	const char *const *trust_paths = cli_trust_paths(tr, CLI_DEFAULT_TRUST, &ntrust);
	size_t require = tr->require;
	int terr = signer_trust_load_all(ctx, trust_paths, ntrust, &trust);
	const char *trust_why = terr < 0 && ctx->ndiags > mark ? hp_arena_strdup(ctx, ctx->diags[mark].text) : NULL;
	if (terr < 0)
		hp_diag_rollback(ctx, mark);
	size_t nprocs = 0, nmissing = 0, nbad = 0;
	if (json)
		printf("{\n  \"format\": \"hpstatus-store\",\n  \"version\": 1,\n  \"store\": ");
	if (json)
		hp_json_string(stdout, s->dir);
	if (json)
		printf(",\n  \"patches\": [");
	else
		printf("store %s: %zu patch%s installed\n", s->dir, s->n, s->n == 1 ? "" : "es");
	for (size_t i = 0; i < s->n; i++) {
		const struct rt_stored *e = &s->v[i];
		/* The stored bytes verified again: the store is not a trust anchor. */
		const char *why = trust_why;
		uint8_t *buf = NULL;
		size_t len = 0;
		mark = ctx->ndiags;
		if (!why) {
			struct signer_verdict v;
			if (runtime_store_read(ctx, s, i, &buf, &len) < 0 ||
			    signer_verify(ctx, trust, "stored patch", buf, len, require, &v) < 0)
				why = ctx->ndiags > mark ? hp_arena_strdup(ctx, ctx->diags[mark].text)
							 : "does not verify";
			hp_diag_rollback(ctx, mark);
		}
		free(buf);
		if (why)
			nbad++;
		struct rt_store_proc *p = NULL;
		size_t np = 0;
		mark = ctx->ndiags;
		if (runtime_store_processes(ctx, s, i, &p, &np) < 0) {
			*rc = CLI_EXIT_ERROR;
			return;
		}
		char when_s[32];
		when(e->installed_at, when_s);
		if (json) {
			printf("%s\n    {\"patch_id\": \"", i ? "," : "");
			cli_print_hex(stdout, e->id, 16);
			printf("\", \"sequence\": %llu, \"build_id\": \"", (unsigned long long)e->sequence);
			cli_print_hex(stdout, e->build_id, e->build_id_size);
			printf("\", \"target\": ");
			hp_json_string(stdout, e->target);
			printf(", \"installed_at\": \"%s\", \"verified\": %s, \"why\": ", when_s,
			       why ? "false" : "true");
			if (why)
				hp_json_string(stdout, why);
			else
				printf("null");
			printf(", \"processes\": [");
		} else {
			printf("\npatch ");
			cli_print_hex(stdout, e->id, 16);
			printf(" (sequence %llu, %s, installed %s): %s%s\n", (unsigned long long)e->sequence,
			       e->target, when_s, why ? "DOES NOT VERIFY: " : "signatures verified",
			       why ? why : "");
		}
		size_t shown = 0;
		for (size_t k = 0; k < np; k++) {
			if (p[k].exited)
				continue;
			nprocs++;
			if (!p[k].patched)
				nmissing++;
			if (json) {
				printf("%s\n      {\"pid\": %d, ", shown ? "," : "", (int)p[k].pid);
				if (p[k].ns_pid)
					printf("\"ns_pid\": %d, ", (int)p[k].ns_pid);
				printf("\"patched\": %s, \"why\": ", p[k].patched ? "true" : "false");
				if (p[k].why)
					hp_json_string(stdout, p[k].why);
				else
					printf("null");
				printf("}");
			} else {
				char who[64];
				runtime_process_name(p[k].pid, who, sizeof who);
				printf("  %s: %s%s\n", who, p[k].patched ? "patched" : "NOT PATCHED: ",
				       p[k].patched ? "" : p[k].why);
			}
			shown++;
		}
		if (json)
			printf("%s]}", shown ? "\n    " : "");
		else if (!shown)
			printf("  no process maps its binary\n");
	}
	bool ok = !nbad && !nmissing;
	if (json)
		printf("%s],\n  \"processes\": %zu,\n  \"unpatched\": %zu,\n  \"unverified\": %zu,\n  \"compliant\": %s\n}\n",
		       s->n ? "\n  " : "", nprocs, nmissing, nbad, ok ? "true" : "false");
	else
		printf("\n%s: %zu process%s, %zu not patched, %zu stored patch%s not verified\n",
		       ok ? "compliant" : "NOT COMPLIANT", nprocs, nprocs == 1 ? "" : "es", nmissing,
		       nbad, nbad == 1 ? "" : "es");
	*rc = nbad ? CLI_EXIT_VERIFY : nmissing ? CLI_EXIT_UNPATCHED : CLI_EXIT_OK;
	signer_trust_free(trust);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'A' },       { "help", no_argument, NULL, 'h' },
		{ "store", optional_argument, NULL, 'S' }, CLI_TRUST_OPTIONS,
		{ "version", no_argument, NULL, 'V' },   { "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },   { NULL, 0, NULL, 0 },
	};
	pid_t pid = 0;
	bool json = false, all = false, store = false, quiet = false, seen_pid = false;
	const char *store_dir = NULL;
	struct cli_trust tr = { .require = 1 };
	int c, verbose = 0;
	char *end;
	while ((c = getopt_long(argc, argv, ":hqv", longopts, NULL)) != -1) {
		int k = cli_trust_option("hpstatus", c, optarg, &tr);
		if (k < 0)
			return CLI_EXIT_ERROR;
		if (k)
			continue;
		switch (c) {
		case 'S':
			if (cli_once("hpstatus", "--store", &store))
				return CLI_EXIT_ERROR;
			/* --store=DIR, and --store DIR as hpapply and hpd take it (an
			 * argument is never otherwise expected). */
			store_dir = optarg;
			if (!optarg && optind < argc && argv[optind][0] != '-')
				store_dir = argv[optind++];
			break;
		case 'p':
			if (cli_once("hpstatus", "--pid", &seen_pid))
				return CLI_EXIT_ERROR;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > INT_MAX)
				return cli_usage("hpstatus", "--pid: '%s' is not a process id", optarg);
			pid = (pid_t)v;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'j':
			json = true;
			break;
		case 'A':
			all = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			cli_print_version("hpstatus");
			return 0;
		default:
			return cli_bad_option("hpstatus", c, argv, longopts);
		}
	}
	if (optind != argc)
		return cli_usage("hpstatus", "unexpected argument '%s'", argv[optind]);
	if ((pid != 0) + all + store != 1)
		return cli_usage("hpstatus", "give one of --pid PID, --all and --store");
	if ((tr.npaths || tr.require_seen) && !store)
		return cli_usage("hpstatus", "--trust and --require go with --store");
	/* -q: what would be printed goes nowhere; the exit status tells. */
	int devnull = quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
	if (devnull >= 0) {
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpstatus");
	ctx.verbose = verbose;
	ctx.quiet = quiet;
	struct rt_state *s = calloc(1, sizeof *s);
	struct rt_result r;
	int rc = CLI_EXIT_ERROR;
	if (!s) {
		hp_nomem(&ctx);
	} else if (store) {
		struct rt_store st;
		size_t mark = ctx.ndiags;
		int err = runtime_store_open(&ctx, store_dir, false, &st);
		if (err == -HP_EMISMATCH) {
			/* No store: nothing installed, nothing to lack. */
			hp_diag_rollback(&ctx, mark);
			const char *dir = store_dir ? store_dir : runtime_store_default();
			if (json) {
				printf("{\n  \"format\": \"hpstatus-store\",\n  \"version\": 1,\n  \"store\": ");
				hp_json_string(stdout, dir);
				printf(",\n  \"patches\": [],\n  \"processes\": 0,\n  \"unpatched\": 0,\n  \"unverified\": 0,\n  \"compliant\": true\n}\n");
			} else {
				printf("store %s: none (nothing installed)\n", dir);
			}
			rc = CLI_EXIT_OK;
		} else if (err == 0) {
			print_store(&ctx, &st, &tr, json, &rc);
			runtime_store_close(&st);
		} else {
			rc = cli_exit_code(err);
		}
	} else if (pid) {
		int err = runtime_status(&ctx, pid, s, &r);
		if (err == 0) {
			if (json)
				print_json(pid, s);
			else
				print_text(pid, s);
		}
		rc = cli_exit_code(err);
	} else {
		/* Every process with a state block; one that exits meanwhile, or whose
		 * patches were all reverted, is left out. A record that cannot be
		 * trusted is reported, not shown as patched. */
		pid_t *pids = NULL;
		size_t n = 0, shown = 0;
		if (runtime_find_patched(&ctx, &pids, &n) == 0) {
			rc = CLI_EXIT_OK;
			if (json) /* an object, not a bare array: [] would carry no version */
				printf("{\n  \"format\": \"hpstatus-all\",\n  \"version\": 1,\n  \"processes\": [");
			for (size_t i = 0; i < n; i++) {
				size_t mark = ctx.ndiags;
				int err = runtime_status(&ctx, pids[i], s, &r);
				if (err == -HP_ERECORD || err == -HP_ELOCKED) {
					if (cli_exit_code(err) > rc)
						rc = cli_exit_code(err);
					continue; /* said on stderr */
				}
				if (err < 0 || (!s->npatches && s->op == RT_OP_NONE)) {
					hp_diag_rollback(&ctx, mark);
					continue;
				}
				if (json)
					printf(shown ? ",\n" : "\n");
				else if (shown)
					printf("\n");
				if (json)
					print_json(pids[i], s);
				else
					print_text(pids[i], s);
				shown++;
			}
			if (json)
				printf("]\n}\n");
			else if (!shown)
				printf("no process has a patch applied\n");
		}
		free(pids);
	}
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	free(s);
	hp_ctx_fini(&ctx);
	return rc;
}
