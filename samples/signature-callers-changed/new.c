/* The safe side of changed-signature: a static helper gains a parameter, and its only caller
 * changes with it. No unchanged code calls the helper the old way, so both are patched. */
#include <stddef.h>
#include <string.h>

static __attribute__((noinline)) int copy_name(char *dst, const char *src, size_t cap)
{
	if (strlen(src) >= cap)
		return -1;
	strcpy(dst, src);
	return (int)strlen(dst);
}

int set_name(char *dst, size_t cap, const char *src)
{
	return copy_name(dst, src, cap);
}
