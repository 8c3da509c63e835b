/* Helpers for a key-value store's command line: each stands alone. */
#include <stdio.h>
#include <string.h>

/*
 * Hashing first: it is what the server side shares with us (FNV-1a, 32 bits).
 */
unsigned kv_hash(const char *key)
{
	unsigned h = 2166136261u;

	while (*key)
		h = (h ^ (unsigned char)*key++) * 16777619u;
	return h;
}

/* Keys: 1 to 250 bytes, no whitespace (the text protocol splits on it). */
int kv_valid_key(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > 250)
		return 0;
	return strpbrk(key, " \t\r\n") == NULL;
}

/* Messages. */

void kv_print_error(FILE *out, const char *key, int err)
{
	fprintf(out, "kv: %s: error %d\n", key, err);
}

void kv_print_usage(FILE *out)
{
	fprintf(out, "usage: kv get KEY | set KEY VALUE | del KEY | stats\n");
}

/* Commands. */

const char *const kv_commands[] = {"get", "set", "del", "stats"};

int kv_command_index(const char *name)
{
	unsigned i;

	for (i = 0; i < sizeof(kv_commands) / sizeof(kv_commands[0]); i++)
		if (strcmp(name, kv_commands[i]) == 0)
			return (int)i;
	return -1;
}
