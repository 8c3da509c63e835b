/*
 * cli.h: what the command-line tools share: printing diagnostics and the
 * version line. Only cli/ prints and exits; the passes below only record.
 */
#ifndef HP_CLI_H
#define HP_CLI_H

#include <stdio.h>

#include "formats/formats.h"

/* Print every diagnostic as "tool: text", with " [file.c:line]" when -v. */
void cli_print_diags(const struct hp_ctx *ctx, FILE *f);
/* Print "tool (hotpatch) VERSION" on stdout. */
void cli_print_version(const char *tool);

#endif
