/*
 * runtime_internal.h: what the files of runtime/ share.
 *
 *   proc.c    a process seen from outside: its mappings, its images, reading
 *             and writing its memory
 *   maps.c    a maps file read, and a free range near an image (no process)
 *   ptrace.c  stopping and resuming all its threads; running a system call in it
 *   state.c   the state block kept inside it
 *   record.c  the record's bytes: encoded with its MAC, checked and decoded
 *   link.c    a patch's image linked at an address (no process)
 *   index.c   the store's index and verified list, line by line (no file)
 *   apply.c   runtime_apply() and runtime_revert(), built on the above
 *
 * record.c, link.c, maps.c and index.c touch no process: the preload library
 * (runtime/preload/) links them too, with formats/ base and hpx.
 */
#ifndef HP_RUNTIME_INTERNAL_H
#define HP_RUNTIME_INTERNAL_H

#include <sys/types.h>
#include <sys/user.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
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
	pid_t tid;              /* a live thread: /proc is read through it */
	char dir[32];           /* "/proc/TID" */
	int pidfd;              /* pins the process: a reused pid is told apart */
	uint64_t start;         /* its start time, clock ticks since boot */
	int mem;                /* /proc/TID/mem, open for reading and writing */
	uint64_t stub;          /* where the system-call stub goes (0: not found yet), */
	const uint8_t *stub_orig; /* the bytes there in the image's file, */
	bool stub_dirty;        /* and whether the process holds other bytes there now */
	char exe[4096];         /* /proc/PID/exe */
	struct rt_map *maps;
	size_t nmaps;
	struct rt_image *images;
	size_t nimages;
	int seccomp;            /* its seccomp mode (proc_seccomp()), read when opened */
	bool no_park;           /* its threads may not make the switch's own calls (seccomp.c) */
};

/*
 * Open pid for inspection and writing; read its mappings and images. The
 * process is pinned (a pidfd) from here on: proc_alive() says whether it is
 * still the same one.
 */
int proc_open(struct hp_ctx *ctx, pid_t pid, struct rt_proc *p);
/* The same without reading its images (nimages 0): enough to read its record. */
int proc_open_maps(struct hp_ctx *ctx, pid_t pid, struct rt_proc *p);
int proc_alive(struct rt_proc *p);
/* Field 22 of /proc/PID/stat; -1 when there is no such process. */
int proc_start_time(pid_t pid, uint64_t *out);
/* A thread's state letter ('R', 'S', 'Z', ...; '?' when unreadable). */
char proc_thread_state(pid_t pid, pid_t tid);
/* Its threads that are not zombies (an exited main thread is), malloc'ed. */
int proc_live_threads(struct rt_proc *p, pid_t **out, size_t *n);
/* Its seccomp mode: 0 none, 1 strict, 2 filter, -1 unreadable. */
int proc_seccomp(struct rt_proc *p);
/* The descriptor its next open file would get: the lowest free one. */
long proc_lowest_free_fd(struct rt_proc *p);
/* The first of its threads traced by another process (*tid 0: none). */
int proc_foreign_tracer(struct rt_proc *p, pid_t *tid, pid_t *tracer);
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

/* Unused executable room of size bytes for the stub (runtime/stub.S), and
 * the bytes its file holds there (what to put back). */
int proc_find_cave(struct rt_proc *p, size_t size, uint64_t *out, const uint8_t **orig);

/* CLOCK_MONOTONIC in nanoseconds (ptrace.c). */
uint64_t rt_now_ns(void);

/* ----- maps.c ------------------------------------------------------------------ */

#define RT_REL32_REACH 0x7fff0000ull /* a little under 2 GiB, for the instruction's own length */
/* Read a maps file (/proc/PID/maps) into an arena array. */
int maps_read(struct hp_ctx *ctx, const char *path, struct rt_map **out, size_t *n);
/* The pure part of proc_find_gap(): -1 when there is no such range. brk: the
 * program break when known (0: not), kept clear of as a heap's room to grow. */
int maps_find_gap(const struct rt_map *maps, size_t n, uint64_t brk, uint64_t lo, uint64_t hi,
		  uint64_t size, unsigned skip, uint64_t *out);

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
/*
 * Seize and stop one thread of pid, to run system calls in it: a thread held
 * for a signal is let go with it and stopped again.
 */
int thread_stop_one(struct hp_ctx *ctx, pid_t pid, pid_t tid, struct rt_thread *t);
void thread_release_one(struct rt_thread *t);

/* One system call for the stub. */
#define RT_STUB_MAX_CALLS 8
struct rt_call {
	long nr;
	long args[6];
	uint64_t flags;         /* bit i: args[i] = the result of call (flags >> 8) */
	long ret;               /* the result (a negative errno on failure) */
};
#define RT_ARG_RESULT_OF(i, call) ((1u << (i)) | ((uint64_t)(call) << 8))
#define RT_ARG_DATA(i) (1ull << (16 + (i))) /* args[i] = where the data went */
/* The calls rt_park and rt_commit make (stub.S), as a seccomp filter sees them. */
size_t park_calls(struct rt_call c[8]);
/* Where the stub's system call returns to: what a filter sees as the caller. */
uint64_t stub_call_site(const struct rt_proc *p);
#define RT_STUB_MAX_DATA 64

/* The stub's code, copied into the target (runtime/stub.S): the calls, the
 * park and the commit entry points. */
extern const uint8_t rt_stub[], rt_stub_end[], rt_park[], rt_commit[], rt_stub_ret[];

/*
 * Send every stopped thread of t into the stub, parked on the commit word at
 * ctl (the last one commits), and let them go. Only for threads stopped with
 * no signal pending. On failure none was let go and all are as they were.
 */
int threads_park(struct rt_proc *p, struct rt_threads *t, uint64_t ctl);

/*
 * Run calls in stopped thread t through the stub (at p->stub, already in the
 * target), with up to RT_STUB_MAX_DATA bytes of data copied beside them, then
 * let t go. From the moment its registers are set (*started), t returns to
 * where it was with its own registers whatever happens to the caller; the
 * results are in c[i].ret when this returns 0.
 */
int thread_calls(struct rt_proc *p, struct rt_thread *t, struct rt_call *c, size_t n,
		 const void *data, size_t dlen, bool *started);
/*
 * The same in whichever live thread of p can take it (the main thread may
 * have exited; a thread's stack may have no room): stop it, run, let it go.
 */
int proc_calls(struct rt_proc *p, struct rt_call *c, size_t n, const void *data, size_t dlen);

/* ----- state.c -------------------------------------------------------------- */

#define RT_STATE_NAME "hotpatch-state"
#define RT_STATE_SIZE (256u * 1024)

/* The key of the records this user writes (runtime/home.c). */
#define RT_KEY_SIZE 32

/*
 * Find the state block in the mappings (addr 0 when there is none) and read
 * the slot in use. key NULL: no MAC check (the fuzz target). -HP_ERECORD when
 * the record is damaged or its MAC does not verify.
 */
int state_read(struct rt_proc *p, const uint8_t *key, struct rt_state *s);

/* ----- record.c: the record's bytes (no process involved) -------------------- */

#define RT_STATE_HEADER 24      /* magic, version, size, generation */
/* The bytes of one slot that hold a record. */
size_t state_slot_size(void);
/* Where in the block the slot that generation names starts. */
uint64_t state_slot_at(uint64_t generation);
/* Check and decode one slot (state_slot_size() bytes at b). key NULL: no MAC
 * check; a slot whose MAC is all zero is an unsigned one (hotpatch-load, not
 * root) and is told apart in the message. */
int state_decode(struct hp_ctx *ctx, pid_t pid, const uint8_t *b, const uint8_t *key,
		 struct rt_state *s);
/* Encode s into one slot (state_slot_size() bytes at b), with its MAC under
 * key; key NULL leaves the MAC zero: an unsigned record. Writes the header and
 * the entries in use only: the rest of b is left as it was. */
void state_encode(const struct rt_state *s, const uint8_t *key, uint8_t *b);
/* Whether slot b carries no MAC (written unsigned, by hotpatch-load). */
bool state_slot_unsigned(const uint8_t *b);
/* Drop patch idx from s; later patches move down one. */
void state_drop_patch(struct rt_state *s, uint32_t idx);
/* Raise the high-water mark of x's binary to x's sequence. */
void state_raise_high(struct rt_state *s, const struct rt_patch *x);
/* The block's header naming generation. */
void state_header(uint64_t generation, uint8_t out[RT_STATE_HEADER]);
/* 0: a header this version reads (*generation set); 1: all zero (made, never
 * written: an empty record); -1: not one this version reads. */
int state_check_header(const uint8_t h[RT_STATE_HEADER], uint64_t *generation);
/*
 * The commit area, after both slots: the commit word (u32), the count of
 * entries (u32), "/proc/self/mem" at +8, the entries at +32, 24 bytes each
 * (address, the bytes to write padded to 8, the bytes there now padded to 8).
 */
#define RT_COMMIT_AT (RT_STATE_SIZE - 28 * 1024)
#define RT_COMMIT_MAX ((28 * 1024 - 32) / 24)
/* Create the block in the process (zero-filled: an empty record). */
int state_create(struct rt_proc *p, uint64_t *addr);
/* The system calls state_create() makes in the process. */
size_t state_create_calls(struct rt_call c[4]);
/* Write s into the slot not in use, then switch to it with one write. */
int state_write(struct rt_proc *p, const uint8_t *key, struct rt_state *s);

/* ----- resolve.c ------------------------------------------------------------- */

/*
 * A thread-local variable the patch's code reaches, in each of the ways code
 * reaches one: its offset from the thread pointer (the executable's code:
 * local-exec and initial-exec), or its module id and offset in that module's
 * block (shared-library code: __tls_get_addr). Both are the same in every
 * thread, so the new code reaches the calling thread's own variable.
 */
struct rt_tls {
	bool has_tpoff, has_dtp;
	int64_t tpoff;
	uint64_t module, dtpoff;
};

/*
 * The target image of h in p (*ti), the address of each replaced function
 * (func_addr[k], its old bytes checked; an entry an earlier patch redirected
 * is checked with the bytes st saved) and of each symbol (symaddr, tls).
 */
int resolve_patch(struct rt_proc *p, const struct hpx *h, const struct rt_state *st,
		  uint64_t *func_addr, uint64_t *symaddr, struct rt_tls *tls,
		  const struct rt_image **ti);
/* h's image linked at base into img (h->image_size bytes); *write_end: how much to write. */
int link_image(struct hp_ctx *ctx, const struct hpx *h, uint64_t base, const uint64_t *sym,
	       const struct rt_tls *tls, uint8_t *img, uint64_t *write_end);

/* ----- window.c -------------------------------------------------------------- */

/* Code no thread may be in, nor return into, when the window's body runs. */
struct hot {
	uint64_t lo, hi;        /* [lo, hi) */
	const char *what;       /* for the report */
};

struct hots {
	struct hot *v;
	size_t n, cap;
	uint64_t min, max;      /* the span of all ranges, for a quick reject */
};

int add_hot(struct hp_ctx *ctx, struct hots *h, uint64_t lo, uint64_t size, const char *what);

/* What runs with every thread stopped, once they are all clear of the hot code. */
struct window_ops {
	/* 0 done, < 0 failed, > 0 try again at once (a new window) */
	int (*body)(struct rt_proc *p, struct rt_threads *t, void *arg);
	void *arg;
};

/*
 * Open stop windows until one is safe and body succeeds in it, or the
 * deadline (o->timeout_ms from t0) passes: -HP_EBUSY naming the blocker.
 */
int run_windows(struct rt_proc *p, const struct hots *hot, const struct rt_opts *o, uint64_t t0,
		const struct window_ops *ops, struct rt_result *out);

/* ----- home.c -------------------------------------------------------------- */

struct rt_home {
	int dir;                /* the directory, open */
	char path[256];
	uint8_t key[RT_KEY_SIZE];
};

/* Open (make) and check the applier's directory; load (make) the key. */
int home_open(struct hp_ctx *ctx, struct rt_home *h);
void home_close(struct rt_home *h);
/* Lock process pid (started at start) against other tools; -HP_ELOCKED when held. */
int home_lock(struct hp_ctx *ctx, struct rt_home *h, pid_t pid, uint64_t start, int *fd);
void home_unlock(struct rt_home *h, pid_t pid, uint64_t start, int fd);

/* ----- seccomp.c ------------------------------------------------------------ */

struct sock_filter;
struct seccomp_data;
struct rt_filter {
	struct sock_filter *insn;
	uint32_t n;
};
/* The seccomp filters of one thread, the newest first. */
struct rt_seccomp {
	struct rt_filter *f;
	size_t n;
};
/* Read the filters of tid, stopped under our ptrace (needs CAP_SYS_ADMIN). */
int seccomp_read(struct hp_ctx *ctx, pid_t pid, pid_t tid, struct rt_seccomp *out);
void seccomp_free(struct rt_seccomp *s);
/* What the kernel would decide for d: every filter run, the strictest result
 * kept (SECCOMP_RET_*). -1: a filter this interpreter cannot run. */
int seccomp_verdict(const struct rt_seccomp *s, const struct seccomp_data *d, uint32_t *ret);
/*
 * Put each call to the filters as made from ip, an argument taken from an
 * earlier call's result (RT_ARG_RESULT_OF) given as result_guess. 0 when
 * every one would run; else -HP_ECONFINED and one line naming the call and
 * what the filter would do to it.
 */
int seccomp_check(struct hp_ctx *ctx, pid_t pid, pid_t tid, const struct rt_seccomp *s,
		  const struct rt_call *c, size_t n, uint64_t ip, long result_guess);

/* ----- index.c: the store's lists (store.c) ------------------------------- */

#define STORE_INDEX_MAGIC "hotpatch-store 1"
#define STORE_VERIFIED_MAGIC "hotpatch-verified 1"
#define STORE_VERIFIED_NAME "verified"
#define STORE_VERIFIED_LINE 99  /* 64 + 1 + 32 hex digits, a newline, a NUL */

/* One line of the index into e; false when it is not one. */
bool store_parse_index_line(const char *line, struct rt_stored *e);
/* One line of the verified list into v; false when it is not one. */
bool store_parse_verified_line(const char *line, struct rt_verified *v);
/* v as a line of the verified list, with its newline; its length. */
size_t store_format_verified_line(const struct rt_verified *v, char out[STORE_VERIFIED_LINE]);

#endif
