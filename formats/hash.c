/*
 * hash.c: the one hash map of the project (base.h), for two kinds of key:
 * names (symbols, sections, types: tables of a few thousand keys, built once
 * and read many times) and 64-bit integers (the DWARF reader's DIE offsets and
 * addresses, looked up once per type reference, so in its hot loops).
 *
 * Open addressing, linear probing, power-of-two capacity, never more than half
 * full. A slot holds its key next to its value, 16 bytes either way, so a
 * probe reads one cache line. Each function below is written once for both
 * kinds and inlined with the kind a constant: an integer lookup compares
 * integers and nothing else.
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

/* A key of either kind, as the functions below pass it. */
struct key {
	const char *str;        /* a string key, or NULL for an integer map */
	uint64_t id;            /* an integer key + 1 */
};

/*
 * Where a probe for k starts. DIE offsets and addresses are not hashes (they
 * step by small multiples), so an integer is spread by Fibonacci hashing.
 */
static inline size_t first_slot(const struct hp_map *m, struct key k, bool strings)
{
	uint64_t h = strings ? hp_hash_str(k.str) : (k.id - 1) * 0x9e3779b97f4a7c15ull >> 17;
	return (size_t)h & (m->cap - 1);
}

/* The slot holding k, or the empty slot where it would go. m->cap is not 0. */
static inline struct hp_map_slot *find(const struct hp_map *m, struct key k, bool strings)
{
	size_t mask = m->cap - 1;
	for (size_t i = first_slot(m, k, strings);; i = (i + 1) & mask) {
		struct hp_map_slot *s = &m->slots[i];
		if (strings ? !s->key.str || !strcmp(s->key.str, k.str)
			    : !s->key.id || s->key.id == k.id)
			return s;
	}
}

static inline bool slot_empty(const struct hp_map_slot *s, bool strings)
{
	return strings ? !s->key.str : !s->key.id;
}

static int map_alloc(struct hp_ctx *ctx, struct hp_map *m, size_t cap)
{
	m->slots = hp_arena_array(ctx, cap, sizeof *m->slots);
	if (!m->slots)
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

/* Make room for one more key; the old slots stay in the arena until the ctx goes. */
static inline int reserve(struct hp_ctx *ctx, struct hp_map *m, bool strings)
{
	if (2 * (m->len + 1) <= m->cap)
		return 0;
	struct hp_map old = *m;
	int err = map_alloc(ctx, m, old.cap ? old.cap * 2 : 16);
	if (err < 0) {
		*m = old;
		return err;
	}
	for (size_t i = 0; i < old.cap; i++) {
		const struct hp_map_slot *s = &old.slots[i];
		if (slot_empty(s, strings))
			continue;
		struct key k = { strings ? s->key.str : NULL, s->key.id };
		*find(m, k, strings) = *s;
	}
	m->len = old.len;
	return 0;
}

static inline void *get(const struct hp_map *m, struct key k, bool strings)
{
	if (!m->cap)
		return NULL;
	return find(m, k, strings)->val; /* an empty slot's is NULL */
}

/* Store val under k: replacing what is there, or only when nothing is. */
static inline int put(struct hp_ctx *ctx, struct hp_map *m, struct key k, void *val, bool replace,
		      void **out, bool strings)
{
	int err = reserve(ctx, m, strings);
	if (err < 0)
		return err;
	struct hp_map_slot *s = find(m, k, strings);
	if (slot_empty(s, strings)) {
		if (strings)
			s->key.str = k.str;
		else
			s->key.id = k.id;
		m->len++;
	} else if (!replace) {
		val = s->val;
	}
	s->val = val;
	if (out)
		*out = val;
	return 0;
}

void *hp_map_get(const struct hp_map *m, const char *key)
{
	return get(m, (struct key){ key, 0 }, true);
}

int hp_map_put(struct hp_ctx *ctx, struct hp_map *m, const char *key, void *val, void **out)
{
	return put(ctx, m, (struct key){ key, 0 }, val, false, out, true);
}

int hp_map_set(struct hp_ctx *ctx, struct hp_map *m, const char *key, void *val)
{
	return put(ctx, m, (struct key){ key, 0 }, val, true, NULL, true);
}

void *hp_map_get_u64(const struct hp_map *m, uint64_t key)
{
	return get(m, (struct key){ NULL, key + 1 }, false);
}

int hp_map_put_u64(struct hp_ctx *ctx, struct hp_map *m, uint64_t key, void *val, void **out)
{
	return put(ctx, m, (struct key){ NULL, key + 1 }, val, false, out, false);
}
