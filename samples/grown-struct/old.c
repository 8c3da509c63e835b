/* Login sessions. The fix locks an account after three failed attempts, and keeps the count
 * in a new member at the end of struct session: every live session is 4 bytes too short. */
#include <string.h>

struct session {
	int id;
	char user[16];
	int authenticated;
};

int session_login(struct session *s, const char *user, const char *password)
{
	if (strcmp(password, "secret") != 0)
		return -1;
	strncpy(s->user, user, sizeof s->user - 1);
	s->user[sizeof s->user - 1] = '\0';
	s->authenticated = 1;
	return 0;
}

int session_is_admin(const struct session *s)
{
	return s->authenticated && strcmp(s->user, "root") == 0;
}
