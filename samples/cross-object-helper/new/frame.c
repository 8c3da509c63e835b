/* Frames of the broker's wire protocol: a 2-byte length, then the payload. */
#include <stddef.h>
#include <string.h>

size_t util_strnlen(const char *s, size_t max);
long util_checked_len(unsigned long len, size_t have, size_t used);

struct frame {
	unsigned char buf[256];
	size_t used;
};

/* Append the payload of one wire frame to f; the payload length came from the peer. */
int frame_append(struct frame *f, const unsigned char *wire, size_t n)
{
	unsigned long len;

	if (n < 2)
		return -1;
	len = (unsigned long)wire[0] << 8 | wire[1];
	if (len > n - 2 || util_checked_len(len, sizeof f->buf, f->used) < 0)
		return -1;
	memcpy(f->buf + f->used, wire + 2, len);
	f->used += len;
	return 0;
}

size_t frame_topic_len(const struct frame *f)
{
	return util_strnlen((const char *)f->buf, f->used);
}
