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
