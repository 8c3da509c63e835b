/*
 * fx.h: the answers of the functions tests/faults patches, old and new, for the
 * target's checks. fx.c (built twice: -DVERSION=1, the release, and -DVERSION=2,
 * the fix) defines fx_a(), fx_b() and fx_c(); fx_a(x) = fx_b(x) + fx_c(x) + K.
 * The fix changes all three, by amounts whose sums are all different: any mix
 * of old and new functions gives an answer that is neither the old nor the new
 * one. With -DSINGLE only fx_b changes (a patch that replaces one function).
 *
 * fx_d(x) = fx_b(x) + fx_c(x) is the same in both versions, so no patch
 * replaces it: it always calls fx_b and fx_c through their entries. The new
 * fx_a calls the new fx_b and fx_c directly, so a process whose fx_a entry is
 * redirected but one of the others is not (or the reverse) still answers
 * consistently through fx_a; through fx_d it does not. The target's reporter
 * asks fx_d only when no tool is at work (its workers do not: a thread may be
 * stopped inside fx_d between its two calls while a patch goes in).
 */
#ifndef FX_H
#define FX_H

#define FX_B_OLD(x) ((x) * 3)
#define FX_B_NEW(x) ((x) * 3 + 1000)
#define FX_C_OLD(x) ((x) ^ 0x5a)
#define FX_C_NEW(x) (((x) ^ 0x5a) + 100000)
#define FX_K_OLD 7
#define FX_K_NEW 20007

#ifdef SINGLE
#define FX_OLD(x) (FX_B_OLD(x) + FX_C_OLD(x) + FX_K_OLD)
#define FX_NEW(x) (FX_B_NEW(x) + FX_C_OLD(x) + FX_K_OLD)
#else
#define FX_OLD(x) (FX_B_OLD(x) + FX_C_OLD(x) + FX_K_OLD)
#define FX_NEW(x) (FX_B_NEW(x) + FX_C_NEW(x) + FX_K_NEW)
#endif

#define FX_D_OLD(x) (FX_B_OLD(x) + FX_C_OLD(x))
#ifdef SINGLE
#define FX_D_NEW(x) (FX_B_NEW(x) + FX_C_OLD(x))
#else
#define FX_D_NEW(x) (FX_B_NEW(x) + FX_C_NEW(x))
#endif

int fx_a(int x);
int fx_d(int x);
int fx_b(int x);
int fx_c(int x);

#endif
