/* User records of an account service. */
#include <stddef.h>
#include <string.h>

struct user {
	unsigned id;
	char name[32];
	char shell[64];
};

/* Copy src into dst of size bytes, always NUL-terminated; -1 if src does not fit. */
int user_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

int user_set_name(struct user *u, const char *name)
{
	if (name[0] == '\0')
		return -1;
	return user_strlcpy(u->name, name, sizeof(u->name));
}

int user_set_shell(struct user *u, const char *shell)
{
	size_t n = strlen(shell);

	if (n >= sizeof(u->shell) || shell[0] != '/')
		return -1;
	memcpy(u->shell, shell, n + 1);
	return 0;
}
