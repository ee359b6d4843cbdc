/* difflab-blas's threads (parallel.c). */
#ifndef DIFFLAB_PARALLEL_H
#define DIFFLAB_PARALLEL_H
#include <stdint.h>
/* The most threads par_run starts. */
#define PAR_MAX_THREADS 16
/* Calls fn(arg, t, T) for t = 0 .. T-1, t > 0 on the pool's workers (or new threads when the pool is
 * busy or off: DIFFLAB_NATIVE_POOL=0), t = 0 on the caller's; returns when all have. */
void par_run(int T, void (*fn)(void *arg, int t, int T), void *arg);
/* The threads the addon's kernels use (1 .. 16). */
int par_threads(void);
void par_set_threads(int n);
/*
 * Splits [0, n) into contiguous ranges (multiples of `align`, the last one shorter) of at least
 * min_chunk, one per thread up to par_threads(), and calls fn(arg, i0, i1) for each, in parallel;
 * one call on the caller's thread when n is too small to split.
 */
void par_range(int64_t n, int64_t min_chunk, int64_t align, void (*fn)(void *arg, int64_t i0, int64_t i1), void *arg);
#endif
