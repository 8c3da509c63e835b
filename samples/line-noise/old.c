/* A ring buffer with assertions everywhere: every assert passes __LINE__. */
#include <assert.h>
#include <stddef.h>

#define RING_SIZE 64

struct ring {
	unsigned char buf[RING_SIZE];
	size_t head, tail, count;
};

int ring_put(struct ring *r, unsigned char c)
{
	assert(r != NULL);
	if (r->count == RING_SIZE)
		return -1;
	r->buf[r->head] = c;
	r->head = (r->head + 1) % RING_SIZE;
	r->count++;
	return 0;
}

int ring_get(struct ring *r, unsigned char *out)
{
	assert(r != NULL);
	assert(out != NULL);
	if (r->count == 0)
		return -1;
	*out = r->buf[r->tail];
	r->tail = (r->tail + 1) % RING_SIZE;
	r->count--;
	return 0;
}

size_t ring_count(const struct ring *r)
{
	assert(r != NULL);
	assert(r->count <= RING_SIZE);
	return r->count;
}

size_t ring_space(const struct ring *r)
{
	assert(r != NULL);
	return RING_SIZE - r->count;
}

void ring_reset(struct ring *r)
{
	assert(r != NULL);
	r->head = r->tail = r->count = 0;
}

int ring_peek(const struct ring *r, unsigned char *out)
{
	assert(r != NULL);
	assert(out != NULL);
	if (r->count == 0)
		return -1;
	*out = r->buf[r->tail];
	return 0;
}

size_t ring_drop(struct ring *r, size_t n)
{
	assert(r != NULL);
	assert(n <= RING_SIZE);
	if (n > r->count)
		n = r->count;
	r->tail = (r->tail + n) % RING_SIZE;
	r->count -= n;
	return n;
}

int ring_full(const struct ring *r)
{
	assert(r != NULL);
	return r->count == RING_SIZE;
}
