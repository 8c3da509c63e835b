/* The safe side of changed-initializer: the fix counts rejected requests in a new global and
 * checks them in a new static function. New data has no live copy to disagree with: it
 * travels in the patch, initialized. */
#include <string.h>

int handle_request(const char *path)
{
	if (strstr(path, ".."))
		return 403;
	return 200;
}
