/* "host:port" parsing for a daemon's listen option. */
#include <stdlib.h>
#include <string.h>

struct endpoint {
	char host[64];
	int port;
};

int endpoint_parse(struct endpoint *ep, const char *spec)
{
	const char *colon = strrchr(spec, ':');
	size_t hlen;

	if (colon == NULL)
		return -1;
	hlen = (size_t)(colon - spec);
	if (hlen >= sizeof(ep->host))
		return -1;
	memcpy(ep->host, spec, hlen);
	ep->host[hlen] = '\0';
	ep->port = atoi(colon + 1);
	return 0;
}

int endpoint_is_local(const struct endpoint *ep)
{
	return strcmp(ep->host, "localhost") == 0 || strcmp(ep->host, "127.0.0.1") == 0;
}

int endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}
