/* main.c: reads client ids, one per line, and counts them. */
#include <stdio.h>
#include <stdlib.h>

int counter_hit(int id);
unsigned long counter_get(int id);

int main(void)
{
	char line[64];
	while (fgets(line, sizeof line, stdin))
		if (counter_hit(atoi(line)) < 0)
			fprintf(stderr, "bad client id\n");
	printf("client 0: %lu requests\n", counter_get(0));
	return 0;
}
