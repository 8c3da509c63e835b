/*
 * index.c: the store's two lists, line by line (store.c has the store itself).
 * Pure text: no file is opened here, so the preload library (runtime/preload/),
 * which reads the store from inside a process, parses them as the tools do.
 *
 *   index     "hotpatch-store 1", then per installed patch, in install order:
 *             ID SEQUENCE BUILD-ID INSTALLED-AT TARGET
 *   verified  "hotpatch-verified 1", then per stored container that a verifier
 *             (hpapply --install, hpd) accepted against its trust store:
 *             SHA-256 ID (64 and 32 hex digits). Written 0644 by the
 *             store's owner: a process that cannot run OpenSSL, or read the
 *             trust store, trusts a container whose bytes hash to a line here
 *             (docs/preload.md has the argument).
 */
#include <stdio.h>
#include <string.h>

#include "runtime/runtime_internal.h"

bool store_parse_index_line(const char *line, struct rt_stored *e)
{
	char id[40], bid[2 * RT_MAX_BUILD_ID + 8], target[64];
	unsigned long long seq, at;
	memset(e, 0, sizeof *e);
	if (sscanf(line, "%39s %llu %135s %llu %63s", id, &seq, bid, &at, target) != 5 ||
	    strlen(id) != 32 || !hp_unhex(id, 16, e->id))
		return false;
	size_t bl = strlen(bid);
	if (bl % 2 || bl / 2 > RT_MAX_BUILD_ID || !hp_unhex(bid, bl / 2, e->build_id))
		return false;
	e->build_id_size = (uint32_t)(bl / 2);
	e->sequence = seq;
	e->installed_at = at;
	snprintf(e->target, sizeof e->target, "%s", target);
	return true;
}

bool store_parse_verified_line(const char *line, struct rt_verified *v)
{
	char sha[72], id[40], rest[2];
	if (sscanf(line, "%71s %39s %1s", sha, id, rest) != 2 || strlen(sha) != 64 ||
	    strlen(id) != 32)
		return false;
	return hp_unhex(sha, 32, v->sha256) && hp_unhex(id, 16, v->id);
}

size_t store_format_verified_line(const struct rt_verified *v, char out[STORE_VERIFIED_LINE])
{
	hp_hex(out, v->sha256, 32);
	out[64] = ' ';
	hp_hex(out + 65, v->id, 16);
	out[97] = '\n';
	out[98] = 0;
	return 98;
}
