/* Records received from the network: a length byte followed by that many bytes of payload. */
#include <stddef.h>
#include <string.h>

struct record {
	unsigned char buf[64];
	size_t len;
};

int record_init(struct record *r, const void *data, size_t len)
{
	if (len > sizeof(r->buf))
		return -1;
	memcpy(r->buf, data, len);
	r->len = len;
	return 0;
}

/* Copy the field at off into out as a C string; return its length or -1. */
int record_get_field(const struct record *r, size_t off, char *out, size_t outsz)
{
	size_t n;

	if (off >= r->len)
		return -1;
	n = r->buf[off];
	if (off + 1 + n > r->len)
		return -1;
	if (n > outsz)
		return -1;
	memcpy(out, r->buf + off + 1, n);
	out[n] = '\0';
	return (int)n;
}

unsigned record_checksum(const struct record *r)
{
	unsigned sum = 0;
	size_t i;

	for (i = 0; i < r->len; i++)
		sum = (sum << 1 | sum >> 31) ^ r->buf[i];
	return sum;
}
