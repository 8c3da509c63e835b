/* Helpers for a key-value store's command line: each stands alone. */
#include <stdio.h>
#include <string.h>

const char *const kv_commands[] = {"get", "set", "del", "stats"};

int kv_command_index(const char *name)
{
	unsigned i;

	for (i = 0; i < sizeof(kv_commands) / sizeof(kv_commands[0]); i++)
		if (strcmp(name, kv_commands[i]) == 0)
			return (int)i;
	return -1;
}

void kv_print_usage(FILE *out)
{
	fprintf(out, "usage: kv get KEY | set KEY VALUE | del KEY | stats\n");
}

int kv_valid_key(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > 250)
		return 0;
	return strpbrk(key, " \t\r\n") == NULL;
}

void kv_print_error(FILE *out, const char *key, int err)
{
	fprintf(out, "kv: %s: error %d\n", key, err);
}

unsigned kv_hash(const char *key)
{
	unsigned h = 2166136261u;

	while (*key)
		h = (h ^ (unsigned char)*key++) * 16777619u;
	return h;
}
