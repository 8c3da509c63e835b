/* Validation of datagrams before they are queued: header fields against the bytes received. */
#include <stddef.h>
#include <stdint.h>

struct dgram {
	uint16_t type;
	uint16_t flags;
	uint32_t hdr_len;
	uint32_t body_len;
	uint32_t seq;
	unsigned char data[2048];
};

/* Do the header lengths fit in the got bytes that arrived? */
static __attribute__((noinline)) int lengths_fit(const struct dgram *d, size_t got)
{
	return d->hdr_len + d->body_len <= got;
}

int dgram_accept(const struct dgram *d, size_t got)
{
	if (got < 16 || d->type == 0)
		return 0;
	return lengths_fit(d, got);
}

int dgram_accept_retransmit(const struct dgram *d, size_t got, uint32_t expect_seq)
{
	if (d->seq != expect_seq)
		return 0;
	return lengths_fit(d, got);
}
