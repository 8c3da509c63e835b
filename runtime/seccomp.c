/*
 * seccomp.c: what a thread's seccomp filters would do to a system call.
 *
 * A process confined by seccomp (systemd's SystemCallFilter=, its
 * MemoryDenyWriteExecute= filter, a container runtime's profile) can be
 * killed, or made to fail, by a system call the applier injects. So before
 * a call is injected, the filters of the thread that will make it are read
 * (PTRACE_SECCOMP_GET_FILTER: the thread stopped under our ptrace, and
 * CAP_SYS_ADMIN) and run here on the call, with its arguments, as the kernel
 * would run them: every filter of the thread, the most restrictive verdict
 * winning. Anything but "allow" (or "log") refuses the operation before the
 * call is made.
 *
 * The filters are classic BPF over struct seccomp_data; the interpreter below
 * accepts what the kernel's seccomp checker accepts (loads of the data's
 * 32-bit words, its length, immediates and the 16 scratch words; the ALU and
 * jump instructions; returns) and calls anything else a filter it cannot
 * read, which also refuses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "formats/base.h"
#include "runtime/runtime_internal.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000U
#endif

#define MAX_INSNS 4096      /* BPF_MAXINSNS: the kernel's own limit per filter */
#define MAX_FILTERS 512     /* far more than any process installs */

void seccomp_free(struct rt_seccomp *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->f[i].insn);
	free(s->f);
	memset(s, 0, sizeof *s);
}

int seccomp_read(struct hp_ctx *ctx, pid_t pid, pid_t tid, struct rt_seccomp *out)
{
	memset(out, 0, sizeof *out);
	for (unsigned long i = 0;; i++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, NULL);
		if (n < 0 && errno == ENOENT && i > 0)
			return 0; /* past the oldest */
		if (n < 0 || n > MAX_INSNS || i >= MAX_FILTERS) {
			int e = errno;
			seccomp_free(out);
			if (n < 0 && (e == EACCES || e == EPERM))
				return hp_err(ctx, HP_ECONFINED, NULL, NULL,
					      "process %d: thread %d runs under a seccomp filter that only CAP_SYS_ADMIN may read; without reading it no system call can be made in it safely, so nothing is done",
					      (int)pid, (int)tid);
			return hp_err(ctx, HP_ECONFINED, NULL, NULL,
				      "process %d: thread %d: cannot read its seccomp filter %lu: %s; nothing done",
				      (int)pid, (int)tid, i,
				      n < 0 ? strerror(e) : "more than the kernel allows");
		}
		struct rt_filter *v = realloc(out->f, (out->n + 1) * sizeof *v);
		if (!v) {
			seccomp_free(out);
			return hp_nomem(ctx);
		}
		out->f = v;
		struct rt_filter *f = &v[out->n];
		f->n = (uint32_t)n;
		f->insn = calloc((size_t)n ? (size_t)n : 1, sizeof *f->insn);
		if (!f->insn) {
			seccomp_free(out);
			return hp_nomem(ctx);
		}
		out->n++;
		long got = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, f->insn);
		if (got != n) {
			int e = errno;
			seccomp_free(out);
			return hp_err(ctx, HP_ECONFINED, NULL, NULL,
				      "process %d: thread %d: cannot read its seccomp filter %lu: %s; nothing done",
				      (int)pid, (int)tid, i, got < 0 ? strerror(e) : "it changed");
		}
	}
}

/* The 32-bit word at byte offset k of d, as the filter loads it. */
static uint32_t data_word(const struct seccomp_data *d, uint32_t k)
{
	uint32_t w;
	memcpy(&w, (const uint8_t *)d + k, 4);
	return w;
}

/*
 * Run one filter on d. Returns 0 and its return value in *ret, or -1 when the
 * program holds something the kernel would not have accepted (then the
 * verdict is unknown).
 */
static int run(const struct rt_filter *f, const struct seccomp_data *d, uint32_t *ret)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	for (uint32_t pc = 0; pc < f->n; pc++) {
		const struct sock_filter *in = &f->insn[pc];
		uint32_t k = in->k;
		uint32_t src = BPF_SRC(in->code) == BPF_X ? x : k;
		switch (BPF_CLASS(in->code)) {
		case BPF_LD:
		case BPF_LDX: {
			uint32_t v;
			switch (in->code) {
			case BPF_LD | BPF_W | BPF_ABS:
				if (k % 4 || k > sizeof *d - 4)
					return -1;
				v = data_word(d, k);
				break;
			case BPF_LD | BPF_W | BPF_LEN:
			case BPF_LDX | BPF_W | BPF_LEN:
				v = sizeof *d;
				break;
			case BPF_LD | BPF_IMM:
			case BPF_LDX | BPF_IMM:
				v = k;
				break;
			case BPF_LD | BPF_MEM:
			case BPF_LDX | BPF_MEM:
				if (k >= BPF_MEMWORDS)
					return -1;
				v = mem[k];
				break;
			default:
				return -1;
			}
			if (BPF_CLASS(in->code) == BPF_LD)
				a = v;
			else
				x = v;
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return -1;
			mem[k] = BPF_CLASS(in->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU:
			switch (BPF_OP(in->code)) {
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_MUL: a *= src; break;
			case BPF_DIV:
				if (!src)
					return -1;
				a /= src;
				break;
			case BPF_MOD:
				if (!src)
					return -1;
				a %= src;
				break;
			case BPF_OR: a |= src; break;
			case BPF_AND: a &= src; break;
			case BPF_XOR: a ^= src; break;
			case BPF_LSH: a = src >= 32 ? 0 : a << src; break;
			case BPF_RSH: a = src >= 32 ? 0 : a >> src; break;
			case BPF_NEG: a = -a; break;
			default: return -1;
			}
			break;
		case BPF_JMP: {
			uint32_t off;
			if (BPF_OP(in->code) == BPF_JA) {
				off = k;
			} else {
				bool t;
				switch (BPF_OP(in->code)) {
				case BPF_JEQ: t = a == src; break;
				case BPF_JGT: t = a > src; break;
				case BPF_JGE: t = a >= src; break;
				case BPF_JSET: t = (a & src) != 0; break;
				default: return -1;
				}
				off = t ? in->jt : in->jf;
			}
			if (off >= f->n - pc - 1)
				return -1; /* forward only, and inside the program */
			pc += off;
			break;
		}
		case BPF_RET:
			switch (BPF_RVAL(in->code)) {
			case BPF_K: *ret = k; return 0;
			case BPF_A: *ret = a; return 0;
			default: return -1;
			}
		case BPF_MISC:
			if (BPF_MISCOP(in->code) == BPF_TAX)
				x = a;
			else if (BPF_MISCOP(in->code) == BPF_TXA)
				a = x;
			else
				return -1;
			break;
		default:
			return -1;
		}
	}
	return -1; /* fell off the end: the kernel would not have loaded it */
}

/* The kernel's order: the lowest action, as a signed number, wins. */
static int32_t action_rank(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

int seccomp_verdict(const struct rt_seccomp *s, const struct seccomp_data *d, uint32_t *ret)
{
	uint32_t best = SECCOMP_RET_ALLOW;
	for (size_t i = 0; i < s->n; i++) {
		uint32_t r;
		if (run(&s->f[i], d, &r) < 0)
			return -1;
		if (action_rank(r) < action_rank(best))
			best = r;
	}
	*ret = best;
	return 0;
}

static const char *call_name(long nr)
{
	switch (nr) {
	case SYS_mmap: return "mmap";
	case SYS_munmap: return "munmap";
	case SYS_mprotect: return "mprotect";
	case SYS_memfd_create: return "memfd_create";
	case SYS_ftruncate: return "ftruncate";
	case SYS_close: return "close";
	case SYS_open: return "open";
	case SYS_pwrite64: return "pwrite64";
	case SYS_rt_sigprocmask: return "rt_sigprocmask";
	case SYS_clock_gettime: return "clock_gettime";
	case SYS_sched_yield: return "sched_yield";
	}
	return "a system call";
}

/* What the verdict does to the call, for a message; NULL when it lets it run. */
static const char *verdict_text(uint32_t ret, char *buf, size_t size)
{
	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
	case SECCOMP_RET_LOG:
		return NULL;
	case SECCOMP_RET_KILL_PROCESS:
		return "kill the process";
	case SECCOMP_RET_KILL_THREAD:
		return "kill the thread";
	case SECCOMP_RET_TRAP:
		return "send SIGSYS";
	case SECCOMP_RET_ERRNO: {
		int e = (int)(ret & SECCOMP_RET_DATA);
		snprintf(buf, size, "fail it with errno %d (%s)", e, strerror(e));
		return buf;
	}
	case SECCOMP_RET_USER_NOTIF:
		return "hand it to a supervising process";
	case SECCOMP_RET_TRACE:
		return "fail it with ENOSYS (it asks for a seccomp tracer)";
	}
	snprintf(buf, size, "take action %#x, which the kernel treats as a kill", ret);
	return buf;
}

int seccomp_check(struct hp_ctx *ctx, pid_t pid, pid_t tid, const struct rt_seccomp *s,
		  const struct rt_call *c, size_t n, uint64_t ip, long result_guess)
{
	for (size_t i = 0; i < n; i++) {
		struct seccomp_data d = { .nr = (int)c[i].nr,
					  .arch = AUDIT_ARCH_X86_64,
					  .instruction_pointer = ip };
		for (int k = 0; k < 6; k++)
			d.args[k] = (uint64_t)(c[i].flags & (1u << k) ? result_guess : c[i].args[k]);
		uint32_t ret;
		char buf[96];
		if (seccomp_verdict(s, &d, &ret) < 0)
			return hp_err(ctx, HP_ECONFINED, NULL, NULL,
				      "process %d: thread %d: a seccomp filter holds an instruction this reader does not know, so what it does to %s cannot be told; nothing done",
				      (int)pid, (int)tid, call_name(c[i].nr));
		const char *what = verdict_text(ret, buf, sizeof buf);
		if (what)
			return hp_err(ctx, HP_ECONFINED, NULL, NULL,
				      "process %d: %s(%#lx, %#lx, %#lx, ...): the seccomp filter of thread %d would %s; nothing done",
				      (int)pid, call_name(c[i].nr), (unsigned long)d.args[0],
				      (unsigned long)d.args[1], (unsigned long)d.args[2], (int)tid,
				      what);
	}
	return 0;
}
