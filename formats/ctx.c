/*
 * ctx.c: the context every pass receives first: the arena that holds the model,
 * and the diagnostics raised so far. Only cli/ prints them.
 *
 * The arena is a list of chunks. Nodes are never freed one by one; the whole
 * arena goes at hp_ctx_fini(), which keeps teardown trivial and leak-free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"

#define CHUNK_SIZE (256 * 1024)

struct hp_arena_chunk {
	struct hp_arena_chunk *next;
	size_t used, cap;              /* bytes used and available in mem */
	_Alignas(16) unsigned char mem[];
};

void hp_ctx_init(struct hp_ctx *ctx, const char *tool)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->tool = tool;
}

void hp_ctx_fini(struct hp_ctx *ctx)
{
	struct hp_arena_chunk *c = ctx->chunks;
	while (c) {
		struct hp_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	for (size_t i = 0; i < ctx->ndiags; i++)
		free(ctx->diags[i].text);
	free(ctx->diags);
	ctx->chunks = NULL;
	ctx->diags = NULL;
	ctx->ndiags = ctx->capdiags = 0;
}

static struct hp_arena_chunk *new_chunk(struct hp_ctx *ctx, size_t cap)
{
	struct hp_arena_chunk *c = malloc(sizeof *c + cap);
	if (!c) {
		ctx->oom = true;
		return NULL;
	}
	c->used = 0;
	c->cap = cap;
	return c;
}

void *hp_arena_alloc(struct hp_ctx *ctx, size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	if (need < n) {
		ctx->oom = true;
		return NULL;
	}
	struct hp_arena_chunk *c = ctx->chunks;
	if (!c || c->cap - c->used < need) {
		if (need > CHUNK_SIZE / 4) {
			/* A big block gets a chunk of its own, kept behind the current one
			 * so the current chunk's free space is not wasted. */
			struct hp_arena_chunk *big = new_chunk(ctx, need);
			if (!big)
				return NULL;
			big->used = need;
			if (c) {
				big->next = c->next;
				c->next = big;
			} else {
				big->next = NULL;
				ctx->chunks = big;
			}
			memset(big->mem, 0, need);
			return big->mem;
		}
		c = new_chunk(ctx, CHUNK_SIZE);
		if (!c)
			return NULL;
		c->next = ctx->chunks;
		ctx->chunks = c;
	}
	void *p = c->mem + c->used;
	c->used += need;
	memset(p, 0, need);
	return p;
}

void *hp_arena_array(struct hp_ctx *ctx, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		ctx->oom = true;
		return NULL;
	}
	return hp_arena_alloc(ctx, total ? total : 1);
}

char *hp_arena_strndup(struct hp_ctx *ctx, const char *s, size_t n)
{
	char *p = hp_arena_alloc(ctx, n + 1);
	if (p)
		memcpy(p, s, n);
	return p;
}

char *hp_arena_strdup(struct hp_ctx *ctx, const char *s)
{
	return hp_arena_strndup(ctx, s, strlen(s));
}

char *hp_arena_printf(struct hp_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = hp_arena_alloc(ctx, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

int hp_diag_add(struct hp_ctx *ctx, enum hp_level level, int code, const char *where,
		const char *file, const char *sym, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	if (ctx->ndiags == ctx->capdiags) {
		size_t cap = ctx->capdiags ? ctx->capdiags * 2 : 16;
		struct hp_diag *d = realloc(ctx->diags, cap * sizeof *d);
		if (!d) {
			ctx->oom = true;
			return -(code ? code : HP_ERROR);
		}
		ctx->diags = d;
		ctx->capdiags = cap;
	}
	size_t len = strlen(msg) + (file ? strlen(file) + 2 : 0) + (sym ? strlen(sym) + 2 : 0) + 1;
	char *text = malloc(len);
	if (!text) {
		ctx->oom = true;
		return -(code ? code : HP_ERROR);
	}
	snprintf(text, len, "%s%s%s%s%s", file ? file : "", file ? ": " : "", sym ? sym : "",
		 sym ? ": " : "", msg);
	ctx->diags[ctx->ndiags++] = (struct hp_diag){ level, text, where };
	if (level == HP_LEVEL_ERROR)
		ctx->nerrors++;
	return -(code ? code : HP_ERROR);
}

void hp_diag_rollback(struct hp_ctx *ctx, size_t mark)
{
	while (ctx->ndiags > mark) {
		struct hp_diag *d = &ctx->diags[--ctx->ndiags];
		if (d->level == HP_LEVEL_ERROR)
			ctx->nerrors--;
		free(d->text);
	}
}

/* The pointer behind vp is read and written through memcpy: T * and void *
 * share their representation on every platform POSIX covers. */
static size_t next_cap(size_t cap, size_t size, size_t first)
{
	size_t c = cap ? 2 * cap : first;
	return c < cap || c > SIZE_MAX / size ? 0 : c;
}

int hp_grow(struct hp_ctx *ctx, void *vp, size_t *cap, size_t n, size_t size, size_t first)
{
	if (n < *cap)
		return 0;
	size_t c = next_cap(*cap, size, first);
	void *old, *p;
	memcpy(&old, vp, sizeof old);
	if (!c || !(p = realloc(old, c * size)))
		return hp_nomem(ctx);
	memcpy(vp, &p, sizeof p);
	*cap = c;
	return 0;
}

int hp_arena_grow(struct hp_ctx *ctx, void *vp, size_t *cap, size_t n, size_t size, size_t first)
{
	if (n < *cap)
		return 0;
	size_t c = next_cap(*cap, size, first);
	void *old, *p;
	memcpy(&old, vp, sizeof old);
	if (!c || !(p = hp_arena_array(ctx, c, size)))
		return hp_nomem(ctx);
	if (n)
		memcpy(p, old, n * size);
	memcpy(vp, &p, sizeof p);
	*cap = c;
	return 0;
}
