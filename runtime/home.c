/*
 * home.c: the applier's own directory: one lock per process worked on, and
 * the key that signs the records it writes into processes (state.c).
 *
 * The directory is /run/hotpatch for root; for another user
 * $XDG_RUNTIME_DIR/hotpatch, else /tmp/hotpatch-UID; $HOTPATCH_RUN_DIR
 * overrides all three. It must be a real directory (not a symlink), owned by
 * the user, with no access for group or others: nobody else can hold a lock
 * in it, plant a link in it, or read the key. Every file in it is opened
 * relative to it with O_NOFOLLOW.
 *
 * A lock is a file named PID-STARTTIME.lock held with flock(2): it names one
 * process (a pid reused by another process gets another name), dies with the
 * tool that holds it (the kernel drops the flock), and is removed when done.
 * Lock files left by killed tools are swept when the next tool finds their
 * process gone and the lock free.
 *
 * The key is 32 random bytes made once per boot (/run is a tmpfs; so is the
 * life of every record it signs) and linked into place, so two tools racing
 * to make it agree on one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/base.h"
#include "runtime/runtime_internal.h"

static int check_dir(struct hp_ctx *ctx, const char *path, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot stat: %s", strerror(errno));
	if (st.st_uid != geteuid())
		return hp_err(ctx, HP_ERROR, path, NULL,
			      "owned by uid %u; the applier's directory must belong to the user running it (uid %u)",
			      (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return hp_err(ctx, HP_ERROR, path, NULL,
			      "mode %04o; the applier's directory must be closed to group and others (0700)",
			      (unsigned)(st.st_mode & 07777));
	return 0;
}

static int load_key(struct hp_ctx *ctx, struct rt_home *h)
{
	for (int tries = 0; tries < 3; tries++) {
		int fd = openat(h->dir, "record.key", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			struct stat st;
			ssize_t n = -1;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
			    !(st.st_mode & 077) && st.st_size == RT_KEY_SIZE)
				n = read(fd, h->key, RT_KEY_SIZE);
			close(fd);
			if (n != RT_KEY_SIZE)
				return hp_err(ctx, HP_ERROR, h->path, "record.key",
					      "not a %d-byte file of yours with mode 0600", RT_KEY_SIZE);
			return 0;
		}
		if (errno != ENOENT)
			return hp_err(ctx, HP_ERROR, h->path, "record.key", "cannot open: %s",
				      strerror(errno));
		/* Make it under a private name, then link it into place: the first wins. */
		uint8_t key[RT_KEY_SIZE];
		if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
			return hp_err(ctx, HP_ERROR, NULL, NULL, "getrandom: %s", strerror(errno));
		char tmp[64];
		snprintf(tmp, sizeof tmp, "record.key.%d", (int)getpid());
		unlinkat(h->dir, tmp, 0);
		fd = openat(h->dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return hp_err(ctx, HP_ERROR, h->path, tmp, "cannot create: %s", strerror(errno));
		bool ok = write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
		close(fd);
		if (ok && linkat(h->dir, tmp, h->dir, "record.key", 0) < 0 && errno != EEXIST)
			ok = false;
		unlinkat(h->dir, tmp, 0);
		if (!ok)
			return hp_err(ctx, HP_ERROR, h->path, "record.key", "cannot write: %s",
				      strerror(errno));
	}
	return hp_err(ctx, HP_ERROR, h->path, "record.key", "keeps disappearing");
}

/* Remove lock files whose process is gone and that nobody holds. */
static void sweep(struct rt_home *h)
{
	int fd = openat(h->dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid;
		unsigned long long start, now;
		char tail[8];
		if (sscanf(e->d_name, "%d-%llu.%7s", &pid, &start, tail) != 3 || strcmp(tail, "lock"))
			continue;
		if (proc_start_time(pid, (uint64_t *)&now) == 0 && now == start)
			continue; /* its process lives */
		int lf = openat(h->dir, e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (lf < 0)
			continue;
		if (flock(lf, LOCK_EX | LOCK_NB) == 0)
			unlinkat(h->dir, e->d_name, 0);
		close(lf);
	}
	closedir(d);
}

int home_open(struct hp_ctx *ctx, struct rt_home *h)
{
	memset(h, 0, sizeof *h);
	h->dir = -1;
	const char *env = getenv("HOTPATCH_RUN_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	if (env && *env)
		snprintf(h->path, sizeof h->path, "%s", env);
	else if (geteuid() == 0)
		snprintf(h->path, sizeof h->path, "/run/hotpatch");
	else if (xdg && *xdg == '/')
		snprintf(h->path, sizeof h->path, "%s/hotpatch", xdg);
	else
		snprintf(h->path, sizeof h->path, "/tmp/hotpatch-%u", (unsigned)geteuid());
	if (mkdir(h->path, 0700) < 0 && errno != EEXIST)
		return hp_err(ctx, HP_ERROR, h->path, NULL, "cannot create: %s", strerror(errno));
	h->dir = open(h->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (h->dir < 0)
		return hp_err(ctx, HP_ERROR, h->path, NULL, "cannot open: %s%s", strerror(errno),
			      errno == ELOOP || errno == ENOTDIR ? " (a symlink or not a directory)" : "");
	int err = check_dir(ctx, h->path, h->dir);
	if (err == 0)
		err = load_key(ctx, h);
	if (err == 0)
		sweep(h);
	return err;
}

void home_close(struct rt_home *h)
{
	if (h->dir >= 0)
		close(h->dir);
	h->dir = -1;
	memset(h->key, 0, sizeof h->key);
}

int home_lock(struct hp_ctx *ctx, struct rt_home *h, pid_t pid, uint64_t start, int *out)
{
	char name[64];
	snprintf(name, sizeof name, "%d-%llu.lock", (int)pid, (unsigned long long)start);
	for (int tries = 0; tries < 8; tries++) {
		int fd = openat(h->dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return hp_err(ctx, HP_ERROR, h->path, name, "cannot open the lock: %s",
				      strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return hp_err(ctx, HP_ELOCKED, NULL, NULL,
				      "process %d: another hotpatch tool is working on it", (int)pid);
		}
		/* Still the file of that name? Its holder may have removed it meanwhile. */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && fstatat(h->dir, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev && S_ISREG(a.st_mode)) {
			*out = fd;
			return 0;
		}
		close(fd);
	}
	return hp_err(ctx, HP_ELOCKED, h->path, name, "cannot take the lock: it keeps changing");
}

void home_unlock(struct rt_home *h, pid_t pid, uint64_t start, int fd)
{
	if (fd < 0)
		return;
	char name[64];
	snprintf(name, sizeof name, "%d-%llu.lock", (int)pid, (unsigned long long)start);
	unlinkat(h->dir, name, 0); /* while still held: a waiter re-checks the name */
	close(fd);
}
