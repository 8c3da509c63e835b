/* A growable table of ints; allocation failures are rare and reported on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct table {
	int *v;
	size_t n;
};

static __attribute__((cold, noinline)) void report(const char *what, size_t n)
{
	fprintf(stderr, "table: cannot %s %zu entries\n", what, n);
}

int table_resize(struct table *t, size_t n)
{
	int *v;

	if (n > SIZE_MAX / sizeof(*v)) {
		report("size", n);
		return -1;
	}
	v = realloc(t->v, n * sizeof(*v));
	if (v == NULL) {
		report("allocate", n);
		return -1;
	}
	t->v = v;
	t->n = n;
	return 0;
}

long table_sum(const struct table *t)
{
	long s = 0;
	size_t i;

	for (i = 0; i < t->n; i++)
		s += t->v[i];
	return s;
}
