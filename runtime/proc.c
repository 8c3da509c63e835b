/*
 * proc.c: a running process seen from outside, through /proc.
 *
 * Memory is read with process_vm_readv and written through /proc/PID/mem,
 * which, unlike process_vm_writev, may write to read-only pages (the kernel
 * makes a private copy of a text page; the file on disk is never touched).
 * Images are opened through /proc/PID/map_files/START-END, which reaches the
 * very file that is mapped even when the one on disk was replaced or deleted;
 * /proc/PID/root/PATH is the fallback.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "runtime/runtime_internal.h"


int proc_read_maps(struct rt_proc *p)
{
	char path[64];
	snprintf(path, sizeof path, "%s/maps", p->dir);
	return maps_read(p->ctx, path, &p->maps, &p->nmaps);
}

const struct rt_map *proc_map_at(const struct rt_proc *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nmaps; i++)
		if (addr >= p->maps[i].start && addr < p->maps[i].end)
			return &p->maps[i];
	return NULL;
}

int proc_read(struct rt_proc *p, uint64_t addr, void *buf, size_t n)
{
	struct iovec local = { buf, n }, remote = { (void *)(uintptr_t)addr, n };
	ssize_t got = process_vm_readv(p->tid, &local, 1, &remote, 1, 0);
	if (got == (ssize_t)n)
		return 0;
	/* Some pages (the vsyscall page, guard pages) refuse process_vm_readv. */
	got = pread(p->mem, buf, n, (off_t)addr);
	if (got == (ssize_t)n)
		return 0;
	return hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: cannot read %zu bytes at %#" PRIx64 ": %s",
		      (int)p->pid, n, addr, got < 0 ? strerror(errno) : "short read");
}

int proc_write(struct rt_proc *p, uint64_t addr, const void *buf, size_t n)
{
	ssize_t put = pwrite(p->mem, buf, n, (off_t)addr);
	if (put == (ssize_t)n)
		return 0;
	return hp_err(p->ctx, HP_ERROR, NULL, NULL, "process %d: cannot write %zu bytes at %#" PRIx64 ": %s",
		      (int)p->pid, n, addr, put < 0 ? strerror(errno) : "short write");
}

/* Open the file behind mapping m as an ELF image. */
static int open_image(struct rt_proc *p, const struct rt_map *m, struct image **out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/map_files/%" PRIx64 "-%" PRIx64, p->dir, m->start, m->end);
	size_t mark = p->ctx->ndiags;
	int err = image_read(p->ctx, path, out);
	if (err == -HP_ERROR) {
		/* No access to map_files: fall back to the path through the process's root. */
		hp_diag_rollback(p->ctx, mark);
		snprintf(path, sizeof path, "%s/root%s", p->dir, m->path);
		err = image_read(p->ctx, path, out);
	}
	return err;
}

/*
 * Every ELF file the process maps executable code from, with its load bias:
 * for the file's lowest mapping, at file offset X, the PT_LOAD segment holding
 * X says which virtual address X has; the bias is the difference.
 */
static int find_images(struct rt_proc *p)
{
	size_t n = 0;
	struct rt_image *v = hp_arena_array(p->ctx, p->nmaps, sizeof *v);
	if (!v)
		return hp_nomem(p->ctx);
	for (size_t i = 0; i < p->nmaps; i++) {
		const struct rt_map *m = &p->maps[i];
		if (!(m->prot & PROT_EXEC) || m->path[0] != '/' || !m->inode)
			continue;
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= !strcmp(v[k].path, m->path);
		if (seen)
			continue;
		/* The file's first mapping: the lowest one with this path. */
		const struct rt_map *first = m;
		for (size_t k = 0; k < p->nmaps; k++)
			if (!strcmp(p->maps[k].path, m->path) && p->maps[k].start < first->start)
				first = &p->maps[k];
		struct image *img;
		size_t mark = p->ctx->ndiags;
		if (open_image(p, first, &img) < 0) {
			/* Not an ELF image we can read: not a candidate. */
			hp_diag_rollback(p->ctx, mark);
			continue;
		}
		uint64_t bias = 0;
		bool found = false;
		for (size_t k = 0; k < img->nloads; k++) {
			const struct image_load *l = &img->loads[k];
			uint64_t lo = l->offset & ~4095ull;
			if (first->offset >= lo && first->offset < l->offset + l->filesz + 4096) {
				bias = first->start - ((l->vaddr & ~4095ull) + (first->offset - lo));
				found = true;
				break;
			}
		}
		if (!found) {
			image_free(img);
			continue;
		}
		struct rt_image *ri = &v[n++];
		ri->img = img;
		ri->path = m->path;
		ri->bias = bias;
		ri->lo = UINT64_MAX;
		ri->hi = 0;
		for (size_t k = 0; k < p->nmaps; k++)
			if (!strcmp(p->maps[k].path, m->path)) {
				ri->lo = p->maps[k].start < ri->lo ? p->maps[k].start : ri->lo;
				ri->hi = p->maps[k].end > ri->hi ? p->maps[k].end : ri->hi;
			}
		ri->main = !strcmp(m->path, p->exe);
	}
	/* The executable first: the dynamic linker's lookup order starts there. */
	for (size_t i = 1; i < n; i++)
		if (v[i].main) {
			struct rt_image t = v[i];
			memmove(v + 1, v, i * sizeof *v);
			v[0] = t;
		}
	p->images = v;
	p->nimages = n;
	return 0;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
int proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* The name (field 2) may hold spaces and parentheses: count from the last ')'. */
	char *q = strrchr(buf, ')');
	if (!q)
		return -1;
	q++;
	for (int field = 2; field < 21 && q; field++)
		q = strchr(q + 1, ' ');
	if (!q)
		return -1;
	*out = strtoull(q + 1, NULL, 10);
	return 0;
}

/* A thread's state letter from /proc/PID/task/TID/stat ('?' when unreadable). */
char proc_thread_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *q = strrchr(buf, ')');
	return q && q[1] == ' ' ? q[2] : '?';
}

int proc_live_threads(struct rt_proc *p, pid_t **out, size_t *n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)p->pid);
	DIR *d = opendir(path);
	if (!d)
		return hp_err(p->ctx, HP_EMISMATCH, NULL, NULL, "process %d: no such process", (int)p->pid);
	pid_t *v = NULL;
	size_t cap = 0;
	int err = 0;
	*n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		char st = proc_thread_state(p->pid, (pid_t)tid);
		if (st == 'Z' || st == 'X' || st == '?')
			continue; /* an exited main thread stays listed as a zombie */
		if ((err = hp_grow(p->ctx, &v, &cap, *n, sizeof *v, 16)) < 0)
			break;
		v[(*n)++] = (pid_t)tid;
	}
	closedir(d);
	if (err < 0) {
		free(v);
		return err;
	}
	if (!*n) {
		free(v);
		return hp_err(p->ctx, HP_EMISMATCH, NULL, NULL, "process %d: no live thread", (int)p->pid);
	}
	*out = v;
	return 0;
}

/* The first thread of pid that holds another tracer, or 0. */
int proc_foreign_tracer(struct rt_proc *p, pid_t *tid, pid_t *tracer)
{
	pid_t *v;
	size_t n;
	int err = proc_live_threads(p, &v, &n);
	if (err < 0)
		return err;
	*tid = *tracer = 0;
	for (size_t i = 0; i < n && !*tid; i++) {
		char path[64], line[256];
		snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)p->pid, (int)v[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			long t;
			if (sscanf(line, "TracerPid: %ld", &t) == 1) {
				if (t && t != getpid()) {
					*tid = v[i];
					*tracer = (pid_t)t;
				}
				break;
			}
		}
		fclose(f);
	}
	free(v);
	return 0;
}

int proc_seccomp(struct rt_proc *p)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "%s/status", p->dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int mode = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

long proc_lowest_free_fd(struct rt_proc *p)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)p->pid);
	DIR *d = opendir(path);
	if (!d)
		return 3;
	uint64_t used[16] = { 0 }; /* the first 1024 */
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
			unsigned long fd = strtoul(e->d_name, NULL, 10);
			if (fd < 1024)
				used[fd / 64] |= 1ull << (fd % 64);
		}
	closedir(d);
	for (long fd = 0; fd < 1024; fd++)
		if (!(used[fd / 64] & (1ull << (fd % 64))))
			return fd;
	return 1024;
}

int proc_alive(struct rt_proc *p)
{
	struct pollfd pf = { p->pidfd, POLLIN, 0 };
	if (p->pidfd >= 0 && poll(&pf, 1, 0) == 0)
		return 0;
	if (p->pidfd < 0) {
		/* No pidfd (an old kernel): the start time is the identity. */
		uint64_t t;
		if (proc_start_time(p->pid, &t) == 0 && t == p->start)
			return 0;
	}
	return hp_err(p->ctx, HP_EMISMATCH, NULL, NULL,
		      "process %d: exited while being worked on (its pid may now name another process)",
		      (int)p->pid);
}

/* The first number on the line of /proc/PID/status that starts with key. */
static long status_field(const struct rt_proc *p, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "%s/status", p->dir);
	FILE *f = fopen(path, "re");
	long v = -1;
	size_t k = strlen(key);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, k)) {
			v = strtol(line + k, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

pid_t runtime_ns_pid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	long inner = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "NSpid:", 6)) {
			/* The host's pid first, the innermost namespace's last. */
			char *q = line + 6, *end;
			for (long v; (v = strtol(q, &end, 10)), end != q; q = end)
				inner = v;
			break;
		}
	fclose(f);
	return inner == pid ? 0 : (pid_t)inner;
}

void runtime_process_name(pid_t pid, char *out, size_t size)
{
	pid_t inner = runtime_ns_pid(pid);
	if (inner)
		snprintf(out, size, "process %d (pid %d in its namespace)", (int)pid, (int)inner);
	else
		snprintf(out, size, "process %d", (int)pid);
}

/* The kernel will not let us look into the process: say why, as well as can be told. */
static int not_permitted(struct rt_proc *p)
{
	long uid = status_field(p, "Uid:");
	struct stat st;
	const char *why;
	char scope[8] = "";
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		if (!fgets(scope, sizeof scope, f))
			scope[0] = 0;
		fclose(f);
	}
	if (uid >= 0 && (uid_t)uid != geteuid())
		why = "it belongs to another user";
	else if (stat(p->dir, &st) == 0 && st.st_uid != (uid_t)uid)
		why = "it made itself non-dumpable (PR_SET_DUMPABLE 0, or a set-id program)";
	else if (scope[0] && scope[0] != '0')
		why = "the Yama ptrace_scope setting allows only ancestors or root to trace";
	else
		why = "a security module or the kernel's ptrace policy forbids it";
	return hp_err(p->ctx, HP_ECONFINED, NULL, NULL,
		      "process %d: the kernel does not let this user trace it: %s; run hpapply as root (CAP_SYS_PTRACE); nothing done",
		      (int)p->pid, why);
}

/* A 64-bit x86 process: anything else is not ours to patch. */
static int check_kind(struct rt_proc *p)
{
	char path[64];
	unsigned char e[20];
	snprintf(path, sizeof path, "%s/exe", p->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* said later, more precisely, by what reads its images */
	ssize_t n = pread(fd, e, sizeof e, 0);
	close(fd);
	if (n != (ssize_t)sizeof e || memcmp(e, ELFMAG, SELFMAG))
		return 0;
	unsigned machine = e[EI_DATA] == ELFDATA2LSB ? (unsigned)(e[18] | e[19] << 8) : 0;
	if (e[EI_CLASS] == ELFCLASS64 && machine == EM_X86_64)
		return 0;
	return hp_err(p->ctx, HP_ECONFINED, NULL, NULL,
		      "process %d: %s is a %s program (ELF machine %u); hotpatch patches 64-bit x86 processes only; nothing done",
		      (int)p->pid, p->exe, e[EI_CLASS] == ELFCLASS32 ? "32-bit" : "foreign-architecture",
		      machine);
}

static int open_proc(struct hp_ctx *ctx, pid_t pid, struct rt_proc *p, bool images)
{
	memset(p, 0, sizeof *p);
	p->ctx = ctx;
	p->pid = p->tid = pid;
	p->mem = -1;
	/* Pin it first: every later look is checked against this process. */
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0 && errno == ESRCH)
		return hp_err(ctx, HP_EMISMATCH, NULL, NULL, "process %d: no such process", (int)pid);
	if (proc_start_time(pid, &p->start) < 0)
		return hp_err(ctx, HP_EMISMATCH, NULL, NULL, "process %d: no such process", (int)pid);
	/* Read it through a live thread: a main thread that called pthread_exit
	 * is a zombie whose /proc entries show no memory. */
	pid_t *live;
	size_t nlive;
	int err = proc_live_threads(p, &live, &nlive);
	if (err < 0)
		return err;
	p->tid = live[0];
	for (size_t i = 0; i < nlive; i++)
		if (live[i] == pid)
			p->tid = pid;
	free(live);
	snprintf(p->dir, sizeof p->dir, "/proc/%d", (int)p->tid);
	char path[64];
	snprintf(path, sizeof path, "%s/exe", p->dir);
	ssize_t n = readlink(path, p->exe, sizeof p->exe - 1);
	if (n < 0 && (errno == EACCES || errno == EPERM))
		return not_permitted(p);
	if (n < 0)
		return hp_err(ctx, errno == ENOENT ? HP_EMISMATCH : HP_ERROR, NULL, NULL,
			      "process %d: %s", (int)pid,
			      errno == ENOENT ? "no such process" : strerror(errno));
	p->exe[n] = 0;
	snprintf(path, sizeof path, "%s/mem", p->dir);
	p->mem = open(path, O_RDWR | O_CLOEXEC);
	if (p->mem < 0 && (errno == EACCES || errno == EPERM))
		return not_permitted(p);
	if (p->mem < 0)
		return hp_err(ctx, HP_ERROR, NULL, NULL, "process %d: cannot open its memory: %s",
			      (int)pid, strerror(errno));
	if ((err = check_kind(p)) < 0 || (err = proc_read_maps(p)) < 0 ||
	    (images && (err = find_images(p)) < 0))
		return err;
	/* Everything above was read from the process the pidfd holds. */
	return proc_alive(p);
}

int proc_open(struct hp_ctx *ctx, pid_t pid, struct rt_proc *p)
{
	return open_proc(ctx, pid, p, true);
}

int proc_open_maps(struct hp_ctx *ctx, pid_t pid, struct rt_proc *p)
{
	return open_proc(ctx, pid, p, false);
}

void proc_close(struct rt_proc *p)
{
	for (size_t i = 0; i < p->nimages; i++)
		image_free(p->images[i].img);
	p->nimages = 0;
	if (p->mem >= 0)
		close(p->mem);
	p->mem = -1;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}

int proc_find_gap(const struct rt_proc *p, uint64_t lo, uint64_t hi, uint64_t size,
		  unsigned skip, uint64_t *out)
{
	if (maps_find_gap(p->maps, p->nmaps, 0, lo, hi, size, skip, out) < 0)
		return hp_err(p->ctx, HP_ERROR, NULL, NULL,
			      "process %d: no free %" PRIu64 "-byte range within reach of %#" PRIx64 "-%#" PRIx64,
			      (int)p->pid, size, lo, hi);
	return 0;
}

/*
 * Room for the stub (runtime/stub.S) that no code uses: the tail of the last
 * page of an executable segment, past the segment's end. The loader maps
 * whole pages, so those bytes are mapped executable, yet they belong to no
 * segment: nothing branches there and nothing reads them. Writing them through
 * /proc/PID/mem gives the process a private copy of that one page.
 */
int proc_find_cave(struct rt_proc *p, size_t size, uint64_t *out, const uint8_t **orig)
{
	for (size_t i = 0; i < p->nimages; i++) {
		const struct rt_image *ri = &p->images[i];
		const struct image *img = ri->img;
		for (size_t k = 0; k < img->nloads; k++) {
			const struct image_load *l = &img->loads[k];
			if (!(l->flags & PF_X))
				continue;
			uint64_t end = ri->bias + l->vaddr + l->memsz;
			uint64_t a = (end + 15) & ~15ull, page_end = (end + 4095) & ~4095ull;
			if (a + size > page_end)
				continue;
			/* No other segment shares that page (a -N link can pack them). */
			bool shared = false;
			for (size_t j = 0; j < img->nloads; j++) {
				const struct image_load *o = &img->loads[j];
				uint64_t lo = ri->bias + o->vaddr, hi = lo + o->memsz;
				shared |= j != k && lo < page_end && hi > (end & ~4095ull);
			}
			const struct rt_map *m = proc_map_at(p, a);
			if (shared || !m || !(m->prot & PROT_EXEC) || strcmp(m->path, ri->path) ||
			    a + size > m->end)
				continue;
			uint64_t off = m->offset + (a - m->start);
			if (off + size > img->size)
				continue; /* past the end of the file: no bytes to put back */
			*out = a;
			*orig = img->bytes + off;
			return 0;
		}
	}
	return hp_err(p->ctx, HP_ERROR, NULL, NULL,
		      "process %d: no unused room after the code of any image for the %zu-byte system-call stub",
		      (int)p->pid, size);
}
