/*
 * load.c: libhotpatch-load.so's two events, and what it says.
 *
 *   start   its constructor. The dynamic linker runs it after it has mapped
 *           and relocated every object of the program and run the
 *           constructors of the libraries it initializes first, and before
 *           the executable's own constructors (preinit and init arrays) and
 *           main: the executable and every library mapped then are patched
 *           before any of the executable's code runs (docs/preload.md has
 *           the order, measured).
 *   dlopen  dlopen and dlmopen (dlopen.S): the real one runs, then every
 *           image it mapped (the library and the dependencies it brought)
 *           is patched, before the program gets the handle. When the answer
 *           of the real dlopen depends on who calls it (a name searched
 *           along the caller's RUNPATH or RPATH, $ORIGIN, a caller in another
 *           namespace), the call is handed to the real one untouched, as if
 *           this library were not there, and the new images wait for the
 *           next event or for hpd (docs/preload.md).
 *
 * The environment names a private store (HOTPATCH_STORE) and applier
 * directory (HOTPATCH_RUN_DIR) only when the process is not in secure-
 * execution mode (AT_SECURE: setuid, setgid, file capabilities): otherwise
 * any user could point a setuid program at a store of their own.
 *
 * It never stops the program: on any doubt it applies nothing, writes one
 * line to stderr ("hotpatch-load: ...; nothing applied") and returns; and
 * from then on it does nothing more in this process, which runs on as it is
 * (hpd, which says why in its own log, may still patch it).
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "runtime/preload/preload.h"

#define DEFAULT_STORE "/var/lib/hotpatch"
#define DEFAULT_RUN_DIR "/run/hotpatch"

/* Under the lock: the images of the last event, and room for this one's. A
 * process with no more than SMALL images allocates nothing for them (with no
 * store, an event allocates nothing at all). */
#define SMALL 128
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pl_image seen_buf[SMALL], scan_buf[SMALL];
static struct pl_images seen; /* in seen_buf, or malloc'ed */
static bool quiet;            /* a doubt was said: the process runs on unchanged */

static void environment(struct pl_env *env)
{
	env->secure = getauxval(AT_SECURE) != 0;
	const char *store = env->secure ? NULL : getenv("HOTPATCH_STORE");
	const char *run = env->secure ? NULL : getenv("HOTPATCH_RUN_DIR");
	env->store = store && *store ? store : DEFAULT_STORE;
	env->run_dir = run && *run ? run : DEFAULT_RUN_DIR;
}

/* One line on stderr: the first diagnostic, and that nothing was applied. */
static void say(const struct hp_ctx *ctx)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "hotpatch-load: %s; nothing applied\n",
			 ctx->ndiags ? ctx->diags[0].text : "out of memory");
	if (n >= (int)sizeof line) {
		n = sizeof line - 1;
		line[n - 1] = '\n';
	}
	if (n > 0 && write(2, line, (size_t)n) < 0) {
		/* nowhere to say it */
	}
}

/* Keep what this event saw: the next one patches only what is new. */
static void remember(const struct pl_images *now)
{
	struct pl_image *v = now->n <= SMALL ? seen_buf : malloc(now->n * sizeof *v);
	if (!v)
		return; /* the next event looks at everything again: checked again, no harm */
	memcpy(v, now->v, now->n * sizeof *v);
	for (size_t i = 0; i < now->n; i++) {
		v[i].name = ""; /* the dynamic linker's string; not needed to compare */
		v[i].phdr = NULL;
	}
	if (seen.v != seen_buf)
		free(seen.v);
	seen.v = v;
	seen.n = now->n;
}

/* Patch every image mapped since the last event. */
static void event(void)
{
	struct pl_env env;
	environment(&env);
	pthread_mutex_lock(&lock);
	if (quiet) {
		pthread_mutex_unlock(&lock);
		return;
	}
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hotpatch-load");
	struct pl_images now;
	struct pl_patch *v = NULL;
	size_t n = 0;
	int err = pl_images_read(&ctx, &seen, scan_buf, SMALL, &now);
	bool fresh = false;
	for (size_t i = 0; err == 0 && i < now.n; i++)
		fresh |= !now.v[i].seen;
	if (err == 0 && fresh)
		err = pl_store_read(&ctx, env.store, &now, &v, &n);
	if (err == 0 && n)
		err = pl_apply(&ctx, &env, v, n);
	if (err < 0) {
		say(&ctx);
		quiet = true;
	}
	if (err != -HP_ENOMEM && (err == 0 || fresh))
		remember(&now);
	hp_ctx_fini(&ctx);
	pthread_mutex_unlock(&lock);
}

/* A fork while another thread is in an event: the child gets the lock free. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_done(void)
{
	pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void at_start(void)
{
	pthread_atfork(fork_prepare, fork_done, fork_done);
	event();
}

/* ----- dlopen ------------------------------------------------------------------------------ */

typedef void *(*dlopen_fn)(const char *, int);
typedef void *(*dlmopen_fn)(Lmid_t, const char *, int);

static void *real(const char *name, void **cache)
{
	void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		__atomic_store_n(cache, f, __ATOMIC_RELEASE);
	}
	return f;
}

static void *real_dlopen_p, *real_dlmopen_p;

/* Whether an object's dynamic section has tag. */
static bool has_tag(const ElfW(Dyn) *d, ElfW(Sxword) tag)
{
	for (size_t i = 0; d && d[i].d_tag != DT_NULL && i < 4096; i++)
		if (d[i].d_tag == tag)
			return true;
	return false;
}

static int rpath_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	bool *found = arg;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0; /* the executable's RPATH is searched whoever calls */
	for (size_t i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC &&
		    has_tag((const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr), DT_RPATH)) {
			*found = true;
			return 1;
		}
	return 0;
}

/*
 * Whether the real dlopen would do the same called from here as from the
 * caller at ra. It looks at its caller for a name with $ORIGIN (the caller's
 * directory), a name without a slash (searched along the caller's RPATH,
 * those of the objects that loaded it, and its RUNPATH), and, for dlopen, the
 * namespace to load into.
 */
static bool caller_free(const char *file, const void *ra, bool want_base_ns)
{
	if (!file || strchr(file, '$'))
		return false;
	Dl_info info;
	struct link_map *lm = NULL;
	if (!dladdr1(ra, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return false; /* the dynamic linker would take the executable for the caller */
	Lmid_t ns;
	if (want_base_ns && (dlinfo(lm, RTLD_DI_LMID, &ns) != 0 || ns != LM_ID_BASE))
		return false;
	if (strchr(file, '/'))
		return true;
	if (has_tag(lm->l_ld, DT_RUNPATH) || has_tag(lm->l_ld, DT_RPATH))
		return false;
	bool rpath = false; /* of an object that may have loaded the caller */
	if (lm->l_name && lm->l_name[0])
		dl_iterate_phdr(rpath_of, &rpath);
	return !rpath;
}

/* dlopen.S asks: NULL to come through here, else the real function to jump to. */
void *pl_dlopen_route(const char *file, int mode, const void *ra);
void *pl_dlmopen_route(Lmid_t ns, const char *file, int mode, const void *ra);
void *pl_dlopen_wrapped(const char *file, int mode);
void *pl_dlmopen_wrapped(Lmid_t ns, const char *file, int mode);

void *pl_dlopen_route(const char *file, int mode, const void *ra)
{
	(void)mode;
	void *f = real("dlopen", &real_dlopen_p);
	return !f || caller_free(file, ra, true) ? NULL : f;
}

void *pl_dlmopen_route(Lmid_t ns, const char *file, int mode, const void *ra)
{
	(void)ns;
	(void)mode;
	void *f = real("dlmopen", &real_dlmopen_p);
	return !f || caller_free(file, ra, false) ? NULL : f;
}

void *pl_dlopen_wrapped(const char *file, int mode)
{
	dlopen_fn f = (dlopen_fn)real("dlopen", &real_dlopen_p);
	void *h = f ? f(file, mode) : NULL;
	if (h)
		event();
	return h;
}

void *pl_dlmopen_wrapped(Lmid_t ns, const char *file, int mode)
{
	dlmopen_fn f = (dlmopen_fn)real("dlmopen", &real_dlmopen_p);
	void *h = f ? f(ns, file, mode) : NULL;
	if (h)
		event();
	return h;
}
