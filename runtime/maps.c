/*
 * maps.c: a process's mappings as /proc/PID/maps lists them, and a free range
 * within rel32 reach of an image for a patch's code. Reads a file and
 * computes; touches no process: hpapply reads /proc/PID/maps of its target
 * (proc.c), the preload library /proc/self/maps (runtime/preload/).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "formats/base.h"
#include "runtime/runtime_internal.h"

int maps_read(struct hp_ctx *ctx, const char *path, struct rt_map **out, size_t *nout)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot open: %s", strerror(errno));
	size_t cap = 64, n = 0;
	struct rt_map *v = hp_arena_array(ctx, cap, sizeof *v);
	char line[4096 + 256];
	int err = 0;
	while (v && fgets(line, sizeof line, f)) {
		unsigned long long start, end, off, inode;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms, &off,
			   &inode, &pos) < 5) {
			err = hp_err(ctx, HP_ERROR, path, NULL, "unreadable line: %s", line);
			break;
		}
		if (n == cap) {
			struct rt_map *w = hp_arena_array(ctx, cap * 2, sizeof *w);
			if (!w) {
				v = NULL;
				break;
			}
			memcpy(w, v, n * sizeof *v);
			v = w;
			cap *= 2;
		}
		char *name = line + pos;
		name[strcspn(name, "\n")] = 0;
		struct rt_map *m = &v[n++];
		m->start = start;
		m->end = end;
		m->offset = off;
		m->inode = inode;
		m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
			  (perms[2] == 'x' ? PROT_EXEC : 0);
		m->shared = perms[3] == 's';
		m->path = hp_arena_strdup(ctx, name);
		if (!m->path) {
			v = NULL;
			break;
		}
	}
	fclose(f);
	if (!v)
		return hp_nomem(ctx);
	if (err)
		return err;
	*out = v;
	*nout = n;
	return 0;
}

int maps_find_gap(const struct rt_map *maps, size_t nmaps, uint64_t brk, uint64_t lo, uint64_t hi,
		  uint64_t size, unsigned skip, uint64_t *out)
{
	/* Every byte of [a, a + size) must reach and be reached from all of [lo, hi). */
	uint64_t min = hi > RT_REL32_REACH ? hi - RT_REL32_REACH : 0x10000;
	uint64_t max = lo + RT_REL32_REACH; /* a + size <= max */
	if (min < 0x10000)
		min = 0x10000;
	/* Candidates: just above each mapping's end and just below each start,
	 * one page away from neighbours; sorted by distance to the image. */
	struct cand {
		uint64_t a, dist;
	} c[512];
	size_t n = 0;
	for (size_t i = 0; i <= nmaps && n + 2 <= sizeof c / sizeof c[0]; i++) {
		uint64_t gap_lo = i ? maps[i - 1].end + 4096 : 0x10000;
		uint64_t gap_hi = i < nmaps ? maps[i].start - 4096 : 0x7ffffffff000ull;
		if (i < nmaps && maps[i].start < 4096)
			continue;
		if (gap_hi <= gap_lo || gap_hi - gap_lo < size)
			continue;
		/* Leave room above a heap so brk can grow; and above the break
		 * when there is no heap yet (a process just started). */
		if (i && !strcmp(maps[i - 1].path, "[heap]"))
			gap_lo += 64ull << 20;
		else if (brk && brk >= gap_lo && brk < gap_hi)
			gap_hi = brk;
		if (gap_hi <= gap_lo || gap_hi - gap_lo < size)
			continue;
		uint64_t above = gap_lo, below = (gap_hi - size) & ~4095ull;
		uint64_t cands[2] = { above, below };
		for (int k = 0; k < 2; k++) {
			uint64_t a = cands[k];
			if (a < min || a + size > max)
				continue;
			uint64_t mid = lo + (hi - lo) / 2;
			c[n].a = a;
			c[n].dist = a > mid ? a - mid : mid - a;
			n++;
		}
	}
	/* Selection by distance, skipping the first skip ones. */
	for (unsigned round = 0; round <= skip; round++) {
		size_t best = n;
		for (size_t i = 0; i < n; i++)
			if (c[i].dist != UINT64_MAX && (best == n || c[i].dist < c[best].dist))
				best = i;
		if (best == n)
			return -1;
		if (round == skip) {
			*out = c[best].a;
			return 0;
		}
		c[best].dist = UINT64_MAX;
	}
	return -1;
}
