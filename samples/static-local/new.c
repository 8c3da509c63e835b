/* Session bookkeeping for a small server: ids, and rate-limited log lines. */
#include <stdio.h>

#define LOG_LIMIT 100

struct session {
	int id;
	int fd;
};

void session_open(struct session *s, int fd)
{
	static int next_id = 1;

	s->id = next_id++;
	s->fd = fd;
}

/* Log an error, at most LOG_LIMIT times over the life of the process. */
int session_log_error(const struct session *s, const char *msg)
{
	static int count;

	if (count >= LOG_LIMIT)
		return 0;
	count++;
	fprintf(stderr, "session %d: error: %s\n", s->id, msg);
	return 1;
}

int session_log_warning(const struct session *s, const char *msg)
{
	static int count;

	if (count >= LOG_LIMIT)
		return 0;
	count++;
	fprintf(stderr, "session %d: warning: %s\n", s->id, msg);
	return 1;
}

int session_close(struct session *s)
{
	static int closed;
	static int closed_twice;

	if (s->fd < 0)
		closed_twice++;
	closed++;
	s->fd = -1;
	return closed;
}
