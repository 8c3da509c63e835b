/*
 * hpapply: apply a signed patch to running processes, or revert one.
 *
 *   hpapply --pid PID FIX.hpx           apply to one process
 *   hpapply --exe PATH FIX.hpx          apply to every process running PATH
 *   hpapply --all FIX.hpx               apply to every process that maps the binary
 *                                       the patch is bound to (an executable or a library)
 *   hpapply --pid PID --revert [ID]     revert the last patch, or patch ID
 *   hpapply --all --revert ID           revert patch ID wherever it is applied
 *
 * Nothing in a process is touched before the container's signatures verify
 * against the trust store and the process is shown to be the one the patch was
 * built for (runtime_apply). Every attempt, whatever its outcome, is appended to
 * the audit log.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "formats/base.h"
#include "formats/hpx.h"
#include "runtime/runtime.h"
#include "signer/signer.h"


static const char usage[] =
	"usage: hpapply [options] --pid PID FIX.hpx\n"
	"       hpapply [options] --exe PATH FIX.hpx\n"
	"       hpapply [options] --all FIX.hpx\n"
	"       hpapply [options] --pid PID --revert [PATCH_ID]\n"
	"       hpapply [options] --all --revert PATCH_ID\n"
	"       hpapply [options] --install FIX.hpx\n"
	"       hpapply [options] --uninstall PATCH_ID\n"
	"Apply a signed live patch to running processes, or revert one, without\n"
	"restarting them; or install it in the machine's patch store, from where\n"
	"the agent (hpd) applies it to every process of its binary, now and later.\n"
	"\n"
	"  --pid PID             the process\n"
	"  --exe PATH            every process running the executable PATH\n"
	"  --all                 every process that maps the executable or library\n"
	"                        the patch is bound to (its build-id); with --revert,\n"
	"                        every process PATCH_ID is applied to\n"
	"  --revert              revert the last patch applied (or PATCH_ID)\n"
	"  --install             verify FIX.hpx, keep it in the store (refused: not\n"
	"                        bound to a build-id, installed already, or below the\n"
	"                        sequence of one installed for the same binary), and\n"
	"                        apply it to every process that maps its binary\n"
	"  --uninstall           revert PATCH_ID in every process, then remove it from\n"
	"                        the store (kept when a process could not be reverted)\n"
	"  --store DIR           the store (default $HOTPATCH_STORE, else\n"
	"                        /var/lib/hotpatch); root's, writable by root only\n"
	"  --trust FILE|DIR      trusted public keys (default " CLI_DEFAULT_TRUST ");\n"
	"                        several --trust: the keys of each are trusted\n"
	"  --require N           signatures by N distinct trusted keys (default 1)\n"
	"  --insecure-unsigned   skip signature checks (development only)\n"
	"  --timeout MS          how long to wait for a safe moment (default 5000)\n"
	"  --allow-downgrade     apply a patch older (by sequence) than one applied\n"
	"                        before to the same binary in the process (audited)\n"
	"  --audit FILE          the audit log (default $HOTPATCH_AUDIT, else\n"
	"                        " CLI_DEFAULT_AUDIT "); nothing is done when it\n"
	"                        cannot be written\n"
	"  --no-audit            run without an audit log\n"
	"  -q, --quiet           print nothing but errors\n"
	"  -v, --verbose         say more\n"
	"  -h, --help, --version\n"
	"\n"
	"SIGINT, SIGTERM and SIGHUP undo what was begun (exit 8). An operation a\n"
	"killed hpapply left unfinished is finished or rolled back first, and said.\n"
	"\n"
	"Exit status (the worst over all processes): 0 applied (or reverted), 1 usage\n"
	"or I/O error, 2 not the process the patch was built for (or no such process\n"
	"or patch), 3 already applied, 4 signature or trust store check failed, 5 no\n"
	"safe moment before the deadline, 6 another tool holds the process, 7 its\n"
	"record is untrusted or disagrees with its code, 8 interrupted (undone),\n"
	"9 older than a patch applied before (--allow-downgrade), 10 the process's\n"
	"confinement or kind forbids it (a seccomp filter's verdict, the kernel's\n"
	"ptrace policy, a 32-bit program).\n";

struct opts {
	pid_t pid;
	const char *exe, *audit, *file, *revert_id, *store;
	bool revert, insecure, quiet, all, allow_downgrade, no_audit, install, uninstall;
	int verbose;
	struct cli_trust trust;
	unsigned timeout_ms;
	bool seen_pid, seen_exe, seen_timeout, seen_audit, seen_store;
};

/* A patch id: 32 hex digits. */
static bool parse_id(const char *s, uint8_t out[16])
{
	return strlen(s) == 32 && hp_unhex(s, 16, out);
}

/* Every process that maps the binary h is bound to. */
static int pids_mapping(struct hp_ctx *ctx, const struct hpx *h, pid_t **out, size_t *n)
{
	if (!h->build_id_size)
		return hp_err(ctx, HP_EMISMATCH, NULL, NULL,
			      "--all needs a patch bound to a build-id (hpbuild --target)");
	return runtime_find_mapping(ctx, h->build_id, h->build_id_size, out, n);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "exe", required_argument, NULL, 'e' },
		{ "all", no_argument, NULL, 'A' },
		{ "revert", no_argument, NULL, 'r' },
		CLI_TRUST_OPTIONS,
		{ "insecure-unsigned", no_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "audit", required_argument, NULL, 'a' },
		{ "no-audit", no_argument, NULL, 'N' },
		{ "allow-downgrade", no_argument, NULL, 'D' },
		{ "install", no_argument, NULL, 'i' },
		{ "uninstall", no_argument, NULL, 'u' },
		{ "store", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	o->trust.require = 1;
	o->timeout_ms = 5000;
	o->audit = getenv("HOTPATCH_AUDIT") && *getenv("HOTPATCH_AUDIT") ? getenv("HOTPATCH_AUDIT")
									   : CLI_DEFAULT_AUDIT;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, ":qvh", longopts, NULL)) != -1) {
		int k = cli_trust_option("hpapply", c, optarg, &o->trust);
		if (k < 0)
			return -1;
		if (k)
			continue;
		switch (c) {
		case 'p':
			if (cli_once("hpapply", "--pid", &o->seen_pid))
				return -1;
			errno = 0;
			long pid = strtol(optarg, &end, 10);
			if (errno || *end || pid <= 0 || pid > INT_MAX)
				return cli_usage("hpapply", "--pid: '%s' is not a process id", optarg), -1;
			o->pid = (pid_t)pid;
			break;
		case 'e':
			if (cli_once("hpapply", "--exe", &o->seen_exe))
				return -1;
			o->exe = optarg;
			break;
		case 'A':
			o->all = true;
			break;
		case 'r':
			o->revert = true;
			break;
		case 'I':
			o->insecure = true;
			break;
		case 'T':
			if (cli_once("hpapply", "--timeout", &o->seen_timeout))
				return -1;
			errno = 0;
			unsigned long ms = strtoul(optarg, &end, 10);
			if (errno || *end || !ms || ms > 3600000 || optarg[0] == '-')
				return cli_usage("hpapply",
						 "--timeout: '%s' is not a number of milliseconds from 1 to 3600000",
						 optarg),
				       -1;
			o->timeout_ms = (unsigned)ms;
			break;
		case 'a':
			if (cli_once("hpapply", "--audit", &o->seen_audit))
				return -1;
			o->audit = optarg;
			break;
		case 'N':
			o->no_audit = true;
			break;
		case 'D':
			o->allow_downgrade = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'i':
			o->install = true;
			break;
		case 'u':
			o->uninstall = true;
			break;
		case 'S':
			if (cli_once("hpapply", "--store", &o->seen_store))
				return -1;
			o->store = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			cli_print_version("hpapply");
			exit(0);
		default:
			return cli_bad_option("hpapply", c, argv, longopts), -1;
		}
	}
	int rest = argc - optind;
	const char *problem = NULL;
	if (o->install || o->uninstall) {
		/* The store's patches go to every process of their binary: --all, kept. */
		if (o->install + o->uninstall + o->revert + (o->pid != 0) + (o->exe != NULL) + o->all != 1)
			problem = "--install and --uninstall take no --pid, --exe, --all or --revert";
		else if (rest != 1)
			problem = o->install ? "--install takes one patch file" : "--uninstall takes the patch id";
		else if (o->install && o->insecure)
			problem = "--install keeps signed patches only (every use verifies them again)";
		if (problem)
			return cli_usage("hpapply", "%s", problem), -1;
		o->all = true;
		o->revert = o->uninstall;
		if (o->revert)
			o->revert_id = argv[optind];
		else
			o->file = argv[optind];
		return 0;
	}
	if (o->store)
		problem = "--store goes with --install or --uninstall";
	else if ((o->pid != 0) + (o->exe != NULL) + o->all != 1)
		problem = "give one of --pid, --exe and --all";
	else if (o->revert && o->exe)
		problem = "--revert takes --pid or --all";
	else if (o->revert && o->all && rest != 1)
		problem = "--revert --all takes the patch id to revert";
	else if (o->revert && rest > 1)
		problem = "--revert takes at most one patch id";
	else if (!o->revert && rest != 1)
		problem = "expected one patch file";
	if (problem)
		return cli_usage("hpapply", "%s", problem), -1;
	if (o->revert)
		o->revert_id = rest ? argv[optind] : NULL;
	else
		o->file = argv[optind];
	return 0;
}

static void exe_of(pid_t pid, char *out, size_t n)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
	ssize_t k = readlink(link, out, n - 1);
	out[k > 0 ? k : 0] = 0;
}

/*
 * Log one line of an attempt: its intent, before anything is touched, its
 * result, or the recovery of an operation an earlier tool left unfinished.
 * A log that cannot be written is itself an error.
 */
static int audit(struct hp_ctx *ctx, const struct opts *o, const char *phase, pid_t pid,
		 const struct hpx *h, int err, const struct rt_result *r, size_t first_diag)
{
	if (o->no_audit)
		return 0;
	char exe[PATH_MAX];
	exe_of(pid, exe, sizeof exe);
	const char *action = o->revert ? "revert" : "apply";
	const char *result = cli_result_name(err, o->revert ? "reverted" : "applied");
	const uint8_t *id = h ? h->patch_id : r && r->has_patch ? r->patch_id : NULL;
	uint8_t named[16]; /* --revert ID, --uninstall ID: known before the process is read */
	if (!id && o->revert_id && parse_id(o->revert_id, named))
		id = named;
	if (!strcmp(phase, "intent")) {
		result = "intent";
	} else if (!strcmp(phase, "recovery")) {
		action = "recover";
		result = r->recovered;
		id = r->recovered_id;
	} else if (!err && r && r->downgraded) {
		result = "applied: downgrade allowed";
	}
	struct rt_audit a = {
		.tool = "hpapply",
		.action = action,
		.phase = phase,
		.pid = pid,
		.exe = exe,
		.patch_file = o->file,
		.patch_id = id,
		.sequence = h ? h->sequence : r && r->has_patch ? r->sequence : 0,
		.result = result,
		.exit_code = strcmp(phase, "result") ? 0 : cli_exit_code(err),
		.message = strcmp(phase, "result") || ctx->ndiags <= first_diag
				   ? NULL
				   : ctx->diags[first_diag].text,
		.r = strcmp(phase, "result") ? NULL : r,
	};
	return runtime_audit(ctx, o->audit, &a);
}

/*
 * One process: the intent line, the operation, a recovery line if it found
 * and finished an earlier one, the result line. Returns the exit status.
 */
static int one(struct hp_ctx *ctx, const struct opts *o, pid_t pid, const struct hpx *h,
	       const uint8_t *revert_id, const struct rt_opts *ro)
{
	size_t m = ctx->ndiags;
	struct rt_result r;
	memset(&r, 0, sizeof r);
	int err = audit(ctx, o, "intent", pid, h, 0, NULL, m);
	if (err < 0) {
		hp_err(ctx, HP_ERROR, NULL, NULL,
		       "process %d: not touched: the audit log cannot be written (--no-audit to run without one)",
		       (int)pid);
		return CLI_EXIT_ERROR;
	}
	if (runtime_signal)
		err = hp_err(ctx, HP_EINTR, NULL, NULL, "process %d: not touched: interrupted by signal %d",
			     (int)pid, (int)runtime_signal);
	else if (o->revert)
		err = runtime_revert(ctx, pid, revert_id, ro, &r);
	else
		err = runtime_apply(ctx, pid, h, ro, &r);
	if (r.recovered)
		audit(ctx, o, "recovery", pid, NULL, 0, &r, m);
	if (audit(ctx, o, "result", pid, h, err, &r, m) < 0 && !err)
		err = -HP_ERROR;
	if (!err && !o->quiet) {
		char who[64];
		runtime_process_name(pid, who, sizeof who);
		if (o->revert)
			printf("hpapply: %s: reverted in %.2f ms (stopped %u threads for %.0f us)\n", who,
			       (double)r.wall_ns / 1e6, r.threads, (double)r.pause_ns / 1e3);
		else
			printf("hpapply: %s: applied %zu function%s in %.2f ms (stopped %u threads for %.0f us, %u attempt%s)%s\n",
			       who, h->nfuncs, h->nfuncs == 1 ? "" : "s", (double)r.wall_ns / 1e6,
			       r.threads, (double)r.pause_ns / 1e3, r.attempts, r.attempts == 1 ? "" : "s",
			       r.downgraded ? " (a downgrade, as --allow-downgrade asked)" : "");
	}
	return cli_exit_code(err);
}

/*
 * --install: patch h (verified; file: its signed bytes) into the store,
 * checked against what is stored for the same binary: bound to a build-id
 * (the agent finds new processes by it), not there already, and not below the
 * sequence of one stored before it unless --allow-downgrade. The store stays
 * locked (s) while the patch is applied, so the agent cannot race it.
 */
static int install(struct hp_ctx *ctx, const struct opts *o, const struct hpx *h,
		   const uint8_t *file, size_t len, struct rt_store *s)
{
	if (!h->build_id_size)
		return hp_err(ctx, HP_EMISMATCH, o->file, NULL,
			      "not bound to a build-id; the store applies patches by build-id (hpbuild --target)");
	int err = runtime_store_open(ctx, o->store, true, s);
	if (err < 0)
		return err;
	for (size_t i = 0; i < s->n && !err; i++) {
		const struct rt_stored *e = &s->v[i];
		if (!memcmp(e->id, h->patch_id, 16))
			err = hp_err(ctx, HP_EALREADY, o->file, NULL, "already installed in %s", s->dir);
		else if (e->build_id_size == h->build_id_size &&
			 !memcmp(e->build_id, h->build_id, h->build_id_size) && e->sequence > h->sequence &&
			 !o->allow_downgrade)
			err = hp_err(ctx, HP_EPOLICY, o->file, NULL,
				     "sequence %llu, below %llu of a patch installed for %s; refusing a rollback without --allow-downgrade",
				     (unsigned long long)h->sequence, (unsigned long long)e->sequence,
				     e->target);
	}
	if (!err)
		err = runtime_store_add(ctx, s, h, file, len);
	/* Verified above: the preload library may trust these bytes (docs/preload.md). */
	if (!err)
		err = runtime_store_mark_verified(ctx, s, h->patch_id, file, len);
	if (err < 0)
		runtime_store_close(s);
	return err;
}

/* Worst status first: any failure beats success, then the higher number. */
static void worst(int *rc, int c)
{
	if (c > *rc)
		*rc = c;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	if (parse_args(argc, argv, &o) < 0)
		return CLI_EXIT_ERROR;
	runtime_catch_signals();
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpapply");
	ctx.verbose = o.verbose;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct signer_trust *trust = NULL;
	pid_t *pids = NULL;
	size_t npids = 0;
	struct hpx h;
	bool have_h = false, have_store = false;
	struct rt_store store;
	int rc = CLI_EXIT_OK, err = 0;
	struct rt_opts ro = { o.timeout_ms, o.verbose, o.allow_downgrade };
	uint8_t id[16];
	size_t mark = ctx.ndiags;

	if (o.revert) {
		if (o.revert_id && !parse_id(o.revert_id, id)) {
			fprintf(stderr, "hpapply: '%s' is not a patch id (32 hex digits)\n", o.revert_id);
			rc = CLI_EXIT_ERROR;
			goto out;
		}
		if (o.uninstall) {
			if ((err = runtime_store_open(&ctx, o.store, true, &store)) < 0)
				goto refuse_all;
			have_store = true;
			if (runtime_store_find(&store, id) < 0) {
				err = hp_err(&ctx, HP_EMISMATCH, store.dir, NULL,
					     "patch %s is not installed", o.revert_id);
				goto refuse_all;
			}
			/* Reverted everywhere first; removed only once none carries it. */
			if ((err = runtime_find_with_patch(&ctx, id, &pids, &npids)) < 0)
				goto refuse_all;
		} else if (o.all) {
			if ((err = runtime_find_with_patch(&ctx, id, &pids, &npids)) == 0 && !npids)
				err = hp_err(&ctx, HP_EMISMATCH, NULL, NULL,
					     "no process has patch %s applied", o.revert_id);
			if (err < 0)
				goto refuse_all;
		}
	} else {
		/* Verify before reading anything past the fixed header. */
		if ((err = hp_read_file(&ctx, o.file, HPX_MAX_PAYLOAD + (1u << 20), &buf, &len)) < 0)
			goto refuse_all;
		if (o.insecure) {
			fprintf(stderr, "hpapply: WARNING: --insecure-unsigned: the signatures of %s are NOT checked; never do this in production\n",
				o.file);
		} else {
			struct signer_verdict v;
			size_t ntrust;
			const char *const *trust_paths = cli_trust_paths(&o.trust, CLI_DEFAULT_TRUST, &ntrust);
			if ((err = signer_trust_load_all(&ctx, trust_paths, ntrust, &trust)) < 0 ||
			    (err = signer_verify(&ctx, trust, o.file, buf, len, o.trust.require, &v)) <
				    0) {
				if (err != -HP_ECORRUPT && err != -HP_EUNSUPPORTED && err != -HP_EVERIFY)
					err = -HP_EVERIFY;
				goto refuse_all;
			}
		}
		if ((err = hpx_read(&ctx, o.file, buf, len, &h)) < 0)
			goto refuse_all;
		have_h = true;
		if (o.install) {
			if ((err = install(&ctx, &o, &h, buf, len, &store)) < 0)
				goto refuse_all;
			have_store = true;
		}
		if (o.exe) {
			if ((err = runtime_find_running(&ctx, o.exe, &pids, &npids)) < 0)
				goto refuse_all;
			if (!npids) {
				err = hp_err(&ctx, HP_EMISMATCH, o.exe, NULL, "no process is running it");
				goto refuse_all;
			}
		} else if (o.all) {
			if ((err = pids_mapping(&ctx, &h, &pids, &npids)) < 0)
				goto refuse_all;
			if (!npids && o.install) {
				if (!o.quiet)
					printf("hpapply: %s: installed in %s; no process maps %s now\n",
					       o.file, store.dir, h.target_name[0] ? h.target_name : "its binary");
				goto out;
			}
			if (!npids) {
				err = hp_err(&ctx, HP_EMISMATCH, o.file, NULL,
					     "no process maps %s with the build-id the patch is bound to",
					     h.target_name[0] ? h.target_name : "the binary");
				goto refuse_all;
			}
		}
	}
	if (o.pid) {
		if (!(pids = malloc(sizeof *pids))) {
			err = hp_nomem(&ctx);
			goto refuse_all;
		}
		pids[0] = o.pid;
		npids = 1;
	}
	for (size_t i = 0; i < npids; i++) {
		int c = one(&ctx, &o, pids[i], have_h ? &h : NULL, o.revert_id ? id : NULL, &ro);
		worst(&rc, c);
		if (c == CLI_EXIT_ERROR && ctx.oom)
			break;
	}
	if (o.install && rc == CLI_EXIT_OK && !o.quiet)
		printf("hpapply: %s: installed in %s\n", o.file, store.dir);
	if (o.uninstall) {
		if (rc != CLI_EXIT_OK)
			hp_err(&ctx, HP_ERROR, store.dir, NULL,
			       "patch %s stays installed: not every process could be reverted", o.revert_id);
		else if ((err = runtime_store_remove(&ctx, &store, id)) < 0)
			rc = cli_exit_code(err);
		else if (!o.quiet)
			printf("hpapply: patch %s: uninstalled from %s\n", o.revert_id, store.dir);
	}
	goto out;

refuse_all:
	/* Nothing was touched; still, every refusal is on the record. */
	rc = cli_exit_code(err);
	if (o.exe && !npids) {
		size_t m = ctx.ndiags;
		if (runtime_find_running(&ctx, o.exe, &pids, &npids) < 0)
			hp_diag_rollback(&ctx, m); /* said once already */
	}
	if (!npids) /* --pid, or no process found: one line all the same (pid 0: none) */
		audit(&ctx, &o, "result", o.pid, have_h ? &h : NULL, err, NULL, mark);
	for (size_t i = 0; i < npids; i++)
		audit(&ctx, &o, "result", pids[i], have_h ? &h : NULL, err, NULL, mark);
out:
	if (have_store)
		runtime_store_close(&store);
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	signer_trust_free(trust);
	free(pids);
	free(buf);
	hp_ctx_fini(&ctx);
	return rc;
}
