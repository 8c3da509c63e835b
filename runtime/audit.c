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

#include "formats/base.h"
#include "runtime/runtime.h"

/* /proc/self/loginuid, or -1 when unset (4294967295) or unreadable. */
static long login_uid(void)
{
	int fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[16];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	unsigned long v = strtoul(buf, NULL, 10);
	return v >= 4294967295ul ? -1 : (long)v;
}

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
	/* format and version first, as in every JSON document (docs/json.md) */
	fprintf(f, "{\"format\": \"hotpatch-audit\", \"version\": 1, \"time\": \"%s.%06ldZ\", \"tool\": ",
		when, ts.tv_nsec / 1000);
	hp_json_string(f, a->tool);
	fputs(", \"action\": ", f);
	hp_json_string(f, a->action);
	fputs(", \"phase\": ", f);
	hp_json_string(f, a->phase ? a->phase : "result");
	fprintf(f, ", \"pid\": %d", (int)a->pid);
	pid_t inner = runtime_ns_pid(a->pid);
	if (inner)
		fprintf(f, ", \"ns_pid\": %d", (int)inner);
	fprintf(f, ", \"uid\": %u", (unsigned)getuid());
	long login = login_uid();
	if (login >= 0)
		fprintf(f, ", \"login_uid\": %ld", login);
	else
		fputs(", \"login_uid\": null", f);
	const char *sudo = getenv("SUDO_UID");
	char *end;
	long su = sudo && *sudo ? strtol(sudo, &end, 10) : -1;
	if (su >= 0 && !*end)
		fprintf(f, ", \"sudo_uid\": %ld", su);
	fputs(", \"exe\": ", f);
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
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* Create the log's directory (one level), as a fresh system has none. */
		char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = 0;
			mkdir(dir, 0700);
			fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
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
