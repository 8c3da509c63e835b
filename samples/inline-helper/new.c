/* Decoding fixed-size fields from a message; every reader checks the length first. */
#include <stddef.h>
#include <stdint.h>

struct msg {
	const uint8_t *p;
	size_t len;
};

/* Is there room for n bytes at off? */
static inline __attribute__((always_inline)) int check_len(const struct msg *m, size_t off,
							   size_t n)
{
	return off <= m->len && n <= m->len - off;
}

int msg_get_u8(const struct msg *m, size_t off, uint8_t *out)
{
	if (!check_len(m, off, 1))
		return -1;
	*out = m->p[off];
	return 0;
}

int msg_get_u16(const struct msg *m, size_t off, uint16_t *out)
{
	if (!check_len(m, off, 2))
		return -1;
	*out = (uint16_t)(m->p[off] << 8 | m->p[off + 1]);
	return 0;
}

int msg_get_u32(const struct msg *m, size_t off, uint32_t *out)
{
	if (!check_len(m, off, 4))
		return -1;
	*out = (uint32_t)m->p[off] << 24 | (uint32_t)m->p[off + 1] << 16 |
	       (uint32_t)m->p[off + 2] << 8 | m->p[off + 3];
	return 0;
}

size_t msg_remaining(const struct msg *m, size_t off)
{
	return off < m->len ? m->len - off : 0;
}
