/*
 * server.c: a small multi-threaded lookup server, the demo's target.
 *
 * Clients connect over TCP and send "GET N\n"; a worker thread answers with
 * entry N of a public table. Four workers share one listening socket. The port
 * is chosen by the kernel and printed on start ("listening on 127.0.0.1:PORT").
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *lookup(const char *request);

static int listener;

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listener, NULL, NULL);
		if (c < 0)
			continue;
		char req[128];
		ssize_t n = read(c, req, sizeof req - 1);
		if (n > 0) {
			req[n] = 0;
			const char *reply = lookup(req);
			if (write(c, reply, strlen(reply)) < 0 || write(c, "\n", 1) < 0)
				perror("write");
		}
		close(c);
	}
	return NULL;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(listener, 64) < 0 || getsockname(listener, (struct sockaddr *)&a, &len) < 0) {
		perror("server");
		return 1;
	}
	printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
	fflush(stdout);
	pthread_t t;
	for (int i = 0; i < 4; i++)
		pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	return 0;
}
