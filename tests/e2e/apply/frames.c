/*
 * frames.c: a process built from samples/cross-object-helper (util.c, frame.c).
 *
 * Every 10 ms it offers frame_append() an empty frame whose fill level is past
 * the end of its buffer (a peer that sent more than fits) and prints
 * "value R": 0 while the old frame_append() accepts it, -1 once the fix, which
 * calls util_checked_len(), a function new in the other object, rejects it.
 * The empty payload keeps the old code from writing anywhere.
 */
#include <stdio.h>
#include <time.h>

struct frame {
	unsigned char buf[256];
	size_t used;
};

int frame_append(struct frame *f, const unsigned char *wire, size_t n);

int main(void)
{
	static const unsigned char wire[2] = { 0, 0 };
	struct timespec tick = { 0, 10000000 };
	for (;;) {
		struct frame f = { .used = 300 };
		printf("value %d\n", frame_append(&f, wire, sizeof wire));
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
}
