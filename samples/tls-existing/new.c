/* A recursive-descent parser keeps its nesting depth per thread; the limit check was off by one. */
#include <stddef.h>

static __thread int depth;
__thread unsigned long parse_calls;

#define MAX_DEPTH 64

/* Skip one balanced [...] group starting at s; NULL when malformed or too deep. */
const char *skip_group(const char *s)
{
	const char *p;

	parse_calls++;
	if (*s != '[')
		return NULL;
	if (depth >= MAX_DEPTH)
		return NULL;
	depth++;
	for (p = s + 1; p && *p && *p != ']';)
		p = *p == '[' ? skip_group(p) : p + 1;
	depth--;
	return p && *p == ']' ? p + 1 : NULL;
}

int nesting_left(void)
{
	return MAX_DEPTH - depth;
}
