/* The safe side of grown-struct: the release also adds a member to struct cache_stats, but the
 * fix is in parse_size, which never reaches that struct. The code that uses it is unchanged (it
 * touches only a member that kept its offset), so no patched code misreads a live object. */
#include <stdlib.h>

struct cache_stats {
	unsigned long hits;
	unsigned long misses;
};

void cache_hit(struct cache_stats *s)
{
	s->hits++;
}

long parse_size(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end == 'k')
		v *= 1024;
	return v;
}
