/*
 * helpers.c: see helpers.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

static char tmpdir[64];

static void remove_tmpdir(void)
{
	if (!tmpdir[0])
		return;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

const char *th_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(tmpdir, sizeof tmpdir, "%s/hp-unit-XXXXXX", base);
		if (!mkdtemp(tmpdir)) {
			fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
			abort();
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

static char *path_in_tmp(const char *name)
{
	size_t n = strlen(th_tmpdir()) + strlen(name) + 2;
	char *p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/%s", th_tmpdir(), name);
	return p;
}

char *th_write_file(const char *name, const void *data, size_t n)
{
	char *path = path_in_tmp(name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return path;
}

uint8_t *th_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	uint8_t *buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return buf;
}

char *th_compile(const char *cc, const char *flags, const char *name, const char *src)
{
	char cname[256], oname[256];
	snprintf(cname, sizeof cname, "%s.c", name);
	snprintf(oname, sizeof oname, "%s.o", name);
	char *cpath = th_write_file(cname, src, strlen(src));
	char *opath = path_in_tmp(oname);
	size_t n = strlen(cc) + strlen(flags) + strlen(cpath) + strlen(opath) + 32;
	char *cmd = malloc(n);
	assert_non_null(cmd);
	snprintf(cmd, n, "%s %s -c '%s' -o '%s'", cc, flags, cpath, opath);
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("compile failed (%d): %s", rc, cmd);
	free(cmd);
	free(cpath);
	return opath;
}

const char *th_last_diag(const struct hp_ctx *ctx)
{
	return ctx->ndiags ? ctx->diags[ctx->ndiags - 1].text : "";
}

struct obj *th_read_obj(struct hp_ctx *ctx, const char *path)
{
	struct obj *obj = NULL;
	int err = obj_read_elf(ctx, path, &obj);
	if (err < 0)
		fail_msg("obj_read_elf(%s): %d: %s", path, err, th_last_diag(ctx));
	assert_non_null(obj);
	return obj;
}

struct obj_sym *th_sym(const struct obj *obj, const char *name)
{
	struct obj_sym *s = obj_find_sym(obj, name);
	if (!s)
		fail_msg("%s: no symbol '%s'", obj->path, name);
	return s;
}
