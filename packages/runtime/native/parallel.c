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
