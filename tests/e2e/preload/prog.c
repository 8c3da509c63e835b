/*
 * prog.c: the program tests/e2e/preload.sh patches from its first instruction.
 * check() (check-old.c, check-new.c) is called by the executable's constructor
 * and by main; plug() (plug-old.c, plug-new.c) by main, from a library it
 * dlopens. The old functions append a line to the file $MARKER: after a run
 * patched from the start, that file does not exist.
 *
 *   prog run LIB    the constructor's and main's check(), then LIB dlopen()ed
 *                   and its plug(); exit
 *   prog wait LIB   the same, then "waiting" and pause() (for hpstatus)
 *   prog bare LIB   plug() from "libplug.so" dlopen()ed by its bare name, found
 *                   along this program's RUNPATH ($ORIGIN), then from LIB
 *   prog mdwe LIB   first says whether memory that is writable and executable
 *                   can be had (MDWE refuses it), then as run
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int check(int x);

static int early;

__attribute__((constructor)) static void init(void)
{
	early = check(1);
}

static int plug_from(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW);
	int (*plug)(int) = h ? (int (*)(int))dlsym(h, "plug") : NULL;
	if (!plug) {
		printf("dlopen %s: %s\n", lib, dlerror());
		return -1;
	}
	return plug(3);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "run";
	const char *lib = argc > 2 ? argv[2] : "./libplug.so";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "mdwe")) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("write+exec memory %s\n", p == MAP_FAILED ? "refused" : "granted");
	}
	printf("constructor %d\n", early);
	printf("main %d\n", check(2));
	if (!strcmp(mode, "bare"))
		printf("plug by name %d\n", plug_from("libplug.so"));
	printf("plug %d\n", plug_from(lib));
	if (!strcmp(mode, "wait")) {
		printf("waiting\n");
		pause();
	}
	return 0;
}
