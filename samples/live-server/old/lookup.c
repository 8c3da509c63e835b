/*
 * lookup.c: request parsing for the demo server.
 *
 * The bug (CWE-125, out-of-bounds read): the index check lets N == 4, one past
 * the end of the public table, and negative N through, so "GET 4" reads the
 * entry the compiler placed after the table: the admin token.
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
	if (n > 4)
		return "error: no such entry";
	return db.public[n];
}
