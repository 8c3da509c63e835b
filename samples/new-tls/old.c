/* A recursive-descent parser that overflowed the stack on deeply nested input. The fix
 * counts the depth in a new thread-local variable: the threads of a running process cannot
 * grow their TLS blocks, so the patch is refused. */
static int parse_value(const char **p);

static int parse_list(const char **p)
{
	int n = 0;
	(*p)++; /* '[' */
	while (**p && **p != ']') {
		if (parse_value(p) < 0)
			return -1;
		n++;
		if (**p == ',')
			(*p)++;
	}
	if (**p != ']')
		return -1;
	(*p)++;
	return n;
}

static int parse_value(const char **p)
{
	if (**p == '[')
		return parse_list(p);
	if (**p >= '0' && **p <= '9') {
		while (**p >= '0' && **p <= '9')
			(*p)++;
		return 0;
	}
	return -1;
}

int parse(const char *s)
{
	return parse_value(&s);
}
