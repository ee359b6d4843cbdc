/*
 * The residual MLP of tiny-diffusion (models/src/residual-mlp.ts) in one call each way:
 *
 *   h_0 = act(x W_0 + b_0);  h_l = h_{l-1} + act(h_{l-1} W_l + b_l), l = 1 .. K;  y = h_K W_{K+1} + b_{K+1}
 *
 * and its gradient:
 *
 *   dW_{K+1} = h_K^T dy, db_{K+1} = colsum(dy), dh = dy W_{K+1}^T
 *   l = K .. 0: dz = dh * act'(z_l); dW_l = in_l^T dz; db_l = colsum(dz); dh += dz W_l^T (l > 0), dx = dz W_0^T (l = 0)
 *
 * where in_l is x for l = 0 and h_{l-1} otherwise. The same products and activations as the op by
 * op path (sgemm, vmath.c's GELU / SiLU), without ~70 kernel dispatches a training step and with
 * every operand still in cache.
 */
#include "mlp.h"
#include "vmath.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

int64_t mlp_saved_size(const MlpGeom *g) { return (g->K + 1) * 3 * g->N * g->H; }

/* z, aux and h of activated layer l in the saved buffer. */
static float *slab(const MlpGeom *g, float *saved, int64_t l, int which) { return saved + (l * 3 + which) * g->N * g->H; }

/* y [N, dout] = x [N, din] W [din, dout] + b */
static void affine(const float *x, int64_t N, int64_t din, const float *W, const float *b, int64_t dout, float *y) {
  for (int64_t r = 0; r < N; r++) memcpy(y + r * dout, b, (size_t)dout * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)dout, (int)din, 1.0f, x, (int)din, W, (int)dout, 1.0f, y, (int)dout);
}

static void activate(int act, const float *z, float *aux, float *h, int64_t n) {
  if (act == MLP_GELU) vm_gelu(z, h, aux, n);
  else if (act == MLP_SILU) vm_silu(z, h, n);
  else
    for (int64_t i = 0; i < n; i++) h[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

/* dz = dh * act'(z) */
static void activate_grad(int act, const float *dh, const float *z, const float *aux, float *dz, int64_t n) {
  if (act == MLP_GELU) vm_gelu_grad(dh, z, aux, dz, n);
  else if (act == MLP_SILU) vm_silu_grad(dh, z, dz, n);
  else
    for (int64_t i = 0; i < n; i++) dz[i] = z[i] > 0.0f ? dh[i] : 0.0f;
}

void mlp_forward(const MlpGeom *g, const float *x, const float *const *W, const float *const *b, float *y, float *saved) {
  const int64_t N = g->N, H = g->H, n = N * H;
  for (int64_t l = 0; l <= g->K; l++) {
    float *z = slab(g, saved, l, 0), *aux = slab(g, saved, l, 1), *h = slab(g, saved, l, 2);
    const float *in = l == 0 ? x : slab(g, saved, l - 1, 2);
    affine(in, N, l == 0 ? g->D0 : H, W[l], b[l], H, z);
    activate(g->act, z, aux, h, n);
    if (l > 0)
      for (int64_t i = 0; i < n; i++) h[i] += in[i];
  }
  affine(slab(g, saved, g->K, 2), N, H, W[g->K + 1], b[g->K + 1], g->Dout, y);
}

int mlp_backward(const MlpGeom *g, const float *dy, const float *x, const float *saved, const float *const *W, float *const *dW, float *const *db, float *dx) {
  const int64_t N = g->N, H = g->H, K = g->K, n = N * H;
  float *dh = (float *)malloc((size_t)(2 * n) * sizeof(float));
  if (!dh) return -1;
  float *dz = dh + n;
  float *sv = (float *)saved;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)g->Dout, (int)N, 1.0f, slab(g, sv, K, 2), (int)H, dy, (int)g->Dout, 0.0f, dW[K + 1], (int)g->Dout);
  vm_colsum(dy, 1, N, g->Dout, db[K + 1]);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)H, (int)g->Dout, 1.0f, dy, (int)g->Dout, W[K + 1], (int)g->Dout, 0.0f, dh, (int)H);
  for (int64_t l = K; l >= 0; l--) {
    activate_grad(g->act, dh, slab(g, sv, l, 0), slab(g, sv, l, 1), dz, n);
    const float *in = l == 0 ? x : slab(g, sv, l - 1, 2);
    const int64_t din = l == 0 ? g->D0 : H;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)din, (int)H, (int)N, 1.0f, in, (int)din, dz, (int)H, 0.0f, dW[l], (int)H);
    vm_colsum(dz, 1, N, H, db[l]);
    if (l > 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)H, (int)H, 1.0f, dz, (int)H, W[l], (int)H, 1.0f, dh, (int)H);
    else if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)g->D0, (int)H, 1.0f, dz, (int)H, W[0], (int)H, 0.0f, dx, (int)g->D0);
  }
  free(dh);
  return 0;
}
