/*
 * agent.c: what hpd needs beyond hpapply: knowing when a process starts, and
 * when a new process is ready to be patched.
 *
 * Process starts come from the kernel's process-event connector (netlink,
 * NETLINK_CONNECTOR / CN_IDX_PROC: an exec event names the pid), which needs
 * CAP_NET_ADMIN; where it cannot be had (a container, no privilege) the
 * caller scans /proc instead (runtime_agent_events_open() says which).
 *
 * A process caught just after execve may still be inside the dynamic loader:
 * its libraries not all mapped, its GOT not relocated, and a patch resolved
 * against it then would call through garbage. So a new process is held at
 * its entry point (AT_ENTRY, reached once the loader is done): an int3 is put
 * there, the process runs to it, the byte is put back and the thread goes on
 * from the entry with its own registers. A process already past its entry is
 * ready as it is.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

int runtime_agent_events_open(struct hp_ctx *ctx)
{
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0)
		return hp_err(ctx, HP_ERROR, NULL, NULL, "the process-event connector: socket: %s",
			      strerror(errno));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return hp_err(ctx, HP_ERROR, NULL, NULL, "the process-event connector: bind: %s",
			      strerror(e));
	}
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	memset(&msg, 0, sizeof msg);
	msg.nl.nlmsg_len = sizeof msg;
	msg.nl.nlmsg_type = NLMSG_DONE;
	msg.nl.nlmsg_pid = (uint32_t)getpid();
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof msg.op;
	msg.op = PROC_CN_MCAST_LISTEN;
	if (send(fd, &msg, sizeof msg, 0) != (ssize_t)sizeof msg) {
		int e = errno;
		close(fd);
		return hp_err(ctx, HP_ERROR, NULL, NULL, "the process-event connector: listen: %s",
			      strerror(e));
	}
	return fd;
}

int runtime_agent_events_read(int fd, pid_t *pids, size_t max, size_t *n)
{
	*n = 0;
	for (;;) {
		uint8_t buf[8192] __attribute__((aligned(8)));
		ssize_t got = recv(fd, buf, sizeof buf, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (got < 0)
			return errno == ENOBUFS ? 1 : -1; /* ENOBUFS: events were lost; rescan */
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got);
		     h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP)
				continue;
			struct cn_msg *cn = NLMSG_DATA(h);
			struct proc_event ev;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof *cn + sizeof ev) ||
			    cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
			    cn->len < sizeof ev)
				continue;
			/* The event sits 4 bytes past an 8-byte boundary (after the
			 * 20-byte cn_msg), so it is copied out, not cast. */
			memcpy(&ev, cn->data, sizeof ev);
			if (ev.what == PROC_EVENT_EXEC && *n < max)
				pids[(*n)++] = ev.event_data.exec.process_tgid;
		}
	}
}

/* AT_ENTRY of pid, from /proc/PID/auxv; 0 when unknown. */
static uint64_t entry_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint64_t v[2 * 64], entry = 0;
	ssize_t got = read(fd, v, sizeof v);
	close(fd);
	for (ssize_t i = 0; i + 1 < got / 8; i += 2)
		if (v[i] == AT_ENTRY)
			entry = v[i + 1];
	return entry;
}

/* Whether addr is in the mapping of the dynamic loader (ld-linux*). */
static bool in_loader(pid_t pid, uint64_t addr)
{
	char path[64], line[4400];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool in = false;
	while (!in && fgets(line, sizeof line, f)) {
		unsigned long long lo, hi;
		int at = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &lo, &hi, &at) < 2)
			continue;
		in = addr >= lo && addr < hi && strstr(line + at, "/ld-linux");
	}
	fclose(f);
	return in;
}

int runtime_agent_wait_loaded(struct hp_ctx *ctx, pid_t pid, unsigned timeout_ms)
{
	uint64_t entry = entry_of(pid);
	if (!entry)
		return 0; /* gone, or no auxv: the apply will say */
	struct rt_thread t;
	int err = thread_stop_one(ctx, pid, pid, &t);
	if (err < 0)
		return err;
	if (t.regs.rip == entry || !in_loader(pid, t.regs.rip)) {
		thread_release_one(&t);
		return 0; /* past the loader (or at the very entry): ready */
	}
	/* In the loader: run it to the entry point. */
	errno = 0;
	long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)(uintptr_t)entry, 0);
	if (errno) {
		thread_release_one(&t);
		return hp_err(ctx, HP_ERROR, NULL, NULL, "process %d: cannot read its entry point: %s",
			      (int)pid, strerror(errno));
	}
	long trap = (word & ~0xffL) | 0xcc;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)(uintptr_t)entry, (void *)trap) < 0) {
		thread_release_one(&t);
		return hp_err(ctx, HP_ERROR, NULL, NULL, "process %d: cannot set a breakpoint: %s",
			      (int)pid, strerror(errno));
	}
	int sig = t.sig;
	t.sig = 0;
	uint64_t deadline = rt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	bool reached = false;
	while (!reached) {
		if (ptrace(PTRACE_CONT, pid, 0, (void *)(uintptr_t)sig) < 0)
			break;
		sig = 0;
		int status;
		pid_t w;
		/* A bounded wait: poll, since waitpid() has no timeout. */
		while ((w = waitpid(pid, &status, __WALL | WNOHANG)) == 0 && rt_now_ns() < deadline) {
			struct timespec ts = { 0, 100000 };
			nanosleep(&ts, NULL);
		}
		if (w == 0) {
			/* Still in the loader after the deadline: take it back, hold nothing. */
			ptrace(PTRACE_INTERRUPT, pid, 0, 0);
			waitpid(pid, &status, __WALL);
			break;
		}
		if (w < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
			t.seized = false;
			return hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				      "process %d: exited before its entry point", (int)pid);
		}
		int s = WSTOPSIG(status);
		if (s == SIGTRAP && (status >> 16) == 0) {
			struct user_regs_struct r;
			if (ptrace(PTRACE_GETREGS, pid, 0, &r) == 0 && r.rip == entry + 1) {
				r.rip = entry; /* as if the int3 had never been there */
				ptrace(PTRACE_SETREGS, pid, 0, &r);
				reached = true;
				break;
			}
		}
		if ((status >> 16) == PTRACE_EVENT_STOP)
			continue; /* a group stop or our interrupt: not a signal to hand on */
		sig = s == SIGTRAP ? 0 : s;
	}
	ptrace(PTRACE_POKETEXT, pid, (void *)(uintptr_t)entry, (void *)word);
	t.sig = sig;
	thread_release_one(&t);
	return reached ? 0
		       : hp_err(ctx, HP_EBUSY, NULL, NULL,
				"process %d: still in the dynamic loader after %u ms", (int)pid,
				timeout_ms);
}
