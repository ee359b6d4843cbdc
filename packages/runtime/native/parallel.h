/* difflab-blas's threads (parallel.c). */
#ifndef DIFFLAB_PARALLEL_H
#define DIFFLAB_PARALLEL_H
/* The most threads par_run starts. */
#define PAR_MAX_THREADS 16
/* Calls fn(arg, t, T) for t = 0 .. T-1, t > 0 on new threads, t = 0 on the caller's; returns when all have. */
void par_run(int T, void (*fn)(void *arg, int t, int T), void *arg);
/* The threads the addon's kernels use (1 .. 16). */
int par_threads(void);
void par_set_threads(int n);
#endif
