/*
 * lookup.c: request parsing for the demo server.
 *
 * Fixed: the index must lie inside the public table (was: n > 4, which let
 * "GET 4" read the admin token placed after it, and negative n through).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entries {
	const char *public[4];
	const char *admin_token;
};

static const struct entries db = {
	{ "alpha", "bravo", "charlie", "delta" },
	"s3cr3t-admin-token",
};

const char *lookup(const char *request)
{
	if (strncmp(request, "GET ", 4))
		return "error: unknown request";
	int n = atoi(request + 4);
	if (n < 0 || n >= 4)
		return "error: no such entry";
	return db.public[n];
}
