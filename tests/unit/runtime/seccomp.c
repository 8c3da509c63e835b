/*
 * Unit tests for runtime/seccomp.c: the verdict hpapply computes for a system
 * call under a thread's seccomp filters must be the kernel's. Each filter is
 * built with libseccomp (as systemd and container runtimes build theirs),
 * exported as the classic BPF the kernel runs, and evaluated by
 * seccomp_verdict(); then a child process loads the same filter for real and
 * makes the call, and the kernel's answer (the call ran, failed with the
 * filter's errno, or the child died of SIGSYS) must be the one predicted.
 * Every call is chosen to be harmless when it runs.
 */
#include "tests/unit/helpers.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

#define EMARK 133 /* EHWPOISON: an errno no harmless call returns by itself */

/* The filter of ctx as the kernel receives it. */
static struct rt_filter export(scmp_filter_ctx ctx)
{
	char path[] = "/tmp/hp-seccomp-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(seccomp_export_bpf(ctx, fd), 0);
	off_t n = lseek(fd, 0, SEEK_END);
	assert_true(n > 0 && n % sizeof(struct sock_filter) == 0);
	struct rt_filter f = { malloc((size_t)n), (uint32_t)(n / sizeof(struct sock_filter)) };
	assert_int_equal(pread(fd, f.insn, (size_t)n, 0), n);
	close(fd);
	return f;
}

enum outcome { RAN, DENIED, KILLED };

/* What the kernel does to call c under the filters of ctxs (loaded in order). */
static enum outcome kernel(scmp_filter_ctx *ctxs, size_t n, const struct rt_call *c, int *err)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		for (size_t i = 0; i < n; i++)
			if (seccomp_load(ctxs[i]) != 0)
				_exit(100);
		long r = syscall(c->nr, c->args[0], c->args[1], c->args[2], c->args[3], c->args[4],
				 c->args[5]);
		int e = r < 0 ? errno : 0;
		if (write(pfd[1], &e, sizeof e) != sizeof e)
			_exit(101);
		_exit(0);
	}
	close(pfd[1]);
	int status, e = -1;
	ssize_t got = read(pfd[0], &e, sizeof e);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGSYS);
		return KILLED;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(got, sizeof e);
	*err = e;
	return e == EMARK ? DENIED : RAN;
}

/* Ours: the same question through seccomp_verdict(). */
static enum outcome ours(struct rt_filter *f, size_t n, const struct rt_call *c)
{
	struct rt_seccomp s = { f, n };
	struct seccomp_data d = { .nr = (int)c->nr, .arch = AUDIT_ARCH_X86_64 };
	for (int k = 0; k < 6; k++)
		d.args[k] = (uint64_t)c->args[k];
	uint32_t ret;
	assert_int_equal(seccomp_verdict(&s, &d, &ret), 0);
	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
	case SECCOMP_RET_LOG:
		return RAN;
	case SECCOMP_RET_ERRNO:
		assert_int_equal(ret & SECCOMP_RET_DATA, EMARK);
		return DENIED;
	}
	return KILLED;
}

static void agree(scmp_filter_ctx *ctxs, size_t n, const struct rt_call *calls, size_t ncalls,
		  const enum outcome *want)
{
	struct rt_filter f[4];
	assert_true(n <= 4);
	/* The kernel runs the newest filter first; the verdict does not depend on it. */
	for (size_t i = 0; i < n; i++)
		f[i] = export(ctxs[n - 1 - i]);
	for (size_t i = 0; i < ncalls; i++) {
		int e = 0;
		enum outcome k = kernel(ctxs, n, &calls[i], &e);
		enum outcome o = ours(f, n, &calls[i]);
		if (k != want[i] || o != k)
			fail_msg("call %zu (nr %ld): kernel %d (errno %d), ours %d, expected %d", i,
				 calls[i].nr, k, e, o, want[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(f[i].insn);
}

static void test_runtime_seccomp__mdwe_filter(void **state)
{
	(void)state;
	/* systemd's MemoryDenyWriteExecute= where the kernel has no MDWE. */
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	assert_non_null(c);
	assert_int_equal(seccomp_rule_add(c, SCMP_ACT_KILL_PROCESS, SCMP_SYS(mmap), 1,
					  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC,
						  PROT_WRITE | PROT_EXEC)), 0);
	assert_int_equal(seccomp_rule_add(c, SCMP_ACT_KILL_PROCESS, SCMP_SYS(mprotect), 1,
					  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)), 0);
	long anon = MAP_PRIVATE | MAP_ANONYMOUS;
	struct rt_call calls[] = {
		{ SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC, anon, -1, 0 } },
		{ SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE, anon, -1, 0 } },
		{ SYS_mmap, { 0, 4096, PROT_READ, anon, -1, 0 } },
		{ SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, anon, -1, 0 } },
		{ SYS_mprotect, { 0, 0, PROT_READ } },
		{ SYS_mprotect, { 0, 0, PROT_READ | PROT_EXEC } },
		{ SYS_munmap, { 0, 0 } },
	};
	enum outcome want[] = { RAN, RAN, RAN, KILLED, RAN, KILLED, RAN };
	agree(&c, 1, calls, 7, want);
	seccomp_release(c);
}

static void test_runtime_seccomp__allow_list(void **state)
{
	(void)state;
	/* An allow list in the manner of SystemCallFilter=: the rest fail. */
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ERRNO(EMARK));
	assert_non_null(c);
	/* What the child itself needs to report and exit, under ASan too (it
	 * unmaps its alternate signal stack at exit). */
	static const char *const allowed[] = { "exit_group", "exit", "write", "read", "mmap",
					       "munmap", "close", "futex", "rt_sigprocmask",
					       "sched_yield", "sigaltstack", "rt_sigaction", "madvise",
					       "mprotect", "getpid", "gettid", "tgkill", "prctl" };
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		assert_int_equal(seccomp_rule_add(c, SCMP_ACT_ALLOW,
						  seccomp_syscall_resolve_name(allowed[i]), 0), 0);
	struct rt_call calls[] = {
		{ SYS_sched_yield, { 0 } },
		{ SYS_memfd_create, { 0, 0 } },
		{ SYS_munmap, { 0, 0 } },
		{ SYS_clock_gettime, { CLOCK_MONOTONIC, 0 } },
		{ SYS_ftruncate, { -1, 4096 } },
	};
	enum outcome want[] = { RAN, DENIED, RAN, DENIED, DENIED };
	agree(&c, 1, calls, 5, want);
	seccomp_release(c);
}

static void test_runtime_seccomp__strictest_of_several(void **state)
{
	(void)state;
	/* Two filters stacked: the most restrictive verdict wins, whichever came first. */
	scmp_filter_ctx a = seccomp_init(SCMP_ACT_ALLOW), b = seccomp_init(SCMP_ACT_ALLOW);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(seccomp_rule_add(a, SCMP_ACT_ERRNO(EMARK), SCMP_SYS(sched_yield), 0), 0);
	assert_int_equal(seccomp_rule_add(a, SCMP_ACT_ERRNO(EMARK), SCMP_SYS(munmap), 0), 0);
	assert_int_equal(seccomp_rule_add(b, SCMP_ACT_KILL_PROCESS, SCMP_SYS(sched_yield), 0), 0);
	assert_int_equal(seccomp_rule_add(b, SCMP_ACT_LOG, SCMP_SYS(getppid), 0), 0);
	scmp_filter_ctx both[] = { a, b };
	struct rt_call calls[] = {
		{ SYS_sched_yield, { 0 } },
		{ SYS_munmap, { 0, 0 } },
		{ SYS_getppid, { 0 } },
	};
	enum outcome want[] = { KILLED, DENIED, RAN };
	agree(both, 2, calls, 3, want);
	seccomp_release(a);
	seccomp_release(b);
}

static void test_runtime_seccomp__64_bit_arguments(void **state)
{
	(void)state;
	/* Comparisons on whole 64-bit arguments: the filter reads both halves. */
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	assert_non_null(c);
	assert_int_equal(seccomp_rule_add(c, SCMP_ACT_ERRNO(EMARK), SCMP_SYS(munmap), 1,
					  SCMP_A0(SCMP_CMP_GE, 0x700000000000ull)), 0);
	assert_int_equal(seccomp_rule_add(c, SCMP_ACT_KILL_PROCESS, SCMP_SYS(munmap), 1,
					  SCMP_A1(SCMP_CMP_EQ, 0x100000001ull)), 0);
	struct rt_call calls[] = {
		{ SYS_munmap, { 0x7f0000000000, 0 } },
		{ SYS_munmap, { 0x700000000000, 0 } }, /* equal: GE holds */
		{ SYS_munmap, { 0x6fffffffffff, 0 } },
		{ SYS_munmap, { 0x10000, 0 } },
		{ SYS_munmap, { 0x10000, 0x100000001 } },
		{ SYS_munmap, { 0x10000, 0x1 } },
	};
	enum outcome want[] = { DENIED, DENIED, RAN, RAN, KILLED, RAN };
	agree(&c, 1, calls, 6, want);
	seccomp_release(c);
}

static void test_runtime_seccomp__unreadable_program(void **state)
{
	(void)state;
	/* A program the kernel's checker would have refused has no known verdict. */
	struct sock_filter out_of_range[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter bad_load[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 66),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter no_return[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
	};
	struct rt_filter f[] = { { out_of_range, 3 }, { bad_load, 2 }, { no_return, 1 } };
	struct seccomp_data d = { .nr = 1, .arch = AUDIT_ARCH_X86_64 };
	uint32_t ret;
	for (size_t i = 0; i < 3; i++) {
		struct rt_seccomp s = { &f[i], 1 };
		assert_int_equal(seccomp_verdict(&s, &d, &ret), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime_seccomp__mdwe_filter),
		cmocka_unit_test(test_runtime_seccomp__allow_list),
		cmocka_unit_test(test_runtime_seccomp__strictest_of_several),
		cmocka_unit_test(test_runtime_seccomp__64_bit_arguments),
		cmocka_unit_test(test_runtime_seccomp__unreadable_program),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
