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
#include <sched.h>
#include <stdint.h>
#include <time.h>
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

/* A thread a share, started for this call (when the pool is busy, off, or cannot start). */
static void run_fresh(int T, void (*fn)(void *arg, int t, int T), void *arg) {
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

/*
 * The pool: workers 1 .. n wait for a new job generation, spinning for POOL_SPIN_NS after their
 * last job and then sleeping on a condition variable. Starting a thread a call cost ~100-200 us
 * on this 2-core VM (the thread, then waking the idle core), as much as a UNet's small
 * convolution; a worker still spinning from the last job takes the next one within a microsecond.
 * The spin is bounded so that an idle process leaves the core alone (a worker that spun without
 * end slowed the main thread's small kernels, session 9).
 */
#define POOL_SPIN_NS 200000

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static int pool_n = 0;        /* workers started */
static int pool_sleeping = 0; /* workers in pthread_cond_wait (under pool_mu) */
static unsigned pool_gen = 0; /* job generation (atomic) */
static int pool_pending = 0;  /* workers yet to finish the current generation (atomic) */
static int pool_busy = 0;     /* a par_run holds the pool (atomic) */
static void (*pool_fn)(void *, int, int);
static void *pool_arg;
static int pool_T;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void *pool_worker(void *p) {
  const int t = (int)(intptr_t)p;
  unsigned seen = 0;
  for (;;) {
    unsigned g = __atomic_load_n(&pool_gen, __ATOMIC_ACQUIRE);
    if (g == seen) {
      const int64_t t0 = now_ns();
      int spins = 0;
      while ((g = __atomic_load_n(&pool_gen, __ATOMIC_ACQUIRE)) == seen) {
        cpu_relax();
        if (++spins % 64 == 0 && now_ns() - t0 > POOL_SPIN_NS) {
          pthread_mutex_lock(&pool_mu);
          pool_sleeping++;
          while ((g = __atomic_load_n(&pool_gen, __ATOMIC_ACQUIRE)) == seen) pthread_cond_wait(&pool_cv, &pool_mu);
          pool_sleeping--;
          pthread_mutex_unlock(&pool_mu);
          break;
        }
      }
    }
    seen = g;
    if (t < pool_T) pool_fn(pool_arg, t, pool_T);
    __atomic_sub_fetch(&pool_pending, 1, __ATOMIC_ACQ_REL);
  }
  return NULL;
}

/* Workers 1 .. T-1 running (started on first need); 0 if one could not start. */
static int pool_ready(int T) {
  while (pool_n < T - 1) {
    pthread_t id;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&id, &at, pool_worker, (void *)(intptr_t)(pool_n + 1)) == 0;
    pthread_attr_destroy(&at);
    if (!ok) return 0;
    pool_n++;
  }
  return 1;
}

/* DIFFLAB_NATIVE_POOL=0: a thread a share and call, as before the pool (for comparisons). */
static int pool_disabled(void) {
  static int v = -1;
  if (v < 0) {
    const char *e = getenv("DIFFLAB_NATIVE_POOL");
    v = e && e[0] == '0';
  }
  return v;
}

void par_run(int T, void (*fn)(void *arg, int t, int T), void *arg) {
  if (T > MAX_THREADS) T = MAX_THREADS;
  if (T <= 1) {
    fn(arg, 0, 1);
    return;
  }
  /* one par_run at a time on the pool: a nested or concurrent call starts its own threads */
  if (pool_disabled() || __atomic_exchange_n(&pool_busy, 1, __ATOMIC_ACQUIRE)) {
    run_fresh(T, fn, arg);
    return;
  }
  if (!pool_ready(T)) {
    __atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
    run_fresh(T, fn, arg);
    return;
  }
  pool_fn = fn;
  pool_arg = arg;
  pool_T = T;
  __atomic_store_n(&pool_pending, pool_n, __ATOMIC_RELAXED);
  pthread_mutex_lock(&pool_mu);
  __atomic_add_fetch(&pool_gen, 1, __ATOMIC_RELEASE);
  if (pool_sleeping > 0) pthread_cond_broadcast(&pool_cv);
  pthread_mutex_unlock(&pool_mu);
  fn(arg, 0, T);
  int spins = 0;
  while (__atomic_load_n(&pool_pending, __ATOMIC_ACQUIRE) > 0) {
    if (++spins < (1 << 14)) cpu_relax();
    else sched_yield();
  }
  __atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
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
