/* A checksum over a buffer took an int length, so buffers over 2 GiB wrapped. The fix takes
 * a size_t and returns an unsigned long: callers in other objects of the running program
 * still pass an int and read an int, so the patch is refused. */
#include <stddef.h>

unsigned long checksum(const unsigned char *p, size_t n)
{
	unsigned long sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + p[i];
	return sum;
}

int verify(const unsigned char *p, int n, int expect)
{
	return checksum(p, (size_t)n) == (unsigned long)expect;
}
