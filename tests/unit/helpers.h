/*
 * helpers.h: what unit tests share. Tests compile real C with the real gcc and
 * clang into a temporary directory (removed at exit) and read the objects back.
 * Include <stdarg.h>, <stddef.h>, <stdint.h> and <setjmp.h> before <cmocka.h>.
 */
#ifndef HP_TEST_HELPERS_H
#define HP_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "formats/base.h"
#include "formats/elfread.h"

/* The test's temporary directory, created on first use and removed at exit. */
const char *th_tmpdir(void);
/* Write n bytes to a new file called name in the temporary directory; returns its path (malloc). */
char *th_write_file(const char *name, const void *data, size_t n);
/* Read a whole file; *n gets its size. Fails the test when unreadable. */
uint8_t *th_read_file(const char *path, size_t *n);
/*
 * Compile C source text with cc ("gcc", "clang") and flags into name.o in the
 * temporary directory and return its path. Fails the test if the compiler fails.
 */
char *th_compile(const char *cc, const char *flags, const char *name, const char *src);
/* Read an object that must be valid; fails the test with the diagnostics if not. */
struct obj *th_read_obj(struct hp_ctx *ctx, const char *path);
/* The symbol called name; fails the test if absent. */
struct obj_sym *th_sym(const struct obj *obj, const char *name);
/* The text of the last diagnostic, or "". */
const char *th_last_diag(const struct hp_ctx *ctx);

#endif
