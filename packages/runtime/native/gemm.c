/*
 * Batched single-precision matrix products on OpenBLAS (one thread inside OpenBLAS, see
 * parallel.c). Products of at least PAR_MIN multiply-adds are split over the addon's threads: by
 * batch entries when there are enough, otherwise by rows of C (rows r0..r1 of op(A) start at
 * A + r0 k, or at column r0 of A when A is transposed, with the same leading dimension).
 */
#include "gemm.h"
#include "parallel.h"
#include <cblas.h>
#include <string.h>

/* ~32M multiply-adds: below, a thread's start (~20-50 us) is a visible share of the product. */
#define PAR_MIN 3.2e7

typedef struct {
  int flags;
  int64_t batch, m, n, k, aStride, bStride, biasStride;
  const float *A, *B, *bias;
  float *C;
} Gemm;

/* Batch entries [i0, i1), rows [r0, r1) of each. */
static void part(const Gemm *g, int64_t i0, int64_t i1, int64_t r0, int64_t r1) {
  const int ta = g->flags & 1, tb = (g->flags >> 1) & 1, relu = (g->flags >> 2) & 1;
  const int64_t m = g->m, n = g->n, k = g->k, rows = r1 - r0;
  if (rows <= 0) return;
  for (int64_t i = i0; i < i1; i++) {
    const float *A = g->A + i * g->aStride + (ta ? r0 : r0 * k);
    const float *B = g->B + i * g->bStride;
    float *C = g->C + i * m * n + r0 * n;
    float beta = 0.0f;
    if (g->bias) {
      const float *bias = g->bias + i * g->biasStride;
      for (int64_t r = 0; r < rows; r++) memcpy(C + r * n, bias, (size_t)n * sizeof(float));
      beta = 1.0f;
    }
    if (k == 0) {
      if (beta == 0.0f) memset(C, 0, (size_t)(rows * n) * sizeof(float));
    } else {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)rows, (int)n, (int)k, 1.0f, A, ta ? (int)m : (int)k, B,
                  tb ? (int)k : (int)n, beta, C, (int)n);
    }
    if (relu) {
      for (int64_t j = 0; j < rows * n; j++) C[j] = C[j] > 0.0f ? C[j] : 0.0f;
    }
  }
}

static void part_main(void *arg, int t, int T) {
  const Gemm *g = (const Gemm *)arg;
  if (g->batch >= T) part(g, g->batch * t / T, g->batch * (t + 1) / T, 0, g->m);
  else part(g, 0, g->batch, g->m * t / T, g->m * (t + 1) / T);
}

void gemm_run(int flags, int64_t batch, int64_t m, int64_t n, int64_t k, const float *A, int64_t aStride, const float *B, int64_t bStride, float *C,
              const float *bias, int64_t biasStride) {
  Gemm g = {flags, batch, m, n, k, aStride, bStride, biasStride, A, B, bias, C};
  const double macs = (double)batch * (double)m * (double)n * (double)k;
  int T = par_threads();
  if (macs < PAR_MIN || (batch < T && m < 64 * T)) T = 1;
  if (T == 1) part(&g, 0, batch, 0, m);
  else par_run(T, part_main, &g);
}
