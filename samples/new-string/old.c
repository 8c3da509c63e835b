/* Reading "key=value" lines from a configuration file, with error messages on stderr. */
#include <stdio.h>
#include <string.h>

int conf_read_line(FILE *f, char *line, size_t size, int lineno)
{
	size_t n;

	if (fgets(line, (int)size, f) == NULL)
		return 0;
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	(void)lineno;
	return 1;
}

int conf_split(char *line, char **key, char **value, int lineno)
{
	char *eq = strchr(line, '=');

	if (eq == NULL) {
		fprintf(stderr, "config:%d: missing '=' in \"%s\"\n", lineno, line);
		return -1;
	}
	*eq = '\0';
	*key = line;
	*value = eq + 1;
	return 0;
}

int conf_check_key(const char *key, int lineno)
{
	static const char *const known[] = {"listen", "workers", "log", NULL};
	int i;

	for (i = 0; known[i] != NULL; i++)
		if (strcmp(key, known[i]) == 0)
			return 0;
	fprintf(stderr, "config:%d: unknown key \"%s\"; see the manual page for the list\n", lineno,
		key);
	return -1;
}

void conf_usage(FILE *out)
{
	fputs("usage: daemon [-c config] [-f]\n", out);
	fputs("  -c config  read this file instead of /etc/daemon.conf\n", out);
}
