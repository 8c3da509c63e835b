/*
 * hash.c: an open-addressing string map (linear probing, power-of-two capacity,
 * never more than half full). Used for symbol and section names, where tables
 * hold a few thousand keys and are built once and read many times.
 */
#include "formats/base.h"

/* FNV-1a over 8-byte words, then a final mix: fast on short identifiers. */
uint64_t hp_hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
		b += 8;
		n -= 8;
	}
	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static int map_alloc(struct hp_ctx *ctx, struct hp_map *m, size_t cap)
{
	m->keys = hp_arena_array(ctx, cap, sizeof *m->keys);
	m->vals = hp_arena_array(ctx, cap, sizeof *m->vals);
	if (!m->keys || !m->vals)
		return hp_nomem(ctx);
	m->cap = cap;
	m->len = 0;
	return 0;
}

int hp_map_init(struct hp_ctx *ctx, struct hp_map *m, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n + 2)
		cap *= 2;
	return map_alloc(ctx, m, cap);
}

void *hp_map_get(const struct hp_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = hp_hash_str(key) & mask;; i = (i + 1) & mask) {
		if (!m->keys[i])
			return NULL;
		if (!strcmp(m->keys[i], key))
			return m->vals[i];
	}
}

int hp_map_put(struct hp_ctx *ctx, struct hp_map *m, const char *key, void *val, void **out)
{
	if (2 * (m->len + 1) > m->cap) {
		/* Grow: the old arrays stay in the arena until the ctx goes. */
		struct hp_map old = *m;
		int err = map_alloc(ctx, m, old.cap ? old.cap * 2 : 16);
		if (err < 0)
			return err;
		for (size_t i = 0; i < old.cap; i++)
			if (old.keys[i])
				hp_map_put(ctx, m, old.keys[i], old.vals[i], NULL);
	}
	size_t mask = m->cap - 1;
	size_t i = hp_hash_str(key) & mask;
	for (; m->keys[i]; i = (i + 1) & mask) {
		if (!strcmp(m->keys[i], key)) {
			if (out)
				*out = m->vals[i];
			return 0;
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->len++;
	if (out)
		*out = val;
	return 0;
}
