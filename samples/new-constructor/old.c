/* A lookup table of hex digit values. The fix builds the table in a new constructor instead
 * of lazily on first use (which raced between threads): a running process ran its
 * constructors long ago and will never run the new one, so the table would stay empty. */
static signed char hexval[256];
static int ready;

static void fill(void)
{
	for (int i = 0; i < 256; i++)
		hexval[i] = -1;
	for (int i = 0; i < 10; i++)
		hexval['0' + i] = (signed char)i;
	for (int i = 0; i < 6; i++)
		hexval['a' + i] = hexval['A' + i] = (signed char)(10 + i);
}

int hex_digit(unsigned char c)
{
	if (!ready) {
		fill();
		ready = 1;
	}
	return hexval[c];
}
