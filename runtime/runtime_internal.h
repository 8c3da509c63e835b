/*
 * runtime_internal.h: what the files of runtime/ share.
 *
 *   proc.c    a process seen from outside: its mappings, its images, reading
 *             and writing its memory
 *   ptrace.c  stopping and resuming all its threads; running a system call in it
 *   state.c   the state block kept inside it
 *   apply.c   runtime_apply() and runtime_revert(), built on the above
 */
#ifndef HP_RUNTIME_INTERNAL_H
#define HP_RUNTIME_INTERNAL_H

#include <sys/types.h>
#include <sys/user.h>

#include "runtime/runtime.h"

/* ----- proc.c -------------------------------------------------------------- */

struct rt_map {
	uint64_t start, end;    /* [start, end) */
	uint64_t offset;        /* file offset of start */
	uint32_t prot;          /* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;
	uint64_t inode;
	const char *path;       /* "" for anonymous mappings */
};

/* An ELF file mapped in the process, with where it was loaded. */
struct rt_image {
	struct image *img;      /* the file as read from /proc/PID/map_files */
	const char *path;       /* as /proc/PID/maps names it */
	uint64_t bias;          /* process address = bias + ELF virtual address */
	uint64_t lo, hi;        /* lowest and highest address its mappings cover */
	bool main;              /* the executable */
};

struct rt_proc {
	struct hp_ctx *ctx;
	pid_t pid;
	int mem;                /* /proc/PID/mem, open for reading and writing */
	char exe[4096];         /* /proc/PID/exe */
	struct rt_map *maps;
	size_t nmaps;
	struct rt_image *images;
	size_t nimages;
};

/* Open pid for inspection and writing; read its mappings and images. */
int proc_open(struct hp_ctx *ctx, pid_t pid, struct rt_proc *p);
void proc_close(struct rt_proc *p);
/* Re-read /proc/PID/maps (after a mapping was added or removed). */
int proc_read_maps(struct rt_proc *p);
/* Read and write the process's memory; a write ignores page protections. */
int proc_read(struct rt_proc *p, uint64_t addr, void *buf, size_t n);
int proc_write(struct rt_proc *p, uint64_t addr, const void *buf, size_t n);
/* The mapping holding addr, or NULL. */
const struct rt_map *proc_map_at(const struct rt_proc *p, uint64_t addr);
/*
 * A free, page-aligned range of size bytes whose every byte is within reach of
 * a rel32 from [lo, hi): gaps in the mappings, nearest first. Returns 0 and the
 * address, or -HP_ERROR when there is none. skip: how many candidates to pass
 * over (to try the next one).
 */
int proc_find_gap(const struct rt_proc *p, uint64_t lo, uint64_t hi, uint64_t size,
		  unsigned skip, uint64_t *out);
/* The address of a "syscall" instruction (0f 05) in an executable mapping. */
int proc_find_syscall(struct rt_proc *p, uint64_t *out);

/* ----- ptrace.c -------------------------------------------------------------- */

struct rt_thread {
	pid_t tid;
	bool seized, stopped;
	int sig;                /* a signal caught at the stop, handed back on release */
	struct user_regs_struct regs;
};

struct rt_threads {
	struct rt_thread *v;
	size_t n, cap;
};

/*
 * Attach to every thread of pid without stopping any (PTRACE_SEIZE): the slow
 * part of stopping them, done before the stop window opens.
 */
int threads_seize(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t);
/*
 * Stop every seized thread: interrupt all, then wait for each; rescan
 * /proc/PID/task until no new thread appears (seizing and stopping the new
 * ones); read each one's registers. On failure every thread is released.
 */
int threads_stop(struct hp_ctx *ctx, pid_t pid, struct rt_threads *t);
/* Release every thread (they run on from where they stopped). */
void threads_release(struct rt_threads *t);
void threads_free(struct rt_threads *t);
/* Seize and stop one thread, to run system calls in it. */
int thread_stop_one(struct hp_ctx *ctx, pid_t tid, struct rt_thread *t);
void thread_release_one(struct rt_thread *t);
/*
 * Run a system call in stopped thread t at the syscall instruction insn, with
 * up to six arguments; *ret gets its result (negative errno on failure). The
 * thread's registers are restored afterwards.
 */
int thread_syscall(struct hp_ctx *ctx, struct rt_thread *t, uint64_t insn, long nr,
		   const long args[6], long *ret);

/* ----- state.c -------------------------------------------------------------- */

#define RT_STATE_NAME "hotpatch-state"
#define RT_STATE_SIZE (128u * 1024)

/* Find the state block in the mappings (addr 0 when there is none) and read it. */
int state_read(struct rt_proc *p, struct rt_state *s);
/* Create the block in the process, through system calls run in t. */
int state_create(struct rt_proc *p, struct rt_thread *t, uint64_t insn, uint64_t scratch,
		 uint64_t *addr);
/* Write s to the block at s->addr: generation odd while writing, then even. */
int state_write(struct rt_proc *p, struct rt_state *s);

#endif
