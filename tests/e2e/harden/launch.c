/*
 * launch.c: start a program the way systemd starts a hardened service, so
 * that the tests can live-patch one (issue 14, tests/e2e/hardened.sh).
 *
 *   launch [OPTIONS] -- PROG [ARGS...]
 *
 * Each option imitates the systemd.exec(5) directive it is named after. They
 * are applied in this order whatever the order given: namespaces and mounts,
 * then no_new_privs, then MDWE, then the seccomp filters (the system call
 * filter, the MemoryDenyWriteExecute= filter, the --deny filter, each its own
 * filter, loaded in that order), then PROG is executed (searched in PATH).
 *
 *   --private-pid            PrivatePIDs=yes. A new PID namespace; launch
 *                            forks, the child is PID 1 in it, enters a new
 *                            mount namespace of its own, makes / private,
 *                            mounts a fresh /proc, applies the other options
 *                            and runs PROG. launch waits for it, exits with its
 *                            status (128+N when killed by signal N), prints
 *                            nothing, and forwards SIGTERM, SIGINT and SIGHUP
 *                            to it. A namespace's PID 1 ignores a signal it has
 *                            no handler for, even one sent from outside; so
 *                            when the child neither catches nor ignores the
 *                            signal, launch kills it with SIGKILL (what the
 *                            default action would have done). If launch dies,
 *                            the child is killed (PR_SET_PDEATHSIG).
 *   --pid-file=FILE          with --private-pid: write the child's PID as seen
 *                            from here (the host) to FILE, before PROG starts.
 *   --protect-system-strict  ProtectSystem=strict. A new mount namespace, /
 *                            made private (recursively), every mount read-only
 *                            (mount_setattr) except /dev, /proc, /sys and the
 *                            --rw paths and what is mounted under them: those
 *                            are left as they were rather than remounted
 *                            writable, so that nothing read-only before (a
 *                            container's /proc/sys, say) becomes writable.
 *   --rw=PATH                ReadWritePaths=PATH (repeatable): PATH is bound
 *                            onto itself, so that it is a mount of its own, and
 *                            left writable.
 *   --root=DIR               RootDirectory=DIR, the way a container runtime
 *                            enters its image: a new mount namespace, DIR bound
 *                            onto itself and made the root (pivot_root), the
 *                            old root detached, so that no path of the host's
 *                            reaches the program's files; with --private-pid,
 *                            a fresh /proc is mounted in DIR. Done before the
 *                            other mounts (their paths are then DIR's).
 *   --no-new-privs           NoNewPrivileges=yes: prctl(PR_SET_NO_NEW_PRIVS).
 *   --mdwe                   MemoryDenyWriteExecute=yes on a kernel with MDWE
 *                            (6.3 or later): prctl(PR_SET_MDWE,
 *                            PR_MDWE_REFUSE_EXEC_GAIN). The kernel keeps it
 *                            across fork and execve (unless PR_MDWE_NO_INHERIT,
 *                            6.7), so PROG runs under it: mmap() of writable
 *                            and executable memory and mprotect() that makes a
 *                            mapping executable fail with EACCES.
 *   --mdwe-seccomp[=kill|eperm]
 *                            MemoryDenyWriteExecute=yes as systemd does it with
 *                            seccomp where the kernel has no MDWE: mmap() with
 *                            both PROT_WRITE and PROT_EXEC, mprotect() and
 *                            pkey_mprotect() with PROT_EXEC, shmat() with
 *                            SHM_EXEC are denied; everything else is allowed.
 *                            Denied means the process is killed (kill, the
 *                            default) or the call fails with EPERM (eperm,
 *                            which is what systemd itself does).
 *   --system-service[=eperm|kill]
 *                            SystemCallFilter=@system-service: an allow list,
 *                            every other system call fails with EPERM (eperm,
 *                            the default; systemd's SystemCallErrorNumber=EPERM)
 *                            or kills the process (kill: systemd's default
 *                            action without SystemCallErrorNumber=). The list
 *                            is systemd's group as its src/shared/seccomp-util.c
 *                            defined it in 2025 (what `systemd-analyze
 *                            syscall-filter @system-service` prints), written
 *                            out below, groups expanded;
 *                            names this libseccomp does not know, or that this
 *                            architecture lacks, are skipped. (systemd also
 *                            answers ENOSYS, not EPERM, for system calls newer
 *                            than it knows; not done here.)
 *   --deny=NAME[:eperm|:kill]
 *                            SystemCallFilter=~NAME (repeatable): the system
 *                            call NAME fails with EPERM (the default) or kills
 *                            the process; an unknown NAME is an error.
 *   --self-sandbox[=SHIM]    no systemd equivalent: the seccomp filters are not
 *                            loaded by launch but by PROG itself once started,
 *                            as a program that sandboxes itself does (sshd,
 *                            Chromium, a service built with libseccomp). A
 *                            filter from launch would make --deny=mmap
 *                            impossible: the dynamic loader and pthread_create
 *                            need mmap. launch runs PROG with SHIM preloaded
 *                            (LD_PRELOAD; default: launch-shim.so next to the
 *                            launch executable, built from this file with
 *                            -DLAUNCH_SHIM -shared -fPIC), which loads the
 *                            filters on all threads (SECCOMP_FILTER_FLAG_TSYNC)
 *                            when the program first calls pthread_join(), as
 *                            samples/live-server's main does once its workers
 *                            run. The shim takes LD_PRELOAD back out of the
 *                            environment.
 *
 * Not provided: --dumpable=0 (no systemd directive; a service made
 * non-dumpable). execve() of a binary the caller can read, with unchanged
 * credentials, sets the dumpable flag back to 1, so a prctl(PR_SET_DUMPABLE,
 * 0) made here does not survive into PROG, and nothing but PROG itself (or a
 * preloaded library, or a ptrace injection) can make it non-dumpable
 * afterwards; the only exec-time lever, euid != uid, would change who the
 * program runs as.
 *
 * The seccomp filters are loaded without setting no_new_privs (libseccomp
 * would set it by default; systemd does not either when it runs a service as
 * root): pass --no-new-privs to have it. Loading one without it needs
 * CAP_SYS_ADMIN.
 *
 * Any setup failure: one line on stderr, exit 127.
 *
 * Build: gcc -std=c11 -O2 -Wall -o launch launch.c -lseccomp
 *        gcc -std=c11 -O2 -Wall -shared -fPIC -DLAUNCH_SHIM -o launch-shim.so launch.c -lseccomp
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN (1UL << 0)
#endif
#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif

/* How --self-sandbox hands the seccomp options to the shim. */
#define ENV_SPEC "LAUNCH_SECCOMP"
#define ENV_OLD_PRELOAD "LAUNCH_OLD_LD_PRELOAD"

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("launch: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	_exit(127);
}

/* SystemCallFilter=@system-service, as systemd defines it: @aio @basic-io
 * @chown @default (which includes @sandbox) @file-system @io-event @ipc
 * @keyring @memlock @network-io @process @resources @setuid @signal @sync
 * @timer, and the calls listed after them. */
static const char *const system_service[] = {
	/* @aio */
	"io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"io_setup", "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup",
	/* @basic-io */
	"_llseek", "close", "close_range", "dup", "dup2", "dup3", "llseek", "lseek",
	"pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readv",
	"write", "writev",
	/* @chown */
	"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
	/* @default */
	"arch_prctl", "brk", "cacheflush", "clock_getres", "clock_getres_time64",
	"clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
	"execve", "exit", "exit_group", "futex", "futex_time64", "futex_waitv",
	"get_robust_list", "get_thread_area", "getegid", "getegid32", "geteuid",
	"geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getpgid", "getpgrp",
	"getpid", "getppid", "getrandom", "getresgid", "getresgid32", "getresuid",
	"getresuid32", "getrlimit", "getsid", "gettid", "gettimeofday", "getuid",
	"getuid32", "lsm_get_self_attr", "lsm_list_modules", "membarrier", "mmap", "mmap2",
	"mprotect", "mseal", "munmap", "nanosleep", "pause", "prlimit64", "restart_syscall",
	"riscv_flush_icache", "riscv_hwprobe", "rseq", "rt_sigreturn", "sched_getaffinity",
	"sched_yield", "set_robust_list", "set_thread_area", "set_tid_address", "set_tls",
	"sigreturn", "time", "ugetrlimit", "uretprobe",
	/* @sandbox (in @default) */
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "seccomp",
	/* @file-system */
	"access", "chdir", "chmod", "close", "creat", "faccessat", "faccessat2", "fallocate",
	"fchdir", "fchmod", "fchmodat", "fchmodat2", "fcntl", "fcntl64", "fgetxattr",
	"file_getattr", "file_setattr", "flistxattr", "fremovexattr", "fsetxattr", "fstat",
	"fstat64", "fstatat", "fstatat64", "fstatfs", "fstatfs64", "ftruncate", "ftruncate64",
	"futimesat", "getcwd", "getdents", "getdents64", "getxattr", "getxattrat",
	"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "lgetxattr",
	"link", "linkat", "listmount", "listxattr", "listxattrat", "llistxattr",
	"lremovexattr", "lsetxattr", "lstat", "lstat64", "mkdir", "mkdirat", "mknod",
	"mknodat", "newfstat", "newfstatat", "oldfstat", "oldlstat", "oldstat", "open",
	"open_tree", "openat", "openat2", "readlink", "readlinkat", "removexattr",
	"removexattrat", "rename", "renameat", "renameat2", "rmdir", "setxattr", "setxattrat",
	"stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat",
	"truncate", "truncate64", "unlink", "unlinkat", "utime", "utimensat",
	"utimensat_time64", "utimes",
	/* @io-event */
	"_newselect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
	"poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64", "select",
	/* @ipc */
	"ipc", "memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
	"msgctl", "msgget", "msgrcv", "msgsnd", "pipe", "pipe2", "process_madvise",
	"process_vm_readv", "process_vm_writev", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
	/* @keyring */
	"add_key", "keyctl", "request_key",
	/* @memlock */
	"mlock", "mlock2", "mlockall", "munlock", "munlockall",
	/* @network-io */
	"accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
	"listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send",
	"sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socket", "socketcall",
	"socketpair",
	/* @process */
	"capget", "clone", "clone3", "execveat", "fork", "getrusage", "kill", "pidfd_open",
	"pidfd_send_signal", "prctl", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "setns",
	"swapcontext", "tgkill", "times", "tkill", "unshare", "vfork", "wait4", "waitid",
	"waitpid",
	/* @resources */
	"ioprio_set", "mbind", "migrate_pages", "move_pages", "nice", "sched_setaffinity",
	"sched_setattr", "sched_setparam", "sched_setscheduler", "set_mempolicy",
	"set_mempolicy_home_node", "setpriority", "setrlimit",
	/* @setuid */
	"setgid", "setgid32", "setgroups", "setgroups32", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setuid", "setuid32",
	/* @signal */
	"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaction", "sigaltstack", "signal",
	"signalfd", "signalfd4", "sigpending", "sigprocmask", "sigsuspend",
	/* @sync */
	"fdatasync", "fsync", "msync", "sync", "sync_file_range", "sync_file_range2",
	"syncfs",
	/* @timer */
	"alarm", "getitimer", "setitimer", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times",
	/* @system-service's own */
	"arm_fadvise64_64", "capget", "capset", "copy_file_range", "fadvise64",
	"fadvise64_64", "flock", "get_mempolicy", "getcpu", "getpriority", "ioctl",
	"ioprio_get", "kcmp", "madvise", "mremap", "name_to_handle_at", "oldolduname",
	"olduname", "personality", "readahead", "readdir", "remap_file_pages",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
	"sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_yield", "sendfile", "sendfile64", "setfsgid",
	"setfsgid32", "setfsuid", "setfsuid32", "setpgid", "setsid", "splice", "sysinfo",
	"tee", "umask", "uname", "userfaultfd", "vmsplice",
};

/* ----- the seccomp options, shared by launch and the shim ------------------------------- */

#define MAX_DENY 64

struct filters {
	int mdwe_seccomp; /* on or off; what it does in mdwe_action */
	uint32_t mdwe_action;
	int system_service;
	uint32_t system_service_action;
	int ndeny;
	int deny_nr[MAX_DENY];
	uint32_t deny_action[MAX_DENY];
};

static bool action_of(const char *word, uint32_t *action)
{
	if (!strcmp(word, "kill"))
		*action = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(word, "eperm"))
		*action = SCMP_ACT_ERRNO(EPERM);
	else
		return false;
	return true;
}

/* One seccomp option into f: 1 taken, 0 not a seccomp option; dies when malformed. */
static int seccomp_option(const char *arg, struct filters *f)
{
	const char *v;
	if (!strcmp(arg, "--mdwe-seccomp") || !strncmp(arg, "--mdwe-seccomp=", 15)) {
		f->mdwe_seccomp = 1;
		f->mdwe_action = SCMP_ACT_KILL_PROCESS;
		if (arg[14] == '=' && !action_of(arg + 15, &f->mdwe_action))
			die("%s: expected =kill or =eperm", arg);
		return 1;
	}
	if (!strcmp(arg, "--system-service") || !strncmp(arg, "--system-service=", 17)) {
		f->system_service = 1;
		f->system_service_action = SCMP_ACT_ERRNO(EPERM);
		if (arg[16] == '=' && !action_of(arg + 17, &f->system_service_action))
			die("%s: expected =kill or =eperm", arg);
		return 1;
	}
	if (!strncmp(arg, "--deny=", 7)) {
		char name[64];
		v = arg + 7;
		const char *colon = strchr(v, ':');
		size_t n = colon ? (size_t)(colon - v) : strlen(v);
		if (n == 0 || n >= sizeof name)
			die("%s: expected --deny=NAME[:kill|:eperm]", arg);
		memcpy(name, v, n);
		name[n] = 0;
		if (f->ndeny == MAX_DENY)
			die("%s: more than %d --deny", arg, MAX_DENY);
		uint32_t action = SCMP_ACT_ERRNO(EPERM);
		if (colon && !action_of(colon + 1, &action))
			die("%s: expected :kill or :eperm after the name", arg);
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			die("%s: no system call %s on this architecture", arg, name);
		f->deny_nr[f->ndeny] = nr;
		f->deny_action[f->ndeny++] = action;
		return 1;
	}
	return 0;
}

static scmp_filter_ctx new_filter(uint32_t def, bool tsync)
{
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		die("seccomp_init failed");
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r == 0 && tsync)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		die("seccomp_attr_set: %s", strerror(-r));
	return ctx;
}

static void add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *what,
		     unsigned n, const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_exact_array(ctx, action, nr, n, cmp);
	if (r < 0)
		die("seccomp rule for %s: %s", what, strerror(-r));
}

static void load(scmp_filter_ctx ctx, const char *what)
{
	int r = seccomp_load(ctx);
	if (r < 0)
		die("loading the %s seccomp filter: %s%s", what, strerror(-r),
		    r == -EACCES ? " (needs --no-new-privs or CAP_SYS_ADMIN)" : "");
	seccomp_release(ctx);
}

static void load_filters(const struct filters *f, bool tsync)
{
	if (f->system_service) {
		scmp_filter_ctx ctx = new_filter(f->system_service_action, tsync);
		for (size_t i = 0; i < sizeof system_service / sizeof *system_service; i++) {
			int nr = seccomp_syscall_resolve_name(system_service[i]);
			if (nr == __NR_SCMP_ERROR || nr < 0) /* unknown, or not on this architecture */
				continue;
			int r = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, nr, 0);
			if (r < 0 && r != -EEXIST && r != -EDOM)
				die("seccomp rule for %s: %s", system_service[i], strerror(-r));
		}
		load(ctx, "@system-service");
	}
	if (f->mdwe_seccomp) {
		scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW, tsync);
		uint32_t a = f->mdwe_action;
		struct scmp_arg_cmp wx = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC);
		struct scmp_arg_cmp x = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC);
		struct scmp_arg_cmp shmx = SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC);
		add_rule(ctx, a, SCMP_SYS(mmap), "mmap", 1, &wx);
		add_rule(ctx, a, SCMP_SYS(mprotect), "mprotect", 1, &x);
		add_rule(ctx, a, SCMP_SYS(pkey_mprotect), "pkey_mprotect", 1, &x);
		add_rule(ctx, a, SCMP_SYS(shmat), "shmat", 1, &shmx);
		load(ctx, "MemoryDenyWriteExecute");
	}
	if (f->ndeny) {
		scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW, tsync);
		for (int i = 0; i < f->ndeny; i++)
			add_rule(ctx, f->deny_action[i], f->deny_nr[i], "--deny", 0, NULL);
		load(ctx, "--deny");
	}
}

#ifdef LAUNCH_SHIM
/* ----- the shim (--self-sandbox) -------------------------------------------------------- */

static struct filters shim_filters;
static bool shim_armed;

__attribute__((constructor)) static void shim_init(void)
{
	const char *spec = getenv(ENV_SPEC);
	if (!spec)
		return;
	char *copy = strdup(spec), *save = NULL;
	if (!copy)
		die("out of memory");
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (!seccomp_option(w, &shim_filters))
			die("%s: %s: not a seccomp option", ENV_SPEC, w);
	free(copy);
	shim_armed = true;
	/* Out of the environment: not for PROG's own children. */
	const char *old = getenv(ENV_OLD_PRELOAD);
	if (old)
		setenv("LD_PRELOAD", old, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv(ENV_OLD_PRELOAD);
	unsetenv(ENV_SPEC);
}

int pthread_join(pthread_t t, void **ret)
{
	static int (*real)(pthread_t, void **);
	if (!real)
		real = (int (*)(pthread_t, void **))dlsym(RTLD_NEXT, "pthread_join");
	if (shim_armed) {
		shim_armed = false;
		load_filters(&shim_filters, true);
	}
	return real(t, ret);
}

#else
/* ----- launch ----------------------------------------------------------------------------- */

#define MAX_RW 32

struct options {
	bool private_pid, protect_system, no_new_privs, mdwe, self_sandbox;
	const char *pid_file, *shim, *root;
	int nrw;
	const char *rw[MAX_RW];
	struct filters f;
	char spec[4096]; /* the seccomp options, for the shim */
};

static void usage(void)
{
	die("usage: launch [--private-pid [--pid-file=FILE]] [--root=DIR] [--protect-system-strict [--rw=PATH]...] "
	    "[--no-new-privs] [--mdwe] [--mdwe-seccomp[=kill|eperm]] [--system-service[=eperm|kill]] "
	    "[--deny=NAME[:eperm|:kill]]... [--self-sandbox[=SHIM]] -- PROG [ARGS...]");
}

/* ----- mounts ----- */

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1) /* "/" */
		return true;
	return !strncmp(path, dir, n) && (path[n] == 0 || path[n] == '/');
}

/* A mountinfo field with its \ooo escapes undone, in place. */
static char *unescape(char *s)
{
	char *o = s;
	for (char *i = s; *i; i++, o++) {
		if (i[0] == '\\' && i[1] >= '0' && i[1] <= '7' && i[2] >= '0' && i[2] <= '7' &&
		    i[3] >= '0' && i[3] <= '7') {
			*o = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
			i += 3;
		} else
			*o = *i;
	}
	*o = 0;
	return s;
}

static void protect_system_strict(struct options *o)
{
	char rw[MAX_RW][PATH_MAX];
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("making / private: %s", strerror(errno));
	for (int i = 0; i < o->nrw; i++) {
		if (!realpath(o->rw[i], rw[i]))
			die("--rw=%s: %s", o->rw[i], strerror(errno));
		if (mount(rw[i], rw[i], NULL, MS_BIND | MS_REC, NULL) < 0)
			die("binding %s onto itself: %s", rw[i], strerror(errno));
	}
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	if (!mi)
		die("/proc/self/mountinfo: %s", strerror(errno));
	char line[8192];
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	while (fgets(line, sizeof line, mi)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		char *save = NULL, *f = strtok_r(line, " ", &save);
		for (int k = 0; f && k < 4; k++)
			f = strtok_r(NULL, " ", &save);
		if (!f)
			die("/proc/self/mountinfo: a line without a mount point");
		char *mp = unescape(f);
		bool keep = under(mp, "/dev") || under(mp, "/proc") || under(mp, "/sys");
		for (int i = 0; !keep && i < o->nrw; i++)
			keep = under(mp, rw[i]);
		if (keep)
			continue;
		if (mount_setattr(AT_FDCWD, mp, AT_SYMLINK_NOFOLLOW, &ro, sizeof ro) < 0 &&
		    errno != ENOENT) /* hidden under a later mount, or gone */
			die("making %s read-only: %s", mp, strerror(errno));
	}
	fclose(mi);
	if (access("/", W_OK) == 0 || errno != EROFS)
		die("/ is still writable");
}

/* ----- --private-pid: the parent stays outside, waits, forwards signals ----- */

static volatile sig_atomic_t pending[NSIG];

static void on_signal(int sig)
{
	pending[sig] = 1;
}

/* Whether pid catches or ignores sig, from /proc/PID/status's SigCgt and SigIgn. */
static bool handles(pid_t pid, int sig)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	unsigned long long mask = 0, m;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "SigCgt: %llx", &m) == 1 || sscanf(line, "SigIgn: %llx", &m) == 1)
			mask |= m;
	fclose(f);
	return mask >> (sig - 1) & 1;
}

static void parent(pid_t child, int sync_w, const char *pid_file)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		if (sigaction(forwarded[i], &sa, NULL) < 0) {
			kill(child, SIGKILL);
			die("sigaction: %s", strerror(errno));
		}
	if (pid_file) {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof tmp, "%s.tmp", pid_file);
		FILE *f = fopen(tmp, "we");
		if (!f || fprintf(f, "%d\n", (int)child) < 0 || fclose(f) != 0 || rename(tmp, pid_file) < 0) {
			kill(child, SIGKILL);
			die("--pid-file=%s: %s", pid_file, strerror(errno));
		}
	}
	if (write(sync_w, "g", 1) != 1) { /* the child goes on */
		kill(child, SIGKILL);
		die("starting the child: %s", strerror(errno));
	}
	close(sync_w);
	for (;;) {
		int status;
		pid_t r = waitpid(child, &status, 0);
		if (r == child) {
			if (WIFEXITED(status))
				_exit(WEXITSTATUS(status));
			if (WIFSIGNALED(status))
				_exit(128 + WTERMSIG(status));
			continue;
		}
		if (r < 0 && errno != EINTR)
			die("waitpid: %s", strerror(errno));
		for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
			int sig = forwarded[i];
			if (!pending[sig])
				continue;
			pending[sig] = 0;
			kill(child, sig);
			if (!handles(child, sig)) /* left to its default action, which PID 1 does not get */
				kill(child, SIGKILL);
		}
	}
}

static void private_pid(struct options *o)
{
	if (unshare(CLONE_NEWPID) < 0)
		die("unshare(CLONE_NEWPID): %s", strerror(errno));
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child > 0) {
		close(sync[0]);
		parent(child, sync[1], o->pid_file);
	}
	close(sync[1]);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die("PR_SET_PDEATHSIG: %s", strerror(errno));
	char c;
	ssize_t n;
	while ((n = read(sync[0], &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1) /* launch is gone */
		die("the parent died before the child started");
	close(sync[0]);
	/* The mount namespace is the child's alone: launch goes on reading the
	 * host's /proc. */
	if (unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("making / private: %s", strerror(errno));
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mounting /proc: %s", strerror(errno));
}

/* ----- --root ----- */

static void enter_root(const struct options *o)
{
	if (!o->private_pid && unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("making / private: %s", strerror(errno));
	if (mount(o->root, o->root, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("binding %s: %s", o->root, strerror(errno));
	if (chdir(o->root) < 0)
		die("%s: %s", o->root, strerror(errno));
	/* pivot_root(".", "."): the old root stacks under the new one; detach it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root %s: %s", o->root, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die("detaching the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		die("chdir /: %s", strerror(errno));
	if (o->private_pid && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mounting /proc in %s: %s", o->root, strerror(errno));
}

/* ----- --self-sandbox ----- */

static void self_sandbox(struct options *o)
{
	char shim[PATH_MAX];
	if (o->shim)
		snprintf(shim, sizeof shim, "%s", o->shim);
	else {
		ssize_t n = readlink("/proc/self/exe", shim, sizeof shim - 32);
		if (n < 0)
			die("/proc/self/exe: %s", strerror(errno));
		shim[n] = 0;
		char *slash = strrchr(shim, '/');
		strcpy(slash ? slash + 1 : shim, "launch-shim.so");
	}
	if (access(shim, R_OK) < 0)
		die("--self-sandbox: %s: %s", shim, strerror(errno));
	const char *old = getenv("LD_PRELOAD");
	char preload[2 * PATH_MAX];
	if (old && *old) {
		snprintf(preload, sizeof preload, "%s:%s", shim, old);
		if (setenv(ENV_OLD_PRELOAD, old, 1) < 0)
			die("setenv: %s", strerror(errno));
	} else
		snprintf(preload, sizeof preload, "%s", shim);
	if (setenv("LD_PRELOAD", preload, 1) < 0 || setenv(ENV_SPEC, o->spec, 1) < 0)
		die("setenv: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	int i;
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		if (seccomp_option(a, &o.f)) {
			size_t used = strlen(o.spec);
			if (used + strlen(a) + 2 > sizeof o.spec)
				die("too many seccomp options");
			snprintf(o.spec + used, sizeof o.spec - used, "%s%s", used ? " " : "", a);
		} else if (!strcmp(a, "--private-pid"))
			o.private_pid = true;
		else if (!strncmp(a, "--pid-file=", 11) && a[11])
			o.pid_file = a + 11;
		else if (!strncmp(a, "--root=", 7) && a[7])
			o.root = a + 7;
		else if (!strcmp(a, "--protect-system-strict"))
			o.protect_system = true;
		else if (!strncmp(a, "--rw=", 5) && a[5]) {
			if (o.nrw == MAX_RW)
				die("more than %d --rw", MAX_RW);
			o.rw[o.nrw++] = a + 5;
		} else if (!strcmp(a, "--no-new-privs"))
			o.no_new_privs = true;
		else if (!strcmp(a, "--mdwe"))
			o.mdwe = true;
		else if (!strcmp(a, "--self-sandbox"))
			o.self_sandbox = true;
		else if (!strncmp(a, "--self-sandbox=", 15) && a[15]) {
			o.self_sandbox = true;
			o.shim = a + 15;
		} else if (!strncmp(a, "--dumpable", 10))
			die("%s: not provided: execve() makes a program dumpable again (see launch.c)", a);
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	char **prog = argv + i + 1;
	if (o.pid_file && !o.private_pid)
		die("--pid-file needs --private-pid");
	if (o.nrw && !o.protect_system)
		die("--rw needs --protect-system-strict");
	if (o.self_sandbox && !o.spec[0])
		die("--self-sandbox without a seccomp option");

	/* Namespaces and mounts. */
	if (o.private_pid)
		private_pid(&o); /* from here on, the child */
	if (o.root)
		enter_root(&o);
	if (o.protect_system) {
		if (!o.private_pid && !o.root && unshare(CLONE_NEWNS) < 0)
			die("unshare(CLONE_NEWNS): %s", strerror(errno));
		protect_system_strict(&o);
	}
	/* no_new_privs, then MDWE, then seccomp. */
	if (o.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (o.mdwe && prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0)
		die("PR_SET_MDWE: %s%s", strerror(errno), errno == EINVAL ? " (a kernel before 6.3?)" : "");
	if (o.self_sandbox)
		self_sandbox(&o);
	else
		load_filters(&o.f, false);
	execvp(prog[0], prog);
	die("%s: %s", prog[0], strerror(errno));
}
#endif
