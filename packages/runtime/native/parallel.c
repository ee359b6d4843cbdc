/*
 * Threads for difflab-blas. OpenBLAS is kept at one thread (set at load): its own thread pool
 * costs more than it gives on the products these models make (a 256x128x128 product: 46 us on
 * one thread, 50 on two, and switching its thread count per call cost more still). Large products
 * and convolutions instead split their rows or images over par_run's threads, each running
 * single-threaded sgemm on its share.
 */
#include "parallel.h"
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS PAR_MAX_THREADS
static int threads = 0;

int par_threads(void) {
  if (threads == 0) {
    /* DIFFLAB_NATIVE_THREADS overrides the number of online CPUs */
    const char *e = getenv("DIFFLAB_NATIVE_THREADS");
    long n = e && atol(e) > 0 ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
    threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
  }
  return threads;
}

void par_set_threads(int n) { threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n; }

typedef struct {
  void (*fn)(void *, int, int);
  void *arg;
  int t, T;
} Task;

static void *task_main(void *p) {
  Task *k = (Task *)p;
  k->fn(k->arg, k->t, k->T);
  return NULL;
}

void par_run(int T, void (*fn)(void *arg, int t, int T), void *arg) {
  if (T > MAX_THREADS) T = MAX_THREADS;
  if (T < 1) T = 1;
  Task tasks[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 1; t < T; t++) {
    tasks[t] = (Task){fn, arg, t, T};
    started[t] = pthread_create(&ids[t], NULL, task_main, &tasks[t]) == 0;
  }
  fn(arg, 0, T);
  /* a share whose thread could not start runs here */
  for (int t = 1; t < T; t++)
    if (!started[t]) fn(arg, t, T);
  for (int t = 1; t < T; t++)
    if (started[t]) pthread_join(ids[t], NULL);
}

typedef struct {
  void (*fn)(void *, int64_t, int64_t);
  void *arg;
  int64_t n, align;
} Range;

static void range_share(void *p, int t, int T) {
  const Range *r = (const Range *)p;
  const int64_t units = (r->n + r->align - 1) / r->align;
  int64_t i0 = units * t / T * r->align, i1 = units * (t + 1) / T * r->align;
  if (i1 > r->n) i1 = r->n;
  if (i0 < i1) r->fn(r->arg, i0, i1);
}

void par_range(int64_t n, int64_t min_chunk, int64_t align, void (*fn)(void *arg, int64_t i0, int64_t i1), void *arg) {
  if (n <= 0) return;
  if (align < 1) align = 1;
  int64_t T = par_threads();
  if (min_chunk > 0 && n / min_chunk < T) T = n / min_chunk;
  if (T > (n + align - 1) / align) T = (n + align - 1) / align;
  if (T <= 1) {
    fn(arg, 0, n);
    return;
  }
  Range r = {fn, arg, n, align};
  par_run((int)T, range_share, &r);
}
