/*
 * cli.h: what the command-line tools share: printing diagnostics and the
 * version line. Only cli/ prints and exits; the passes below only record.
 */
#ifndef HP_CLI_H
#define HP_CLI_H

#include <stdio.h>

#include "formats/base.h"

/* Print every diagnostic as "tool: text", with " [file.c:line]" when -v. */
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
};
/* The status for an error code (-HP_*, or 0). */
int cli_exit_code(int err);
/* A few words for the audit log and reports: "applied", "refused: ...". */
const char *cli_result_name(int err, const char *done);

#endif
