/*
 * cli.h: what the command-line tools share: printing diagnostics and the
 * version line. Only cli/ prints and exits; the passes below only record.
 */
#ifndef HP_CLI_H
#define HP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "formats/base.h"
#include "signer/signer.h" /* struct signer_key_opts only: libcli calls nothing of signer/ */

/* The defaults the tools share; make install creates their folders
 * (SYSCONFDIR, LOCALSTATEDIR: keep them /etc and /var, or pass --trust and
 * --audit). The store's default is runtime_store_default(). */
#define CLI_DEFAULT_TRUST "/etc/hotpatch/trusted.d"
#define CLI_DEFAULT_AUDIT "/var/log/hotpatch/audit.jsonl"

/* Print every diagnostic as "tool: text", with " [file.c:line]" when -v;
 * no warning when -q (ctx->quiet). */
void cli_print_diags(const struct hp_ctx *ctx, FILE *f);
/* Print "tool (hotpatch) VERSION" on stdout. */
void cli_print_version(const char *tool);

/*
 * The exit status of the tools that change or read running processes
 * (hpapply, hpstatus): one meaning each, documented in docs/exit-codes.md.
 */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,      /* usage, I/O, anything else */
	CLI_EXIT_MISMATCH = 2,   /* not the process the patch was built for; no such process or patch */
	CLI_EXIT_ALREADY = 3,    /* the patch is already applied */
	CLI_EXIT_VERIFY = 4,     /* signature or trust store check failed */
	CLI_EXIT_NOSAFE = 5,     /* no safe moment before the deadline */
	CLI_EXIT_LOCKED = 6,     /* another tool holds the process (a lock, a writer, a tracer) */
	CLI_EXIT_RECORD = 7,     /* the process's record is untrusted or disagrees with its code */
	CLI_EXIT_INTR = 8,       /* interrupted by SIGINT, SIGTERM or SIGHUP; undone */
	CLI_EXIT_POLICY = 9,     /* older than a patch applied before (--allow-downgrade) */
	CLI_EXIT_CONFINED = 10,  /* its confinement or kind forbids it (seccomp, ptrace policy, 32-bit) */
	CLI_EXIT_UNPATCHED = 11, /* hpstatus --store: a process of a stored patch's binary lacks it */
};
/* The status for an error code (-HP_*, or 0). */
int cli_exit_code(int err);
/* A few words for the audit log and reports: "applied", "refused: ...". */
const char *cli_result_name(int err, const char *done);

/* n bytes as lower-case hex digits. */
void cli_print_hex(FILE *f, const uint8_t *p, size_t n);

/*
 * Usage errors (docs/cli.md): "tool: what" and a pointer to --help, two lines
 * on stderr. Each returns CLI_EXIT_ERROR, for `return cli_usage(...)`.
 */
int cli_usage(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The usage error getopt_long's return c stands for, with an optstring that
 * starts with ':' (so that a missing argument is ':', an unknown option '?');
 * longopts names the options an ambiguous prefix could mean. */
int cli_bad_option(const char *tool, int c, char *const argv[], const struct option *longopts);
/* Refuse an option given twice: 0 the first time (and *seen is set), else
 * the usage error. name as the user would write it ("--pid"). */
int cli_once(const char *tool, const char *name, bool *seen);

/*
 * The options the tools that sign (hpsign, hpbuild --sign) and the tools that
 * verify (hpverify, hpapply) share, parsed in one place: put CLI_KEY_OPTIONS
 * or CLI_TRUST_OPTIONS in the getopt_long table and hand every option to
 * cli_key_option() or cli_trust_option() first.
 */
enum { CLI_OPT_MODULE = 0x1000, CLI_OPT_PIN_ENV, CLI_OPT_PIN_FILE, CLI_OPT_TRUST, CLI_OPT_REQUIRE };
#define CLI_KEY_OPTIONS                                                  \
	{ "module", required_argument, NULL, CLI_OPT_MODULE },           \
	{ "pin-env", required_argument, NULL, CLI_OPT_PIN_ENV },         \
	{ "pin-file", required_argument, NULL, CLI_OPT_PIN_FILE }
#define CLI_TRUST_OPTIONS                                                \
	{ "trust", required_argument, NULL, CLI_OPT_TRUST },             \
	{ "require", required_argument, NULL, CLI_OPT_REQUIRE }
/* 1 when c was --module, --pin-env or --pin-file (kept in *ko); 0 if not;
 * -1 after a usage error (one of them given twice). */
int cli_key_option(const char *tool, int c, const char *arg, struct signer_key_opts *ko);
/* After parsing: a problem with the key options as a phrase, or NULL. */
const char *cli_key_problem(const struct signer_key_opts *ko);
/* The trust options: --trust given several times accumulates (the keys of
 * every store are trusted), --require at most once. */
#define CLI_MAX_TRUST 32
struct cli_trust {
	const char *paths[CLI_MAX_TRUST];
	size_t npaths;
	size_t require; /* 1 unless --require */
	bool require_seen;
};
/* 1 when c was --trust or --require (kept in *t), 0 if not, -1 after a usage
 * error on stderr (--require twice or not a number from 1 to 1000, too many
 * --trust). Set t->require to 1 before the first call. */
int cli_trust_option(const char *tool, int c, const char *arg, struct cli_trust *t);
/* The stores to load: those given, or def alone when none was. */
const char *const *cli_trust_paths(struct cli_trust *t, const char *def, size_t *n);

#endif
