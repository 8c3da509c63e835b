/* counter.c: a per-client request counter, part of a small server. */
#include <stddef.h>

#define MAX_CLIENTS 64

static unsigned long requests[MAX_CLIENTS];

/* Count one request from client id; ids come straight from the network. */
int counter_hit(int id)
{
	if (id < 0 || id >= MAX_CLIENTS)
		return -1;
	requests[id]++;
	return 0;
}

unsigned long counter_get(int id)
{
	return id >= 0 && id < MAX_CLIENTS ? requests[id] : 0;
}
