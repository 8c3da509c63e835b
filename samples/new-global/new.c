/* The safe side of changed-initializer: the fix counts rejected requests in a new global and
 * checks them in a new static function. New data has no live copy to disagree with: it
 * travels in the patch, initialized. */
#include <string.h>

unsigned long rejected_requests;
static int reject_limit = 100;

static __attribute__((noinline)) int reject(void)
{
	return ++rejected_requests > (unsigned long)reject_limit ? 429 : 403;
}

int handle_request(const char *path)
{
	if (strstr(path, "..") || strchr(path, '\\'))
		return reject();
	return 200;
}
