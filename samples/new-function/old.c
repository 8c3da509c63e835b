/* User records of an account service. */
#include <stddef.h>
#include <string.h>

struct user {
	unsigned id;
	char name[32];
	char shell[64];
};

/* Kept for an old plugin API that nothing calls any more. */
void user_copy_name(char *dst, const char *src)
{
	strcpy(dst, src);
}

int user_set_name(struct user *u, const char *name)
{
	if (name[0] == '\0')
		return -1;
	memcpy(u->name, name, strlen(name) + 1);
	return 0;
}

int user_set_shell(struct user *u, const char *shell)
{
	size_t n = strlen(shell);

	if (n >= sizeof(u->shell) || shell[0] != '/')
		return -1;
	memcpy(u->shell, shell, n + 1);
	return 0;
}
