/*
 * hpd: the agent that keeps a machine patched. It applies every patch in the
 * store (hpapply --install) to every process of its binary: at start (boot,
 * a restart of the agent), to each process as it starts (exec events from
 * the kernel, or a /proc scan where those cannot be had), and to what a
 * periodic sweep finds missing (a library mapped later with dlopen, a process
 * that could not be patched before). It never blocks or kills a process it
 * cannot patch: it logs why, counts it and tries again later, backing off.
 * Every attempt goes to the audit log, and to syslog (the journal).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/runtime.h"
#include "signer/signer.h"

#define MAX_TRACKED 4096

static const char usage[] =
	"usage: hpd [options]\n"
	"Keep this machine patched: apply every patch installed in the store\n"
	"(hpapply --install) to every process of its binary, now and as processes\n"
	"start. Runs in the foreground (systemd: hotpatch.service).\n"
	"\n"
	"  --store DIR      the store (default $HOTPATCH_STORE, else /var/lib/hotpatch)\n"
	"  --trust FILE|DIR trusted public keys (default " CLI_DEFAULT_TRUST ");\n"
	"                   several --trust: the keys of each are trusted\n"
	"  --require N      signatures by N distinct trusted keys (default 1)\n"
	"  --audit FILE     the audit log (default $HOTPATCH_AUDIT, else\n"
	"                   " CLI_DEFAULT_AUDIT ")\n"
	"  --sweep-ms MS    how often to sweep for what is missing: libraries mapped\n"
	"                   later, retries (default 10000; with no process events\n"
	"                   from the kernel, this is how soon a new process is found)\n"
	"  --no-events      do not use the kernel's process events: look for new\n"
	"                   processes in /proc every 100 ms instead\n"
	"  --once           one sweep, then exit: 0 everything patched, 4 the trust\n"
	"                   store cannot be read, else the worst status of an apply\n"
	"  --timeout MS     how long to wait for a safe moment per process (default 2000)\n"
	"  -q, --quiet      log to syslog only, nothing on stderr\n"
	"  -v, --verbose    log every attempt on stderr too\n"
	"  -h, --help, --version\n"
	"\n"
	"SIGTERM or SIGINT: finish the operation under way, then exit 0. SIGHUP:\n"
	"read the store again (it is also read again whenever its index changes).\n";

struct opts {
	const char *store, *audit;
	struct cli_trust trust;
	unsigned sweep_ms, timeout_ms;
	bool once, no_events, quiet;
	int verbose;
};

/* A stored patch, verified, as the agent holds it. */
struct loaded {
	struct rt_stored e;
	uint8_t *buf;
	size_t len;
	struct hpx h;
	bool ok;
};

/* A process the agent could not patch: when to try again. */
struct failed {
	pid_t pid;
	uint64_t start;         /* its start time: a reused pid is another process */
	uint8_t id[16];
	uint64_t next_ns;
	unsigned tries;
	char why[200];
};

static struct {
	struct opts o;
	struct hp_ctx lctx;     /* what the loaded patches point into; new at each load */
	struct loaded *v;
	size_t n;
	struct timespec index_mtime;
	ino_t index_ino;
	struct failed fail[MAX_TRACKED];
	size_t nfail;
	unsigned long applied, refused;
} agent;

HP_PRINTF(2, 3) static void say(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	syslog(prio, "%s", line);
	if (agent.o.verbose || (prio <= LOG_WARNING && !agent.o.quiet))
		fprintf(stderr, "hpd: %s\n", line);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void unload(void)
{
	for (size_t i = 0; i < agent.n; i++)
		free(agent.v[i].buf);
	free(agent.v);
	agent.v = NULL;
	agent.n = 0;
}

/* The first diagnostic since mark, for the log; then forget them. */
static const char *first_since(struct hp_ctx *ctx, size_t mark, char *buf, size_t size)
{
	snprintf(buf, size, "%s", ctx->ndiags > mark ? ctx->diags[mark].text : "unknown");
	hp_diag_rollback(ctx, mark);
	return buf;
}

/* Read the store again: every patch verified, in install order. */
static int load(void)
{
	unload();
	hp_ctx_fini(&agent.lctx);
	hp_ctx_init(&agent.lctx, "hpd");
	struct hp_ctx *ctx = &agent.lctx;
	struct rt_store s;
	size_t mark = ctx->ndiags;
	char why[512];
	int err = runtime_store_open(ctx, agent.o.store, false, &s);
	if (err == -HP_EMISMATCH) {
		hp_diag_rollback(ctx, mark);
		return 0; /* nothing installed yet */
	}
	if (err < 0) {
		say(LOG_ERR, "the store: %s", first_since(ctx, mark, why, sizeof why));
		return err;
	}
	struct signer_trust *trust = NULL;
	size_t ntrust;
	const char *const *trust_paths = cli_trust_paths(&agent.o.trust, CLI_DEFAULT_TRUST, &ntrust);
	if ((err = signer_trust_load_all(ctx, trust_paths, ntrust, &trust)) < 0) {
		say(LOG_ERR, "the trust store: %s; no stored patch is applied",
		    first_since(ctx, mark, why, sizeof why));
		runtime_store_close(&s);
		return err == -HP_ENOMEM ? err : -HP_EVERIFY; /* exit 4, as hpapply's */
	}
	agent.v = calloc(s.n ? s.n : 1, sizeof *agent.v);
	if (!agent.v) {
		runtime_store_close(&s);
		signer_trust_free(trust);
		return hp_nomem(ctx);
	}
	for (size_t i = 0; i < s.n; i++) {
		struct loaded *l = &agent.v[agent.n++];
		struct signer_verdict v;
		l->e = s.v[i];
		mark = ctx->ndiags;
		if (runtime_store_read(ctx, &s, i, &l->buf, &l->len) < 0 ||
		    signer_verify(ctx, trust, "stored patch", l->buf, l->len, agent.o.trust.require, &v) < 0 ||
		    hpx_read(ctx, "stored patch", l->buf, l->len, &l->h) < 0) {
			char id[33];
			hp_hex(id, l->e.id, 16);
			say(LOG_ERR, "stored patch %s is refused, not applied: %s", id,
			    first_since(ctx, mark, why, sizeof why));
			continue;
		}
		l->ok = true;
	}
	/* What verified is what the preload library may apply (docs/preload.md). */
	struct rt_verified *ver = calloc(agent.n ? agent.n : 1, sizeof *ver);
	size_t nver = 0;
	for (size_t i = 0; ver && i < agent.n; i++)
		if (agent.v[i].ok) {
			memcpy(ver[nver].id, agent.v[i].e.id, 16);
			hp_sha256(agent.v[i].buf, agent.v[i].len, ver[nver++].sha256);
		}
	mark = ctx->ndiags;
	if (!ver || runtime_store_write_verified(ctx, &s, ver, nver) < 0)
		say(LOG_WARNING, "the store's verified list was not rewritten: %s; hotpatch-load goes by the old one",
		    ver ? first_since(ctx, mark, why, sizeof why) : "out of memory");
	free(ver);
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/index", s.dir);
	if (stat(path, &st) == 0) {
		agent.index_mtime = st.st_mtim;
		agent.index_ino = st.st_ino;
	}
	runtime_store_close(&s);
	signer_trust_free(trust);
	say(LOG_INFO, "%zu stored patch%s loaded", agent.n, agent.n == 1 ? "" : "es");
	return 0;
}

/* Whether the store's index changed since it was loaded (a rename: a new inode). */
static bool store_changed(void)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/index", agent.o.store);
	if (stat(path, &st) < 0)
		return agent.n != 0;
	return st.st_ino != agent.index_ino || st.st_mtim.tv_sec != agent.index_mtime.tv_sec ||
	       st.st_mtim.tv_nsec != agent.index_mtime.tv_nsec;
}

static uint64_t start_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[got] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long v = 0;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &v);
	return v;
}

static struct failed *failure(pid_t pid, uint64_t start, const uint8_t id[16])
{
	for (size_t i = 0; i < agent.nfail; i++)
		if (agent.fail[i].pid == pid && agent.fail[i].start == start &&
		    !memcmp(agent.fail[i].id, id, 16))
			return &agent.fail[i];
	return NULL;
}

/*
 * What could not be patched and why, for hpstatus --store: STORE/agent-failures,
 * one line per process and patch ("pid start-time patch-id tries why"),
 * replaced whole (renamed into place) whenever it changes.
 */
static void write_failures(struct hp_ctx *ctx)
{
	char path[4200], *b = malloc(agent.nfail * 300 + 1);
	size_t used = 0;
	if (!b)
		return;
	b[0] = 0;
	for (size_t i = 0; i < agent.nfail; i++) {
		const struct failed *f = &agent.fail[i];
		used += (size_t)snprintf(b + used, 300, "%d %llu ", (int)f->pid,
					 (unsigned long long)f->start);
		hp_hex(b + used, f->id, 16);
		used += 32;
		used += (size_t)snprintf(b + used, 300 - 40, " %u %s\n", f->tries, f->why);
	}
	snprintf(path, sizeof path, "%s/agent-failures", agent.o.store);
	size_t mark = ctx->ndiags;
	if (hp_write_file_atomic(ctx, path, b, used) < 0)
		hp_diag_rollback(ctx, mark); /* the log has said it; the status will lack it */
	free(b);
}

/* Apply stored patch l to pid, unless a failure there asks to wait. 0: done. */
static bool carries(struct hp_ctx *ctx, pid_t pid, const uint8_t id[16])
{
	static struct rt_state st; /* 200+ KB: not on the stack */
	struct rt_result r;
	size_t mark = ctx->ndiags;
	bool yes = false;
	if (runtime_status(ctx, pid, &st, &r) == 0)
		for (uint32_t j = 0; j < st.npatches && !yes; j++)
			yes = !memcmp(st.patches[j].patch_id, id, 16);
	hp_diag_rollback(ctx, mark);
	return yes;
}

/*
 * The record hotpatch-load wrote inside a process that is not root's is
 * unsigned: checked against the process's code and the store's verified
 * patches, it is signed (runtime_adopt()). -HP_EMISMATCH: no such record.
 */
static int adopt(struct hp_ctx *ctx, pid_t pid)
{
	const struct hpx **known = calloc(agent.n ? agent.n : 1, sizeof *known);
	size_t n = 0;
	if (!known)
		return hp_nomem(ctx);
	for (size_t i = 0; i < agent.n; i++)
		if (agent.v[i].ok)
			known[n++] = &agent.v[i].h;
	int err = runtime_adopt(ctx, pid, known, n);
	free(known);
	if (err == 0) {
		char who[64];
		runtime_process_name(pid, who, sizeof who);
		say(LOG_INFO, "%s: the record hotpatch-load wrote in it, unsigned, agrees with its code and the store; signed",
		    who);
	}
	return err;
}

static int attempt(struct hp_ctx *ctx, struct loaded *l, pid_t pid)
{
	/* Read without stopping it: most processes a sweep meets are patched. */
	if (carries(ctx, pid, l->e.id))
		return 0;
	uint64_t start = start_of(pid);
	struct failed *f = failure(pid, start, l->e.id);
	if (f && now_ns() < f->next_ns)
		return -HP_EBUSY;
	/* Under the store's lock, shared: an uninstall (which holds it exclusively
	 * while it reverts) is never undone behind its back; and the patch must
	 * still be the store's. */
	char lock[4200];
	snprintf(lock, sizeof lock, "%s/.lock", agent.o.store);
	int lfd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0 && flock(lfd, LOCK_SH) < 0) {
		close(lfd);
		lfd = -1;
	}
	if (store_changed()) {
		if (lfd >= 0)
			close(lfd);
		return -HP_EBUSY; /* read again first (the main loop) */
	}
	struct rt_opts ro = { agent.o.timeout_ms, agent.o.verbose, false };
	struct rt_result r;
	memset(&r, 0, sizeof r);
	size_t mark = ctx->ndiags;
	/* hotpatch-load may have patched it already, from inside, and left its
	 * record unsigned (it could not read the key): checked, then signed. */
	int err = adopt(ctx, pid);
	if (err == 0 && carries(ctx, pid, l->e.id)) {
		if (lfd >= 0)
			close(lfd);
		if (f) {
			*f = agent.fail[--agent.nfail];
			write_failures(ctx);
		}
		return 0;
	}
	if (err == 0 || err == -HP_EMISMATCH) {
		hp_diag_rollback(ctx, mark); /* not such a record: an apply as ever */
		err = runtime_apply(ctx, pid, &l->h, &ro, &r);
	}
	if (lfd >= 0)
		close(lfd);
	if (err == -HP_EALREADY) {
		hp_diag_rollback(ctx, mark);
		return 0; /* patched meanwhile (by hpapply --install) */
	}
	char why[512] = "", who[64];
	runtime_process_name(pid, who, sizeof who);
	if (err < 0)
		first_since(ctx, mark, why, sizeof why);
	struct rt_audit a = {
		.tool = "hpd",
		.action = "apply",
		.phase = "result",
		.pid = pid,
		.exe = "",
		.patch_file = "store",
		.patch_id = l->e.id,
		.sequence = l->e.sequence,
		.result = cli_result_name(err, "applied"),
		.exit_code = cli_exit_code(err),
		.message = err < 0 ? why : NULL,
		.r = &r,
	};
	if (runtime_audit(ctx, agent.o.audit, &a) < 0)
		say(LOG_WARNING, "the audit log: %s", first_since(ctx, mark, why, sizeof why));
	hp_diag_rollback(ctx, mark); /* warnings of a success: the audit line has the result */
	if (err == 0) {
		agent.applied++;
		say(LOG_INFO, "%s: patch %s applied (%u threads stopped for %.0f us)", who, l->e.target,
		    r.threads, (double)r.pause_ns / 1e3);
		if (f) {
			*f = agent.fail[--agent.nfail];
			write_failures(ctx);
		}
		return 0;
	}
	if (err == -HP_EMISMATCH && !start_of(pid))
		return err; /* it exited meanwhile */
	agent.refused++;
	if (!f && agent.nfail < MAX_TRACKED) {
		f = &agent.fail[agent.nfail++];
		*f = (struct failed){ pid, start, { 0 }, 0, 0 };
		memcpy(f->id, l->e.id, 16);
	}
	if (f) {
		/* Backing off: 1 s, doubling to 5 minutes. */
		uint64_t wait = 1000000000ull << (f->tries < 8 ? f->tries : 8);
		if (wait > 300000000000ull)
			wait = 300000000000ull;
		f->tries++;
		f->next_ns = now_ns() + wait;
		/* One line: no newline from a message. */
		snprintf(f->why, sizeof f->why, "%.*s", (int)sizeof f->why - 1, why);
		for (char *c = f->why; *c; c++)
			if (*c == '\n')
				*c = ' ';
		write_failures(ctx);
		say(LOG_WARNING, "%s: patch %s not applied (attempt %u, next in %llu s): %s", who,
		    l->e.target, f->tries, (unsigned long long)(wait / 1000000000ull), why);
	}
	return err;
}

/* Every stored patch that pid maps the binary of, in install order. */
static int patch_process(struct hp_ctx *ctx, pid_t pid)
{
	int worst = 0;
	for (size_t i = 0; i < agent.n; i++) {
		struct loaded *l = &agent.v[i];
		size_t mark = ctx->ndiags;
		if (!l->ok || runtime_maps_build(ctx, pid, l->e.build_id, l->e.build_id_size) <= 0) {
			hp_diag_rollback(ctx, mark);
			continue;
		}
		int err = attempt(ctx, l, pid);
		if (err < 0)
			worst = err;
	}
	return worst;
}

/* A process that just called execve: if it runs a stored patch's binary, hold
 * it until the loader is done, then patch it. Libraries it maps are found by
 * the sweeps. */
static void on_exec(pid_t pid)
{
	struct hp_ctx w, *ctx = &w;
	hp_ctx_init(&w, "hpd");
	bool wanted = false;
	for (size_t i = 0; i < agent.n && !wanted; i++) {
		size_t mark = ctx->ndiags;
		wanted = agent.v[i].ok &&
			 runtime_maps_build(ctx, pid, agent.v[i].e.build_id, agent.v[i].e.build_id_size) > 0;
		hp_diag_rollback(ctx, mark);
	}
	if (wanted) {
		size_t mark = ctx->ndiags;
		char why[512];
		if (runtime_agent_wait_loaded(ctx, pid, 1000) < 0)
			say(LOG_WARNING, "process %d: %s; patched when it can be", (int)pid,
			    first_since(ctx, mark, why, sizeof why));
		patch_process(ctx, pid);
	}
	hp_ctx_fini(&w);
}

/* Every process of every stored patch's binary that lacks it. Each piece of
 * work has a context of its own, freed after it: the agent does not grow. */
static int sweep(void)
{
	int worst = 0;
	for (size_t i = 0; i < agent.n; i++) {
		struct loaded *l = &agent.v[i];
		if (!l->ok) {
			worst = -HP_EVERIFY;
			continue;
		}
		struct hp_ctx w;
		hp_ctx_init(&w, "hpd");
		pid_t *pids = NULL;
		size_t n = 0;
		if (runtime_find_mapping(&w, l->e.build_id, l->e.build_id_size, &pids, &n) == 0)
			for (size_t k = 0; k < n && !runtime_signal; k++) {
				int err = attempt(&w, l, pids[k]);
				if (err < 0 && !(err == -HP_EMISMATCH && !start_of(pids[k])))
					worst = err;
			}
		free(pids);
		hp_ctx_fini(&w);
	}
	/* Forget the failures of processes that are gone. */
	struct hp_ctx w;
	hp_ctx_init(&w, "hpd");
	size_t before = agent.nfail;
	for (size_t i = 0; i < agent.nfail;)
		if (start_of(agent.fail[i].pid) != agent.fail[i].start)
			agent.fail[i] = agent.fail[--agent.nfail];
		else
			i++;
	if (agent.nfail != before)
		write_failures(&w);
	hp_ctx_fini(&w);
	return worst;
}

/*
 * Keep only what the work needs once the event socket is open: tracing
 * (CAP_SYS_PTRACE), reading seccomp filters and /proc/PID/map_files
 * (CAP_SYS_ADMIN), opening another user's /proc/PID/mem (that user's, mode
 * 0600) and entering its /proc/PID/map_files (mode 0500) (CAP_DAC_OVERRIDE:
 * the kernel checks the file's mode before ptrace's rules, so without it
 * only root's processes can be patched), staying out of the OOM killer's way
 * during a stop window (CAP_SYS_RESOURCE), the real-time priority of the
 * window (CAP_SYS_NICE). Everything else is dropped from the bounding set too.
 */
static void drop_privileges(void)
{
	static const int keep[] = { CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_DAC_OVERRIDE,
				    CAP_SYS_RESOURCE, CAP_SYS_NICE };
	uint64_t mask = 0;
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		mask |= 1ull << keep[i];
	for (int c = 0; c <= 63; c++)
		if (!(mask & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno == EINVAL)
			break; /* past the last capability this kernel knows */
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	for (int k = 0; k < 2; k++) {
		uint32_t m = (uint32_t)(mask >> (32 * k));
		d[k].effective &= m;
		d[k].permitted &= m;
		d[k].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, d) < 0)
		say(LOG_WARNING, "cannot drop capabilities: %s", strerror(errno));
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/*
 * Without process events: the pids that appeared in /proc since the last
 * look (every 100 ms), each treated as a process that just started.
 */
static pid_t *seen;
static size_t nseen;

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static void scan_new(bool first)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	size_t cap = nseen + 64, n = 0;
	pid_t *now = malloc(cap * sizeof *now);
	struct dirent *e;
	while (now && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		if (n == cap) {
			pid_t *v = realloc(now, (cap *= 2) * sizeof *now);
			if (!v)
				break;
			now = v;
		}
		now[n++] = (pid_t)pid;
	}
	closedir(d);
	if (!now)
		return;
	qsort(now, n, sizeof *now, cmp_pid);
	for (size_t i = 0; !first && i < n && !runtime_signal; i++)
		if (!bsearch(&now[i], seen, nseen, sizeof *seen, cmp_pid))
			on_exec(now[i]);
	free(seen);
	seen = now;
	nseen = n;
}

static volatile sig_atomic_t reload;
static void on_hup(int sig)
{
	(void)sig;
	reload = 1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		CLI_TRUST_OPTIONS,
		{ "audit", required_argument, NULL, 'a' },
		{ "sweep-ms", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "no-events", no_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	o->store = runtime_store_default();
	o->trust.require = 1;
	bool seen_store = false, seen_audit = false, seen_sweep = false, seen_timeout = false;
	o->sweep_ms = 10000;
	o->timeout_ms = 2000;
	o->audit = getenv("HOTPATCH_AUDIT") && *getenv("HOTPATCH_AUDIT") ? getenv("HOTPATCH_AUDIT")
									   : CLI_DEFAULT_AUDIT;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, ":qvh", longopts, NULL)) != -1) {
		int k = cli_trust_option("hpd", c, optarg, &o->trust);
		if (k < 0)
			return -1;
		if (k)
			continue;
		switch (c) {
		case 's':
			if (cli_once("hpd", "--store", &seen_store))
				return -1;
			o->store = optarg;
			break;
		case 'a':
			if (cli_once("hpd", "--audit", &seen_audit))
				return -1;
			o->audit = optarg;
			break;
		case 'w':
		case 'T': {
			const char *name = c == 'w' ? "--sweep-ms" : "--timeout";
			if (cli_once("hpd", name, c == 'w' ? &seen_sweep : &seen_timeout))
				return -1;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || !v || v > 3600000 || optarg[0] == '-')
				return cli_usage("hpd", "%s: '%s' is not a number of milliseconds from 1 to 3600000",
						 name, optarg), -1;
			*(c == 'w' ? &o->sweep_ms : &o->timeout_ms) = (unsigned)v;
			break;
		}
		case 'n':
			o->no_events = true;
			break;
		case '1':
			o->once = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			cli_print_version("hpd");
			exit(0);
		default:
			return cli_bad_option("hpd", c, argv, longopts), -1;
		}
	}
	if (optind != argc)
		return cli_usage("hpd", "unexpected argument '%s'", argv[optind]), -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv, &agent.o) < 0)
		return 1;
	openlog("hpd", LOG_PID, LOG_DAEMON);
	runtime_catch_signals();
	struct sigaction sa = { .sa_handler = on_hup };
	sigaction(SIGHUP, &sa, NULL);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpd");
	int events = -1;
	if (!agent.o.once && !agent.o.no_events) {
		size_t mark = ctx.ndiags;
		char why[512];
		events = runtime_agent_events_open(&ctx);
		if (events < 0)
			say(LOG_WARNING, "%s; scanning /proc every %u ms instead",
			    first_since(&ctx, mark, why, sizeof why), agent.o.sweep_ms);
	}
	drop_privileges();
	int rc = 0;
	hp_ctx_init(&agent.lctx, "hpd");
	int lerr = load();
	if (lerr < 0 && agent.o.once)
		rc = cli_exit_code(lerr);
	/* At start: the boot and restart path. */
	int err = sweep();
	if (agent.o.once) {
		rc = rc ? rc : err < 0 ? cli_exit_code(err) : 0;
		goto out;
	}
	uint64_t next_sweep = now_ns() + (uint64_t)agent.o.sweep_ms * 1000000ull;
	if (events < 0)
		scan_new(true); /* what runs now, the sweep has seen */
	while (!runtime_signal) {
		if (reload || store_changed()) {
			reload = 0;
			load();
			next_sweep = 0;
		}
		uint64_t t = now_ns();
		if (t >= next_sweep) {
			sweep();
			next_sweep = now_ns() + (uint64_t)agent.o.sweep_ms * 1000000ull;
			continue;
		}
		struct pollfd pf = { events, POLLIN, 0 };
		int wait_ms = (int)((next_sweep - t) / 1000000ull) + 1;
		if (wait_ms > 200)
			wait_ms = 200; /* the store's index is looked at this often */
		if (events < 0) {
			scan_new(false);
			if (wait_ms > 100)
				wait_ms = 100;
		}
		int r = poll(&pf, events >= 0 ? 1 : 0, wait_ms);
		if (r <= 0 || !(pf.revents & POLLIN))
			continue;
		pid_t pids[256];
		size_t n;
		int got = runtime_agent_events_read(events, pids, 256, &n);
		for (size_t i = 0; i < n && !runtime_signal; i++)
			on_exec(pids[i]);
		if (got == 1) {
			say(LOG_WARNING, "process events were lost; sweeping now");
			next_sweep = 0;
		}
	}
	say(LOG_INFO, "stopping on signal %d: %lu applied, %lu refused since start",
	    (int)runtime_signal, agent.applied, agent.refused);
out:
	cli_print_diags(&ctx, stderr);
	unload();
	free(seen);
	hp_ctx_fini(&agent.lctx);
	hp_ctx_fini(&ctx);
	closelog();
	return rc;
}
