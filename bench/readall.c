/*
 * bench/readall.c: the baseline for hpdiff's time, reading the input files and nothing else.
 *
 * Usage: readall FILE...
 * Maps each file read-only and loads every 8-byte word of it, folded into a checksum printed on
 * stdout so that the compiler cannot skip the loads. The mappings stay until exit, so the peak RSS
 * covers all the files at once, as for a differ that holds both objects. This is a lower bound for
 * any tool that must look at both objects: no parsing, no allocation, one pass over the bytes.
 * bench/measure.sh builds it with `cc -O2` and runs it on files already in the page cache; a
 * differ's time and memory are shown as multiples of it.
 * Exit: 0, or 1 if a file cannot be opened or mapped.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fold every byte of buf into one word: 8 bytes at a time, then the tail. */
static uint64_t fold(const unsigned char *buf, size_t len)
{
	uint64_t acc = 0, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, buf + i, 8);
		acc ^= w;
	}
	for (; i < len; i++)
		acc ^= (uint64_t)buf[i] << (8 * (i % 8));
	return acc;
}

int main(int argc, char **argv)
{
	uint64_t acc = 0;
	int i;

	/* Map every file before reading any, so that all of them are resident at once, as in a differ. */
	for (i = 1; i < argc; i++) {
		struct stat st;
		void *map;
		int fd;

		fd = open(argv[i], O_RDONLY);
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		map = NULL;
		if (st.st_size > 0)
			map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (map == MAP_FAILED) {
			perror(argv[i]);
			return 1;
		}
		if (map)
			acc ^= fold(map, (size_t)st.st_size);
	}
	printf("%016llx\n", (unsigned long long)acc);
	return 0;
}
