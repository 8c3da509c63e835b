/* The connection table of an event loop, and the per-event handlers that use it. */
#include <stddef.h>
#include <stdio.h>

#define MAX_CONN 64

struct conn {
	int fd;
	unsigned long bytes;
};

unsigned long conn_rejected;
struct conn conn_table[MAX_CONN];
int conn_count;
static int trace = 1;
const char conn_trace_fmt[] = "conn %d: %s\n";

int conn_add(int fd)
{
	if (conn_count >= MAX_CONN) {
		if (conn_rejected++ == 0)
			fprintf(stderr, "conn: table full (%d), refusing fd %d\n", MAX_CONN, fd);
		return -1;
	}
	conn_table[conn_count].fd = fd;
	conn_table[conn_count].bytes = 0;
	return conn_count++;
}

struct conn *conn_find(int fd)
{
	int i;

	for (i = 0; i < conn_count; i++)
		if (conn_table[i].fd == fd)
			return &conn_table[i];
	return NULL;
}

int on_read(int fd, size_t n)
{
	struct conn *c = conn_find(fd);

	if (c == NULL)
		return -1;
	c->bytes += n;
	if (trace)
		printf(conn_trace_fmt, fd, "read");
	return 0;
}

int on_close(int fd, size_t n)
{
	struct conn *c = conn_find(fd);

	(void)n;
	if (c == NULL)
		return -1;
	*c = conn_table[--conn_count];
	if (trace)
		printf(conn_trace_fmt, fd, "closed");
	return 0;
}

int (*const conn_handlers[])(int, size_t) = {on_read, on_close};

int conn_dispatch(int event, int fd, size_t n)
{
	if (event < 0 || event > 1)
		return -1;
	return conn_handlers[event](fd, n);
}
