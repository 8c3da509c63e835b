/*
 * hpstatus: what hotpatch has applied to a running process, read from the
 * state block inside it, without stopping it.
 */
#include <getopt.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "formats/base.h"
#include "runtime/runtime.h"

static const char usage[] =
	"usage: hpstatus [--json] --pid PID\n"
	"       hpstatus [--json] --all\n"
	"Show the patches applied to a running process, oldest first, and the\n"
	"functions each one redirects. The process is not stopped.\n"
	"\n"
	"  --pid PID      the process\n"
	"  --all          every process a patch was applied to (a JSON array with --json)\n"
	"  --json         print JSON\n"
	"  -h, --help, --version\n"
	"\n"
	"An operation a killed hpapply left unfinished is finished or rolled back\n"
	"first (the process is stopped briefly), and said.\n"
	"\n"
	"Exit status: 0 read (also when nothing is applied), 1 error, 2 no such\n"
	"process, 6 another tool holds the process, 7 a record is untrusted (not\n"
	"written by hpapply here) or disagrees with the code (with --all: any).\n";

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

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
		hex(stdout, s->patches[s->op_patch].patch_id, 16);
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
		hex(stdout, x->patch_id, 16);
		printf("\n  sequence %llu, applied %s\n  target %s, build-id ",
		       (unsigned long long)x->sequence, t, x->target);
		hex(stdout, x->build_id, x->build_id_size);
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
		hex(stdout, s->patches[s->op_patch].patch_id, 16);
		printf("\", \"tool_pid\": %u},\n", s->writer_pid);
	}
	printf("  \"patches\": [");
	for (uint32_t i = 0; i < s->npatches; i++) {
		const struct rt_patch *x = &s->patches[i];
		char t[32];
		when(x->applied_at, t);
		printf("%s\n    {\"patch_id\": \"", i ? "," : "");
		hex(stdout, x->patch_id, 16);
		printf("\", \"sequence\": %llu, \"applied\": \"%s\", \"target\": ",
		       (unsigned long long)x->sequence, t);
		hp_json_string(stdout, x->target);
		printf(", \"build_id\": \"");
		hex(stdout, x->build_id, x->build_id_size);
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'A' },       { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },   { NULL, 0, NULL, 0 },
	};
	pid_t pid = 0;
	bool json = false, all = false;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = (pid_t)strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "hpstatus: --pid: '%s' is not a process id\n", optarg);
				return 1;
			}
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
			fputs(usage, stderr);
			return 1;
		}
	}
	if (!pid == !all || optind != argc) {
		fprintf(stderr, "hpstatus: give --pid PID or --all\n%s", usage);
		return 1;
	}
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpstatus");
	struct rt_state *s = calloc(1, sizeof *s);
	struct rt_result r;
	int rc = CLI_EXIT_ERROR;
	if (!s) {
		hp_nomem(&ctx);
	} else if (!all) {
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
			if (json)
				printf("[");
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
				printf("]\n");
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
