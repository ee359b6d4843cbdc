/*
 * Multi-head scaled dot-product attention (Vaswani et al. 2017) on the output of a fused qkv
 * projection, heads read and written in place (leading dimensions 3W and W), so no head split or
 * merge transposes. Per (sample b, head h), with s = 1 / sqrt(d):
 *
 *   P = softmax(s Q K^T) (rows),  O = P V
 *   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = s dS K,  dK = s dS^T Q
 *
 * Products are OpenBLAS sgemm calls with strided operands; the (b, h) pairs split over the addon's
 * threads (parallel.c) when there is enough work.
 */
#include "attention.h"
#include "parallel.h"
#include "vmath.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

typedef struct {
  const float *qkv, *dout, *weights;
  float *out, *w_out, *dqkv, *scratch;
  int64_t B, N, heads, d;
  int failed;
} Attn;

static void forward_pairs(void *arg, int64_t p0, int64_t p1) {
  const Attn *a = (const Attn *)arg;
  const int64_t N = a->N, d = a->d, W = a->heads * d;
  const float s = (float)(1.0 / sqrt((double)d));
  for (int64_t p = p0; p < p1; p++) {
    const int64_t b = p / a->heads, h = p % a->heads;
    const float *Q = a->qkv + b * N * 3 * W + h * d, *K = Q + W, *V = Q + 2 * W;
    float *P = a->w_out + p * N * N;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)d, s, Q, (int)(3 * W), K, (int)(3 * W), 0.0f, P, (int)N);
    vm_softmax_rows(P, N, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)d, (int)N, 1.0f, P, (int)N, V, (int)(3 * W), 0.0f, a->out + b * N * W + h * d, (int)W);
  }
}

/* (b, h) pairs a thread takes at least: ~1M multiply-adds of products. */
static int64_t min_pairs(int64_t N, int64_t d) { return (int64_t)(1.0e6 / (double)(2 * N * N * d)) + 1; }

void attn_forward(const float *qkv, int64_t B, int64_t N, int64_t heads, int64_t d, float *out, float *weights) {
  Attn a = {qkv, NULL, NULL, out, weights, NULL, NULL, B, N, heads, d, 0};
  par_range(B * heads, min_pairs(N, d), 1, forward_pairs, &a);
}

static void backward_pairs(void *arg, int64_t p0, int64_t p1) {
  Attn *a = (Attn *)arg;
  const int64_t N = a->N, d = a->d, W = a->heads * d;
  const float s = (float)(1.0 / sqrt((double)d));
  float *dP = (float *)malloc((size_t)(N * N) * sizeof(float));
  if (!dP) {
    a->failed = 1;
    return;
  }
  for (int64_t p = p0; p < p1; p++) {
    const int64_t b = p / a->heads, h = p % a->heads;
    const float *Q = a->qkv + b * N * 3 * W + h * d, *K = Q + W, *V = Q + 2 * W;
    const float *P = a->weights + p * N * N, *dO = a->dout + b * N * W + h * d;
    float *dQ = a->dqkv + b * N * 3 * W + h * d, *dK = dQ + W, *dV = dQ + 2 * W;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)d, (int)N, 1.0f, P, (int)N, dO, (int)W, 0.0f, dV, (int)(3 * W));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)d, 1.0f, dO, (int)W, V, (int)(3 * W), 0.0f, dP, (int)N);
    for (int64_t i = 0; i < N; i++) {
      const float *pr = P + i * N;
      float *gr = dP + i * N;
      float dot = 0.0f;
      for (int64_t j = 0; j < N; j++) dot += gr[j] * pr[j];
      for (int64_t j = 0; j < N; j++) gr[j] = pr[j] * (gr[j] - dot);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)d, (int)N, s, dP, (int)N, K, (int)(3 * W), 0.0f, dQ, (int)(3 * W));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)d, (int)N, s, dP, (int)N, Q, (int)(3 * W), 0.0f, dK, (int)(3 * W));
  }
  free(dP);
}

int attn_backward(const float *dout, const float *qkv, const float *weights, int64_t B, int64_t N, int64_t heads, int64_t d, float *dqkv) {
  Attn a = {qkv, dout, weights, NULL, NULL, dqkv, NULL, B, N, heads, d, 0};
  par_range(B * heads, min_pairs(N, d) / 2 + 1, 1, backward_pairs, &a);
  return a.failed ? -1 : 0;
}
