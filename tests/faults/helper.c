/*
 * helper.c: the small programs tests/faults needs, in one binary.
 *
 *   helper run [-t SECS] [-d USEC -s SIG [-p PID -r FILE]] -- CMD ARGS...
 *       Run CMD in a process group of its own. With -d, send SIG (KILL, INT,
 *       TERM or STOP) to it after USEC microseconds. For STOP: wait 200 ms,
 *       count the threads of process PID in a stopped or traced state, send
 *       SIGCONT. With -r, write "SENT HELD TOTAL" to FILE: SENT 1 when CMD had
 *       not exited yet when the signal went, HELD of TOTAL threads counted. After SECS seconds (default 10) the whole group is killed.
 *       Exit status: CMD's, 128+N when it died of signal N, 124 on timeout,
 *       like timeout(1).
 *
 *   helper spawnat PID -- CMD ARGS...
 *       Start CMD as process PID (clone3 with set_tid; the number must be
 *       free) and wait for it; exit with its status as above. Exit 125 when
 *       the number cannot be had.
 *
 *   helper forge MODE
 *       Map a memfd named "hotpatch-state", 128 KiB, as the applier does for
 *       its record, fill it as MODE says, print "ready PID" and sleep:
 *         garbage    pseudo-random bytes
 *         huge       "HPSTATE1", version 1, 0xffffffff patches and functions
 *         huge2      "HPSTATE2", version 2, the same counts
 *         fields     "HPSTATE1", counts in range, every field out of range:
 *                    build-id sizes of 4 GiB, function records naming patch
 *                    0xffffffff, names and targets without a NUL, wild addresses
 *         odd        "HPSTATE1", an odd generation forever (a writer that died)
 *         plausible  a well-formed record of one patch (the id below)
 *                    redirecting a function of this program that holds no jump
 *       The patch id in every record that has one is 00112233445566778899aabbccddeeff.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: helper run [-t SECS] [-d USEC -s SIG [-p PID -r FILE]] -- CMD...\n"
			"       helper spawnat PID -- CMD...\n"
			"       helper forge MODE\n");
	return 2;
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 126;
}

static void child_defaults(void)
{
	/* A background job of a script ignores SIGINT and SIGQUIT, and exec keeps
	 * that: the program under test must see the default dispositions. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ----- run ------------------------------------------------------------------ */

static volatile pid_t group;

static void on_fatal(int sig)
{
	if (group > 0) {
		kill(-group, SIGKILL);
		kill(-group, SIGCONT);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to ms for the pidfd to become readable (the child exited): 1 if it did. */
static int wait_exit(int pidfd, int64_t ms)
{
	int64_t end = now_ms() + ms;
	for (;;) {
		int64_t left = end - now_ms();
		if (left < 0)
			left = 0;
		struct pollfd p = { pidfd, POLLIN, 0 };
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return 0;
	}
}

/* How many threads of pid are stopped or traced ('T' or 't'), of how many. */
static void count_held(pid_t pid, int *held, int *total)
{
	char path[64];
	*held = *total = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[300], buf[512];
		snprintf(p, sizeof p, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		char *rp = strrchr(buf, ')');
		if (!rp || rp[1] != ' ')
			continue;
		(*total)++;
		*held += rp[2] == 't' || rp[2] == 'T';
	}
	closedir(d);
}

static int signum(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} t[] = { { "KILL", SIGKILL }, { "INT", SIGINT }, { "TERM", SIGTERM }, { "STOP", SIGSTOP } };
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(s, t[i].name) || (!strncmp(s, "SIG", 3) && !strcmp(s + 3, t[i].name)))
			return t[i].sig;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	long secs = 10, usec = -1;
	int sig = 0;
	pid_t watch = 0;
	const char *report = NULL;
	int i = 2;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (i + 1 >= argc)
			return usage();
		if (!strcmp(argv[i], "-t"))
			secs = atol(argv[++i]);
		else if (!strcmp(argv[i], "-d"))
			usec = atol(argv[++i]);
		else if (!strcmp(argv[i], "-s"))
			sig = signum(argv[++i]);
		else if (!strcmp(argv[i], "-p"))
			watch = (pid_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "-r"))
			report = argv[++i];
		else
			return usage();
	}
	if (i + 1 >= argc || secs <= 0 || (usec >= 0 && !sig))
		return usage();
	char **cmd = argv + i + 1;

	struct sigaction sa = { 0 };
	sa.sa_handler = on_fatal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	pid_t pid = fork();
	if (pid < 0)
		return 126;
	if (pid == 0) {
		setpgid(0, 0);
		child_defaults();
		execvp(cmd[0], cmd);
		fprintf(stderr, "helper run: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* either of the two calls wins; both ask the same */
	group = pid;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 126;
	}
	int64_t t0 = now_ms(), limit = secs * 1000;
	int st = 0, timed_out = 0;
	if (usec >= 0) {
		struct timespec ts = { usec / 1000000, (usec % 1000000) * 1000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		/* Not reaped yet, so the pid is still this child's even if it exited. */
		int sent = !wait_exit(pidfd, 0);
		kill(pid, sig);
		int held = 0, total = 0;
		if (sig == SIGSTOP) {
			struct timespec ts2 = { 0, 200000000 };
			while (nanosleep(&ts2, &ts2) < 0 && errno == EINTR)
				;
			if (watch)
				count_held(watch, &held, &total);
			kill(pid, SIGCONT);
		}
		if (report) {
			FILE *f = fopen(report, "w");
			if (f) {
				fprintf(f, "%d %d %d\n", sent, held, total);
				fclose(f);
			}
		}
	}
	if (!wait_exit(pidfd, limit - (now_ms() - t0))) {
		timed_out = 1;
		kill(-pid, SIGKILL);
		kill(-pid, SIGCONT);
	}
	/* Whatever the command left in its group (strace's tracee) goes too, while
	 * the unreaped leader still holds the group's number. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	group = 0;
	return timed_out ? 124 : status_code(st);
}

/* ----- spawnat -------------------------------------------------------------- */

static int cmd_spawnat(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--"))
		return usage();
	pid_t want = (pid_t)atol(argv[2]);
	char **cmd = argv + 4;
	pid_t tid[1] = { want };
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)tid;
	ca.set_tid_size = 1;
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid < 0) {
		fprintf(stderr, "helper spawnat: clone3 with pid %d: %s\n", (int)want, strerror(errno));
		return 125;
	}
	if (pid == 0) {
		child_defaults();
		execvp(cmd[0], cmd);
		fprintf(stderr, "helper spawnat: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid((pid_t)pid, &st, 0) < 0)
		if (errno != EINTR)
			return 126;
	return status_code(st);
}

/* ----- forge ---------------------------------------------------------------- */

#define STATE_SIZE (128u * 1024)
#define HDR 64
#define PATCH_SIZE 192
#define FUNC_SIZE 96
#define FUNCS_AT (HDR + 64 * PATCH_SIZE)

static const uint8_t forged_id[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A function of the forger the plausible record claims is redirected. */
__attribute__((noipa)) int forged_victim(int x)
{
	return x * 7 + 3;
}

static void header(uint8_t *b, const char *magic, uint32_t version, uint64_t gen, uint32_t np,
		   uint32_t nf)
{
	memcpy(b, magic, 8);
	le32(b + 8, version);
	le32(b + 12, STATE_SIZE);
	le64(b + 16, gen);
	le32(b + 24, np);
	le32(b + 28, nf);
}

static int cmd_forge(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	const char *mode = argv[2];
	int fd = memfd_create("hotpatch-state", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, STATE_SIZE) < 0) {
		perror("helper forge: memfd");
		return 1;
	}
	uint8_t *b = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (b == MAP_FAILED) {
		perror("helper forge: mmap");
		return 1;
	}
	close(fd);
	uint64_t s = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < STATE_SIZE; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		b[i] = (uint8_t)s;
	}
	if (!strcmp(mode, "garbage")) {
		/* as filled */
	} else if (!strcmp(mode, "huge")) {
		header(b, "HPSTATE1", 1, 2, 0xffffffffu, 0xffffffffu);
		memcpy(b + HDR, forged_id, 16);
	} else if (!strcmp(mode, "huge2")) {
		header(b, "HPSTATE2", 2, 2, 0xffffffffu, 0xffffffffu);
		memcpy(b + HDR, forged_id, 16);
	} else if (!strcmp(mode, "fields")) {
		header(b, "HPSTATE1", 1, 2, 64, 1024);
		for (int i = 0; i < 64; i++) {
			uint8_t *q = b + HDR + i * PATCH_SIZE;
			memcpy(q, forged_id, 16);
			le32(q + 96, 0xffffffffu);	  /* build-id size */
			le32(q + 100, 0xffffffffu);	  /* nfuncs */
			le64(q + 104, 0xfffffffffffff000ull); /* image address */
			le64(q + 112, 0xffffffffffffffffull); /* image size */
			memset(q + 120, 'A', 64);	  /* target, no NUL */
		}
		for (int i = 0; i < 1024; i++) {
			uint8_t *q = b + FUNCS_AT + i * FUNC_SIZE;
			le64(q, 0x10 + (uint64_t)i);
			le64(q + 8, 0xffffffffffffffffull);
			le64(q + 16, 0xdead000000000000ull);
			le64(q + 24, 0xffffffffffffffffull);
			le32(q + 40, i % 2 ? 0xffffffffu : 63); /* patch index */
			memset(q + 48, 'B', 44);		     /* name, no NUL */
		}
	} else if (!strcmp(mode, "odd")) {
		header(b, "HPSTATE1", 1, 3, 0, 0);
		memset(b + 32, 0, STATE_SIZE - 32);
	} else if (!strcmp(mode, "plausible")) {
		memset(b, 0, STATE_SIZE);
		header(b, "HPSTATE1", 1, 2, 1, 1);
		uint8_t *q = b + HDR;
		memcpy(q, forged_id, 16);
		le64(q + 16, 1);
		le64(q + 24, (uint64_t)time(NULL));
		memset(q + 32, 0x5a, 20);
		le32(q + 96, 20);
		le32(q + 100, 1);
		le64(q + 104, (uint64_t)(uintptr_t)b); /* "the image": the record itself */
		le64(q + 112, 4096);
		strcpy((char *)q + 120, "forged");
		uint8_t *f = b + FUNCS_AT;
		le64(f, (uint64_t)(uintptr_t)forged_victim);
		le64(f + 8, 16);
		le64(f + 16, (uint64_t)(uintptr_t)b + 64);
		le64(f + 24, 16);
		memset(f + 32, 0xcc, 8); /* "saved" bytes: int3, fatal if written back */
		le32(f + 40, 0);
		strcpy((char *)f + 48, "forged_victim");
	} else {
		return usage();
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		/* Keep calling the function the plausible record names: a write of the
		 * "saved" int3 bytes into it would kill this process. */
		volatile int x = forged_victim(1);
		(void)x;
		usleep(1000);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc, argv);
	if (!strcmp(argv[1], "spawnat"))
		return cmd_spawnat(argc, argv);
	if (!strcmp(argv[1], "forge"))
		return cmd_forge(argc, argv);
	return usage();
}
