/* A latency histogram. Values past the last bucket indexed out of bounds; the fix grows the
 * array to cover them, but the running process has only the 8 buckets it started with. */
static unsigned long buckets[16];

void record_latency(unsigned ms)
{
	unsigned b = 0;
	while (ms > 1 && b < 15) {
		ms >>= 1;
		b++;
	}
	buckets[b]++;
}

unsigned long bucket_count(unsigned b)
{
	return b < 16 ? buckets[b] : 0;
}
