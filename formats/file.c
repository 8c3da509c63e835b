/*
 * file.c: reading a whole file, and writing one so that a failure never leaves
 * a partial file behind (a build system would take it for a good output).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/base.h"

int hp_read_file(struct hp_ctx *ctx, const char *path, size_t max, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot open: %s", strerror(errno));
	int err = hp_read_fd(ctx, fd, path, max, out, len);
	close(fd);
	return err;
}

int hp_read_fd(struct hp_ctx *ctx, int fd, const char *path, size_t max, uint8_t **out,
	       size_t *len)
{
	*out = NULL;
	*len = 0;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return hp_err(ctx, HP_ERROR, path, NULL, "not a regular file");
	if ((uint64_t)st.st_size > max)
		return hp_err(ctx, HP_ECORRUPT, path, NULL, "%lld bytes is more than the %zu allowed",
			      (long long)st.st_size, max);
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return hp_nomem(ctx);
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = errno;
			free(buf);
			return hp_err(ctx, HP_ERROR, path, NULL, "cannot read: %s",
				      r < 0 ? strerror(e) : "file shrank while reading");
		}
		got += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/*
 * Signals whose default action ends the process (SIGKILL aside, which cannot
 * be held): while a temporary file exists they are held, so that an
 * interrupted run (a build system's SIGTERM, a Ctrl-C) cannot leave one behind.
 */
static const int ending_signals[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,   SIGPIPE, SIGALRM,
				      SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM, SIGPROF, SIGXFSZ };

/* Whether a held signal arrived that will end the process once released. */
static bool ending_signal_pending(void)
{
	sigset_t pending;
	if (sigpending(&pending) < 0)
		return false;
	for (size_t i = 0; i < sizeof ending_signals / sizeof ending_signals[0]; i++) {
		struct sigaction sa;
		if (sigismember(&pending, ending_signals[i]) == 1 &&
		    sigaction(ending_signals[i], NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
		    sa.sa_handler == SIG_DFL)
			return true;
	}
	return false;
}

int hp_write_file_atomic(struct hp_ctx *ctx, const char *path, const void *buf, size_t len)
{
	/* What open(0666) would give under the umask. */
	mode_t mask = umask(0);
	umask(mask);
	return hp_write_file_mode(ctx, path, buf, len, 0666 & ~mask);
}

int hp_write_file_mode(struct hp_ctx *ctx, const char *path, const void *buf, size_t len,
		       unsigned mode)
{
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	if (!tmp)
		return hp_nomem(ctx);
	snprintf(tmp, n, "%s.tmpXXXXXX", path);
	sigset_t held, saved;
	sigemptyset(&held);
	for (size_t i = 0; i < sizeof ending_signals / sizeof ending_signals[0]; i++)
		sigaddset(&held, ending_signals[i]);
	sigprocmask(SIG_BLOCK, &held, &saved);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot create: %s", strerror(e));
	}
	/* mkstemp makes the file 0600. */
	int err = 0;
	const uint8_t *p = buf;
	size_t done = 0;
	if (fchmod(fd, (mode_t)mode) < 0)
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot set mode: %s", strerror(errno));
	while (!err && done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			err = hp_err(ctx, HP_ERROR, path, NULL, "cannot write: %s", strerror(errno));
		else
			done += (size_t)w;
	}
	if (!err && fsync(fd) < 0)
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot flush: %s", strerror(errno));
	if (close(fd) < 0 && !err)
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot close: %s", strerror(errno));
	/* Interrupted while writing: the process is about to end; leave nothing. */
	if (!err && ending_signal_pending())
		err = hp_err(ctx, HP_ERROR, path, NULL, "interrupted by a signal; not written");
	if (!err && rename(tmp, path) < 0)
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot rename into place: %s",
			     strerror(errno));
	if (err)
		unlink(tmp);
	free(tmp);
	sigprocmask(SIG_SETMASK, &saved, NULL); /* a held signal takes effect here */
	return err;
}

int hp_check_owner(struct hp_ctx *ctx, const char *file, const struct stat *st, const char *what,
		   bool parent)
{
	uid_t me = geteuid();
	if (st->st_uid != 0 && st->st_uid != me)
		return hp_err(ctx, HP_EVERIFY, file, NULL,
			      "owned by uid %lu; %s%s must belong to root or to you (uid %lu)",
			      (unsigned long)st->st_uid, parent ? "a directory above a " : "a ", what,
			      (unsigned long)me);
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	/* Others may add names to a sticky directory of root's, but not replace ours. */
	if (parent && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return 0;
	return hp_err(ctx, HP_EVERIFY, file, NULL, "writable by %s (mode %04o); %s%s%s",
		      st->st_mode & S_IWOTH ? "others" : "group", (unsigned)(st->st_mode & 07777),
		      parent ? "a directory above a " : "a ", what,
		      parent ? " must be writable by its owner only, or be root's and sticky as /tmp is"
			     : " must be writable by its owner only");
}

int hp_check_parents(struct hp_ctx *ctx, const char *real, const char *what)
{
	char *dir = strdup(real);
	if (!dir)
		return hp_nomem(ctx);
	int err = 0;
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (!slash || (slash == dir && !dir[1]))
			break; /* "/" was the last one checked */
		if (slash == dir)
			slash[1] = 0; /* the parent of "/x" is "/" */
		else
			*slash = 0;
		struct stat st;
		if (lstat(dir, &st) < 0) {
			err = hp_err(ctx, HP_ERROR, dir, NULL, "cannot check a directory above the %s: %s",
				     what, strerror(errno));
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			err = hp_err(ctx, HP_EVERIFY, dir, NULL,
				     "not a directory (a symbolic link put there while the %s was opened?); refusing the %s",
				     what, what);
			break;
		}
		if ((err = hp_check_owner(ctx, dir, &st, what, true)) < 0)
			break;
	}
	free(dir);
	return err;
}

int hp_check_private(struct hp_ctx *ctx, const char *real, const char *what)
{
	struct stat st;
	if (lstat(real, &st) < 0)
		return hp_err(ctx, HP_ERROR, real, NULL, "cannot check the %s: %s", what,
			      strerror(errno));
	if (S_ISLNK(st.st_mode))
		return hp_err(ctx, HP_EVERIFY, real, NULL,
			      "a symbolic link (put there since it was resolved?); refusing the %s", what);
	int err = hp_check_owner(ctx, real, &st, what, false);
	return err < 0 ? err : hp_check_parents(ctx, real, what);
}
