/* check(), fixed: no trace; it calls libc (an import through the executable's
 * GOT, getenv, and one the executable does not import, atoi). */
#include <stdio.h>
#include <stdlib.h>

int check(int x)
{
	const char *bonus = getenv("CHECK_BONUS");
	return x + 100 + (bonus ? atoi(bonus) : 0);
}
