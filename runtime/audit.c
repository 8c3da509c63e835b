/*
 * audit.c: one JSON line per attempt to change a running process, success or
 * not, appended to the audit log. The line is built in memory and written
 * with one write(2) on an O_APPEND descriptor, so concurrent tools never
 * interleave their lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"

int runtime_audit(struct hp_ctx *ctx, const char *path, const struct rt_audit *a)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	if (!f)
		return hp_nomem(ctx);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "{\"time\": \"%s.%06ldZ\", \"tool\": ", when, ts.tv_nsec / 1000);
	hp_json_string(f, a->tool);
	fputs(", \"action\": ", f);
	hp_json_string(f, a->action);
	fprintf(f, ", \"pid\": %d, \"uid\": %u, \"exe\": ", (int)a->pid, (unsigned)getuid());
	hp_json_string(f, a->exe ? a->exe : "");
	fputs(", \"patch_file\": ", f);
	hp_json_string(f, a->patch_file ? a->patch_file : "");
	fputs(", \"patch_id\": ", f);
	if (a->patch_id) {
		fputc('"', f);
		for (int i = 0; i < 16; i++)
			fprintf(f, "%02x", a->patch_id[i]);
		fputc('"', f);
	} else {
		fputs("null", f);
	}
	fprintf(f, ", \"sequence\": %llu, \"result\": ", (unsigned long long)a->sequence);
	hp_json_string(f, a->result);
	fprintf(f, ", \"exit\": %d, \"message\": ", a->exit_code);
	if (a->message)
		hp_json_string(f, a->message);
	else
		fputs("null", f);
	if (a->r)
		fprintf(f, ", \"attempts\": %u, \"threads\": %u, \"pause_us\": %.1f, \"wall_ms\": %.3f",
			a->r->attempts, a->r->threads, (double)a->r->pause_ns / 1e3,
			(double)a->r->wall_ns / 1e6);
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(line);
		return hp_nomem(ctx);
	}
	int err = 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* Create the log's directory (one level), as a fresh system has none. */
		char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = 0;
			mkdir(dir, 0700);
			fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		}
		free(dir);
	}
	if (fd < 0) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot open the audit log: %s", strerror(errno));
	} else {
		ssize_t w = write(fd, line, len);
		if (w != (ssize_t)len)
			err = hp_err(ctx, HP_ERROR, path, NULL, "cannot write the audit log: %s",
				     w < 0 ? strerror(errno) : "short write");
		close(fd);
	}
	free(line);
	return err;
}
