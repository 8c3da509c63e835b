/*
 * preload.h: libhotpatch-load.so, the applier that runs inside the process
 * (docs/preload.md). Loaded with LD_PRELOAD or /etc/ld.so.preload, it applies
 * the machine's stored patches to each image as it is loaded: the executable
 * and its libraries from its constructor, before the executable's own
 * constructors and main; a library opened with dlopen before dlopen returns.
 *
 *   load.c    the events (start, dlopen), the environment, the one-line log
 *   images.c  the images mapped in this process (dl_iterate_phdr): build-id,
 *             segments, TLS, the dynamic section and its GOT slots by name
 *   store.c   the store read from inside: ownership, the index, the verified
 *             list, each container checked against it and parsed
 *   patch.c   each patch resolved and checked, then mapped, written and
 *             recorded in the process's record (runtime/record.c)
 *   dlopen.S  dlopen and dlmopen, passed through unchanged when the caller
 *             matters to the dynamic linker (load.c decides)
 *
 * Links formats/ base and hpx, runtime/record.c, link.c, maps.c and index.c,
 * and zstd statically: libc is its only dependency. Exports dlopen and dlmopen
 * only (exports.map).
 */
#ifndef HP_PRELOAD_H
#define HP_PRELOAD_H

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "runtime/runtime_internal.h"

/* ----- images.c ----------------------------------------------------------------- */

/* One object the dynamic linker mapped, as dl_iterate_phdr shows it. */
struct pl_image {
	const char *name;        /* its path; "" for the executable */
	uint64_t bias;           /* address = bias + ELF virtual address */
	uint64_t lo, hi;         /* what its PT_LOAD segments cover */
	const ElfW(Phdr) *phdr;
	size_t phnum;
	uint8_t build_id[64];
	uint32_t build_id_size;  /* 0: none */
	bool main;               /* the executable */
	size_t tls_modid;        /* its TLS module id; 0: no TLS */
	bool has_tls;            /* a PT_TLS segment: */
	uint64_t tls_vaddr, tls_memsz, tls_align;
	bool seen;               /* handled by an earlier event */
};

struct pl_images {
	struct pl_image *v;
	size_t n;
};

/* Every image mapped now, each marked seen when an earlier event had it (seen:
 * what the last call returned, or NULL): in buf (cap of them) while they fit,
 * then in the arena. */
int pl_images_read(struct hp_ctx *ctx, const struct pl_images *seen, struct pl_image *buf,
		   size_t cap, struct pl_images *out);
/* Whether [addr, addr + size) lies in one executable segment of img. */
bool pl_image_code(const struct pl_image *img, uint64_t addr, uint64_t size);
/*
 * The value of the GOT slot through which img imports name with relocation
 * type type (R_X86_64_GLOB_DAT and R_X86_64_JUMP_SLOT when type is 0): 1 and
 * *out, 0 when img has none, < 0 when its dynamic section cannot be read.
 */
int pl_image_got(struct hp_ctx *ctx, const struct pl_image *img, const char *name, uint32_t type,
		 uint64_t *out);

/* ----- store.c ------------------------------------------------------------------- */

/* A stored patch for an image of this process, checked and parsed. */
struct pl_patch {
	struct rt_stored e;       /* its index line */
	struct hpx h;             /* the container, read by hpx_read() */
	const struct pl_image *target; /* the image whose build-id it is bound to */
};

/*
 * The stored patches, in install order, whose binary is among the images of
 * imgs not seen before: the store at dir checked (the directory and those above
 * it root's or ours, writable by their owner only; the index and the verified
 * list too), each container's SHA-256 found in the verified list, read by the
 * container reader, its id and build-id those of its index line. *n 0 and 0:
 * nothing to do (no store, or no patch for these images). Any doubt: an error
 * with one diagnostic, and nothing may be applied.
 */
int pl_store_read(struct hp_ctx *ctx, const char *dir, const struct pl_images *imgs,
		  struct pl_patch **out, size_t *n);

/* ----- patch.c ------------------------------------------------------------------- */

struct pl_env {
	const char *store;        /* the store's directory */
	const char *run_dir;      /* the applier's directory: the key and the locks */
	bool secure;              /* AT_SECURE: the environment is not trusted */
};

/*
 * Apply every patch of v (n, in install order) to this process: all of them,
 * or, on any doubt or failure, none (what was begun is undone). The record is
 * read first (and must verify, with no operation under way), written before
 * and after each patch, and signed with the key of env->run_dir when this
 * process can read it (root's processes), else left unsigned.
 */
int pl_apply(struct hp_ctx *ctx, const struct pl_env *env, const struct pl_patch *v, size_t n);

#endif
