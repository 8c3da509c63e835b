/* HTTP side of a proxy: the Content-Length header. */
#include <stddef.h>

/* Parse a decimal number of at most max; return the digits consumed, 0 if none or too big. */
static __attribute__((noinline)) int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	int i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || v > max)
		return 0;
	*out = v;
	return i;
}

int http_content_length(const char *value, unsigned long *len)
{
	return parse_num(value, 1UL << 30, len) > 0 ? 0 : -1;
}

int http_status(const char *line, unsigned long *code)
{
	if (parse_num(line + 9, 999, code) != 3)
		return -1;
	return 0;
}
