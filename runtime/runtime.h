/*
 * runtime.h: the applier. Applies a verified patch to a running process and
 * reverts it, and reads what is applied. Depends on formats/ and signer/ only:
 * no differ, LLVM or DWARF code is linked into the tool that writes into
 * running processes.
 *
 *   runtime_apply()   slow work first (resolve, check, map, write the new code)
 *                     while the process runs; then stop every thread, check none
 *                     is in or will return into a replaced function, write the
 *                     entry jumps, resume; retry with backoff until a deadline
 *   runtime_revert()  the same window, restoring the saved entry bytes
 *   runtime_status()  read the state block without stopping the process
 *
 * State lives in the process itself: a small private mapping of a memfd named
 * "hotpatch-state", found through /proc/PID/maps (runtime/state.c).
 */
#ifndef HP_RUNTIME_H
#define HP_RUNTIME_H

#include <signal.h>
#include <sys/types.h>

#include "formats/base.h"
#include "formats/hpx.h"

struct rt_opts {
	unsigned timeout_ms;      /* give up finding a safe moment after this long */
	int verbose;
	bool allow_downgrade;     /* apply below the high-water mark */
	bool finishing;           /* undoing or finishing: a signal does not cut it short */
};

/*
 * Set by the handler runtime_catch_signals() installs for SIGINT, SIGTERM and
 * SIGHUP: the signal's number. An operation checks it between its steps and,
 * once set, undoes what it began and fails with -HP_EINTR; a stop window under
 * way is finished first (it takes well under a millisecond).
 */
extern volatile sig_atomic_t runtime_signal;
void runtime_catch_signals(void);

/* What one apply or revert did, for the report and the audit log. */
struct rt_result {
	unsigned attempts;        /* stop windows opened */
	unsigned threads;         /* threads stopped in the last window */
	uint64_t pause_ns;        /* the longest stop window */
	uint64_t wall_ns;         /* the whole operation */
	const char *blocker;      /* why the last unsafe window was unsafe */
	uint64_t image_addr;      /* where the patch image lives in the process */
	uint8_t patch_id[16];     /* the patch applied or reverted */
	uint64_t sequence;
	bool has_patch;           /* patch_id and sequence are set */
	bool downgraded;          /* applied below the high-water mark (allow_downgrade) */
	/* An operation an earlier tool left unfinished, found and finished first:
	 * "completed" or "rolled back", which one, and the patch. NULL: none. */
	const char *recovered;
	uint8_t recovered_id[16];
};

/*
 * Apply patch h (already verified by the caller, file/len its bytes) to process
 * pid. Before anything is written: the target image is found by build-id (or,
 * without one, by the functions' old bytes), every replaced function's old
 * bytes are checked against the patch, every symbol is resolved. On any
 * failure the process is left exactly as it was. Returns 0, -HP_EMISMATCH,
 * -HP_EALREADY, -HP_EBUSY or another error, with diagnostics.
 */
int runtime_apply(struct hp_ctx *ctx, pid_t pid, const struct hpx *h, const struct rt_opts *o,
		  struct rt_result *out);

/*
 * Revert the patch with this id (NULL: the last one applied) in process pid:
 * restore the saved entry bytes and unmap its image, once no thread is in it.
 * A patch below another on one of its functions is refused: revert the top
 * one first.
 */
int runtime_revert(struct hp_ctx *ctx, pid_t pid, const uint8_t *patch_id,
		   const struct rt_opts *o, struct rt_result *out);

/* One applied patch as the state block records it. */
struct rt_patch {
	uint8_t patch_id[16];
	uint64_t sequence;
	uint64_t applied_at;      /* seconds since the epoch */
	uint8_t build_id[64];
	uint32_t build_id_size;
	uint64_t image_addr, image_size;
	uint32_t nfuncs;
	char target[64];          /* the target image's file name */
	uint64_t image_hash;      /* the first 8 bytes of the SHA-256 of the linked image:
				     how a recovery knows the mapping there is this patch's */
};

/* One redirected entry. */
struct rt_func {
	uint64_t addr;            /* the old function's entry in the process */
	uint64_t old_size;
	uint64_t new_addr, new_size; /* where its code now is; new_size 0: a checked cold part */
	uint8_t saved[8];         /* the entry bytes the jump overwrote */
	uint32_t patch;           /* index of its patch */
	char name[44];
};

#define RT_MAX_PATCHES 64
#define RT_MAX_FUNCS 1024
#define RT_MAX_HIGH 16

/* An operation that was begun and not finished, as the record says. */
enum rt_op { RT_OP_NONE = 0, RT_OP_APPLY = 1, RT_OP_REVERT = 2 };

/* The highest sequence ever applied to one binary in this process: kept
 * through reverts, so an older patch cannot come back by a revert and an apply. */
struct rt_high {
	uint8_t build_id[64];
	uint32_t build_id_size;
	uint64_t sequence;
};

struct rt_state {
	uint64_t addr;            /* where the block is mapped; 0 when the process has none */
	uint64_t generation;      /* bumped on every change */
	uint32_t npatches, nfuncs;
	uint32_t op, op_patch;    /* enum rt_op, and the patch it is about */
	uint32_t writer_pid;      /* the tool that wrote the record, */
	uint64_t writer_start;    /* and its start time (clock ticks since boot) */
	uint64_t op_time;         /* when op was begun, seconds since the epoch */
	uint32_t nhigh;
	bool unsigned_slot;       /* its MAC is zero: written by hotpatch-load, unsigned */
	struct rt_high high[RT_MAX_HIGH];
	struct rt_patch patches[RT_MAX_PATCHES];
	struct rt_func funcs[RT_MAX_FUNCS];
};

/*
 * Read the record of pid, without stopping it, and check it against the
 * process: its MAC, every patch's image mapped, every entry holding its jump.
 * No block: npatches 0. An operation a killed tool left unfinished is finished
 * or rolled back first (stopping the process briefly), and *recovered says so
 * (NULL: nothing to do). -HP_ERECORD: untrusted or disagreeing with the code.
 */
int runtime_status(struct hp_ctx *ctx, pid_t pid, struct rt_state *out, struct rt_result *r);

/*
 * Sign the record hotpatch-load wrote, unsigned, inside process pid (one that
 * could not read this user's key: docs/preload.md), once it is shown to say
 * what the process holds: every patch it lists is one of known (verified by
 * the caller: the store's), applied where this applier would have put it
 * (each function found and checked as runtime_apply() finds it, the bytes
 * each entry saved the function's old ones or the jump of the layer below),
 * its image exactly that patch linked at its address with the symbols
 * resolved in the process, mapped with the segments' protections, and every
 * top entry holding its jump. The high-water marks are made anew from the
 * patches. 0: signed; -HP_ERECORD and one line saying what does not agree;
 * -HP_EMISMATCH when the record is not an unsigned one.
 */
int runtime_adopt(struct hp_ctx *ctx, pid_t pid, const struct hpx *const *known, size_t nknown);

/* ===================================================================== */
/* find.c: the processes a command is about                              */
/* ===================================================================== */

/*
 * Each fills *out (malloc'ed) with every process but the caller, in /proc
 * order, that: runs the executable path, or a copy of the same build (its
 * build-id: a container's own copy counts); maps executable code from
 * a file with that GNU build-id (a stripped, renamed or deleted copy counts);
 * shows a state block in its maps (some patch was applied to it). A process
 * that cannot be read is left out.
 */
int runtime_find_running(struct hp_ctx *ctx, const char *path, pid_t **out, size_t *n);
/* Whether process pid maps executable code from a file with this build-id
 * (1), not (0), or an error (< 0). */
int runtime_maps_build(struct hp_ctx *ctx, pid_t pid, const uint8_t *build_id, uint32_t size);
int runtime_find_mapping(struct hp_ctx *ctx, const uint8_t *build_id, uint32_t size, pid_t **out,
			 size_t *n);
int runtime_find_patched(struct hp_ctx *ctx, pid_t **out, size_t *n);
/* Of those, the ones whose state block lists the patch id (hpapply --all --revert). */
int runtime_find_with_patch(struct hp_ctx *ctx, const uint8_t id[16], pid_t **out, size_t *n);

/* ===================================================================== */
/* audit.c                                                               */
/* ===================================================================== */

struct rt_audit {
	const char *tool;         /* "hpapply" */
	const char *action;       /* "apply", "revert" */
	const char *phase;        /* "intent" (before anything is touched), "result",
				     or "recovery" (an earlier tool's operation finished) */
	pid_t pid;
	const char *exe;
	const char *patch_file;
	const uint8_t *patch_id;  /* NULL when unknown */
	uint64_t sequence;
	const char *result;       /* "applied", "reverted", "refused", "error", ... */
	int exit_code;
	const char *message;      /* the first diagnostic, or NULL */
	const struct rt_result *r;
};

/*
 * Append one JSON line describing an attempt to the audit log at path
 * (created 0600 if missing). Each line names who asked: the uid, the login
 * uid (/proc/self/loginuid: who logged in, through su and sudo) and sudo's
 * SUDO_UID when set. Returns 0 or -HP_ERROR with a diagnostic; the
 * line is written with a single write(2) on an O_APPEND descriptor, so lines
 * from concurrent tools do not interleave.
 */
int runtime_audit(struct hp_ctx *ctx, const char *path, const struct rt_audit *a);

/* The pid process pid has in its own (innermost) PID namespace; 0 when that
 * is pid itself or cannot be read. */
pid_t runtime_ns_pid(pid_t pid);
/* "process PID", with its pid inside its namespace when that differs. */
void runtime_process_name(pid_t pid, char *out, size_t size);

/* ----- store.c: the machine's patch store ---------------------------------- */

#define RT_MAX_BUILD_ID 64

/* One installed patch, as the store's index lists it. */
struct rt_stored {
	uint8_t id[16];
	uint64_t sequence;
	uint8_t build_id[RT_MAX_BUILD_ID];
	uint32_t build_id_size;
	uint64_t installed_at;  /* Unix time */
	char target[64];        /* the binary's name, for people ("-": unknown) */
};

struct rt_store {
	char dir[4096];         /* resolved, checked */
	int lock;               /* .lock, flock()ed while open */
	struct rt_stored *v;    /* in install order */
	size_t n;
};

/* $HOTPATCH_STORE, else /var/lib/hotpatch. */
const char *runtime_store_default(void);
/*
 * Open the store at dir (NULL: the default), to change it (created if need
 * be, locked exclusively; containers a crash left unnamed are removed) or to
 * read it (locked shared). The directory and every one above it must be
 * root's or ours and writable by the owner only. A store that does not exist
 * is -HP_EMISMATCH when only read.
 */
int runtime_store_open(struct hp_ctx *ctx, const char *dir, bool change, struct rt_store *out);
void runtime_store_close(struct rt_store *s);
/* Its index, or -1. */
ssize_t runtime_store_find(const struct rt_store *s, const uint8_t id[16]);
/* Store patch h (file: its signed bytes): the container, then the index. */
int runtime_store_add(struct hp_ctx *ctx, struct rt_store *s, const struct hpx *h,
		      const uint8_t *file, size_t len);
/* Remove patch id: the index, then the container. */
int runtime_store_remove(struct hp_ctx *ctx, struct rt_store *s, const uint8_t id[16]);
/* A process that maps a stored patch's binary, and whether it carries it. */
struct rt_store_proc {
	pid_t pid;
	pid_t ns_pid;           /* its pid inside its namespace; 0: the same */
	bool patched;
	bool exited;            /* gone while looked at: not counted */
	const char *why;        /* not patched: why, in a few words (arena) */
};
/* Every process that maps the binary of stored patch i (by build-id), with
 * whether its record lists the patch, in the ctx arena. */
int runtime_store_processes(struct hp_ctx *ctx, const struct rt_store *s, size_t i,
			    struct rt_store_proc **out, size_t *n);
/* The stored bytes of entry i (free()); verify them before use. */
int runtime_store_read(struct hp_ctx *ctx, const struct rt_store *s, size_t i, uint8_t **buf,
		       size_t *len);

/*
 * STORE/verified: the SHA-256 of each stored container whose signatures a
 * verifier accepted, for the preload library, which checks no signature
 * itself (docs/preload.md). Root's (the store's owner's), mode 0644, renamed
 * into place.
 */
struct rt_verified {
	uint8_t sha256[32];     /* of ID.hpx, byte for byte */
	uint8_t id[16];
};
/* Add stored patch id, whose len bytes at file the caller verified. */
int runtime_store_mark_verified(struct hp_ctx *ctx, const struct rt_store *s, const uint8_t id[16],
				const uint8_t *file, size_t len);
/* Replace the list with v (a verifier's verdicts on the whole store: hpd). */
int runtime_store_write_verified(struct hp_ctx *ctx, const struct rt_store *s,
				 const struct rt_verified *v, size_t n);

/* ----- agent.c: what hpd needs beyond hpapply ------------------------------- */

/* A socket on the kernel's process-event connector (needs CAP_NET_ADMIN), or
 * < 0 with a diagnostic: then scan /proc instead. */
int runtime_agent_events_open(struct hp_ctx *ctx);
/* The pids that called execve since the last read (at most max): 0; 1 when
 * events were lost (rescan); -1 on an error of the socket. Does not block. */
int runtime_agent_events_read(int fd, pid_t *pids, size_t max, size_t *n);
/*
 * Hold a process that has just called execve until the dynamic loader is done
 * (it runs to its entry point, AT_ENTRY), for at most timeout_ms; a process
 * already past it is ready at once. 0, or an error with a diagnostic.
 */
int runtime_agent_wait_loaded(struct hp_ctx *ctx, pid_t pid, unsigned timeout_ms);

#endif
