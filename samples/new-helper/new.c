/* "host:port" parsing for a daemon's listen option. */
#include <stdlib.h>
#include <string.h>

struct endpoint {
	char host[64];
	int port;
};

/* Parse a decimal port in 1..65535; atoi() accepted "", "-1" and "99999". */
static __attribute__((noinline)) int parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

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
	ep->port = parse_port(colon + 1);
	return ep->port < 0 ? -1 : 0;
}

int endpoint_is_local(const struct endpoint *ep)
{
	return strcmp(ep->host, "localhost") == 0 || strcmp(ep->host, "127.0.0.1") == 0;
}

int endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}
