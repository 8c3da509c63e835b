/* The safe side of changed-signature: a static helper gains a parameter, and its only caller
 * changes with it. No unchanged code calls the helper the old way, so both are patched. */
#include <stddef.h>
#include <string.h>

static __attribute__((noinline)) int copy_name(char *dst, const char *src)
{
	strcpy(dst, src);
	return (int)strlen(dst);
}

int set_name(char *dst, size_t cap, const char *src)
{
	(void)cap;
	return copy_name(dst, src);
}
