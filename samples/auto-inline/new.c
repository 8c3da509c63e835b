/* Audio mixing: samples are summed in 32 bits and clamped back to 16. */
#include <stddef.h>
#include <stdint.h>

static int16_t clamp16(int32_t v)
{
	if (v > INT16_MAX)
		return INT16_MAX;
	if (v < INT16_MIN)
		return INT16_MIN;
	return (int16_t)v;
}

void mix_add(int16_t *dst, const int16_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = clamp16((int32_t)dst[i] + src[i]);
}

void mix_gain(int16_t *buf, size_t n, int32_t gain_q8)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = clamp16((buf[i] * gain_q8) >> 8);
}

int32_t mix_peak(const int16_t *buf, size_t n)
{
	int32_t peak = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] > peak || -buf[i] > peak)
			peak = buf[i] < 0 ? -buf[i] : buf[i];
	return peak;
}
