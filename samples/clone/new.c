/* Text report of server counters, written into a caller-supplied buffer. */
#include <stdio.h>
#include <stddef.h>

struct counters {
	long requests, errors, bytes_in, bytes_out;
};

/* Append "name: value\n" with the name padded to width; return the number of bytes written. */
static __attribute__((noinline)) size_t put_row(char *out, size_t size, const char *name,
						long value, int width)
{
	int n = snprintf(out, size, "%-*s %ld\n", width, name, value);

	if (n < 0 || size == 0)
		return 0;
	if ((size_t)n >= size)
		return size - 1;
	return (size_t)n;
}

size_t report_traffic(char *buf, size_t size, const struct counters *c)
{
	size_t off = 0;

	off += put_row(buf + off, size - off, "bytes in:", c->bytes_in, 12);
	off += put_row(buf + off, size - off, "bytes out:", c->bytes_out, 12);
	return off;
}

size_t report_health(char *buf, size_t size, const struct counters *c)
{
	size_t off = 0;

	off += put_row(buf + off, size - off, "requests:", c->requests, 12);
	off += put_row(buf + off, size - off, "errors:", c->errors, 12);
	return off;
}
