/*
 * fx.c: the unit the fault tests patch (see fx.h). VERSION 1 is the release,
 * VERSION 2 the fix; with SINGLE the fix changes fx_b alone. fx_b and fx_c are
 * kept out of line (noipa: no inlining, no cloning, no knowledge of which
 * registers they leave alone) so that fx_a really calls them: a patch then has to replace
 * all three at once, and a process left with a mix of old and new computes an
 * answer the target recognises as neither.
 */
#include "fx.h"

#ifndef VERSION
#define VERSION 1
#endif

#if VERSION == 1 || defined SINGLE
#define C(x) FX_C_OLD(x)
#define K FX_K_OLD
#else
#define C(x) FX_C_NEW(x)
#define K FX_K_NEW
#endif
#if VERSION == 1
#define B(x) FX_B_OLD(x)
#else
#define B(x) FX_B_NEW(x)
#endif

/* Always 0; read, so that no function is shorter than the 5-byte jump. */
volatile int fx_zero;

__attribute__((noipa)) int fx_b(int x)
{
	return B(x) + fx_zero;
}

__attribute__((noipa)) int fx_c(int x)
{
	return C(x) + fx_zero;
}

__attribute__((noipa)) int fx_a(int x)
{
	int b = fx_b(x);
	return b + fx_c(x) + K;
}

/* The same in both versions (see fx.h): never part of the patch. */
__attribute__((noipa)) int fx_d(int x)
{
	return fx_b(x) + fx_c(x);
}
