/* Parsing of "Range: bytes=A-B" request headers. */
#include <stdlib.h>
#include <string.h>

struct range {
	long first, last;
};

static int parse_long(const char *s, char **end, long *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	*out = strtol(s, end, 10);
	return 0;
}

int range_parse(const char *value, long size, struct range *r)
{
	char *end;

	if (strncmp(value, "bytes=", 6) != 0)
		return -1;
	value += 6;
	if (*value == '-') {
		if (parse_long(value + 1, &end, &r->first) < 0 || *end != '\0')
			return -1;
		r->first = r->first > size ? 0 : size - r->first;
		r->last = size - 1;
		return 0;
	}
	if (parse_long(value, &end, &r->first) < 0 || *end != '-')
		return -1;
	if (end[1] == '\0')
		r->last = size - 1;
	else if (parse_long(end + 1, &end, &r->last) < 0 || *end != '\0')
		return -1;
	if (r->first > r->last || r->first >= size)
		return -1;
	if (r->last >= size)
		r->last = size - 1;
	return 0;
}

long range_length(const struct range *r)
{
	return r->last - r->first + 1;
}
