/* A server's connection limit. The "fix" raises the default from 16 to 64; a running process
 * keeps the 16 it was started with, so a patch would change nothing and claim otherwise. */
int max_clients = 64;
static int clients;

int accept_client(void)
{
	if (clients >= max_clients)
		return -1;
	return clients++;
}

void release_client(void)
{
	if (clients > 0)
		clients--;
}
