/* A fixed-capacity byte buffer, as used by a line-oriented protocol parser. */
#include <stddef.h>
#include <string.h>

struct sbuf {
	char *data;
	size_t len, cap;
};

void sbuf_init(struct sbuf *b, char *mem, size_t cap)
{
	b->data = mem;
	b->len = 0;
	b->cap = cap;
}

int sbuf_append(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap)
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

int sbuf_truncate(struct sbuf *b, size_t len)
{
	b->len = len;
	return 0;
}

/* Index of the first '\n' at or after from, or -1. */
long sbuf_find_eol(const struct sbuf *b, size_t from)
{
	size_t i;

	for (i = from; i <= b->len; i++)
		if (b->data[i] == '\n')
			return (long)i;
	return -1;
}

size_t sbuf_avail(const struct sbuf *b)
{
	return b->cap - b->len;
}

void sbuf_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}
