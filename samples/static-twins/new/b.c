/* SMTP side of a proxy: reply codes and the SIZE extension. */
#include <stddef.h>

/* Parse a decimal number of at most max; return the digits consumed, 0 if none or too big. */
static __attribute__((noinline)) int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	int i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (max - (unsigned long)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0)
		return 0;
	*out = v;
	return i;
}

int smtp_reply_code(const char *line, unsigned long *code)
{
	if (parse_num(line, 599, code) != 3 || *code < 200)
		return -1;
	return 0;
}

int smtp_size(const char *arg, unsigned long *size)
{
	return parse_num(arg, 1UL << 28, size) > 0 ? 0 : -1;
}
