/* Small helpers shared by the protocol code of a message broker. */
#include <stddef.h>
#include <string.h>

size_t util_strnlen(const char *s, size_t max)
{
	const char *nul = memchr(s, '\0', max);
	return nul ? (size_t)(nul - s) : max;
}

int util_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* How many lengths util_checked_len() rejected: shown by the broker's stats command. */
unsigned long util_rejected_lengths;

static __attribute__((noinline)) void note_rejected(void)
{
	util_rejected_lengths++;
}

/* A length read from the wire that must fit the space left; -1 when it does not. */
long util_checked_len(unsigned long len, size_t have, size_t used)
{
	if (used > have || len > have - used) {
		note_rejected();
		return -1;
	}
	return (long)len;
}
