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
#include "parallel.h"
#include "vmath.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

int64_t mlp_saved_size(const MlpGeom *g) { return (g->K + 1) * 3 * g->N * g->H; }

/* z, aux or h (which = 0, 1, 2) of activated layer l in the saved buffer, from row r0 on. */
static float *slab(const MlpGeom *g, const float *saved, int64_t l, int which, int64_t r0) { return (float *)saved + (l * 3 + which) * g->N * g->H + r0 * g->H; }

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

/*
 * Rows are independent in the forward pass and in dh, dz, dx; the parameter gradients are sums
 * over rows. So large batches split their rows over the addon's threads (parallel.c): each share
 * runs the whole pass on its rows, and the parameter gradients of shares 1.. are added to share
 * 0's in share order (the same result for the same thread count). A share is worth a thread from
 * ~10M multiply-adds (~60 us) now that the threads are a pool (a worker still spinning from the
 * last job starts within a microsecond): the spiral's training step at batch 256 (25M + 50M
 * multiply-adds) went from ~2.1 to ~1.9 ms, at batch 1024 from ~5.5 to ~4.1 ms. (With a new
 * thread a call, from 64M: starting one and waking the other core cost 0.1-0.3 ms.)
 */
#define MIN_ROWS_MACS 1e7

static int shares_for(const MlpGeom *g, int64_t macs_per_row) {
  int T = par_threads();
  const double total = (double)g->N * (double)macs_per_row;
  if ((double)T * MIN_ROWS_MACS > total) T = (int)(total / MIN_ROWS_MACS);
  if (T > g->N / 8) T = (int)(g->N / 8);
  return T < 1 ? 1 : T > PAR_MAX_THREADS ? PAR_MAX_THREADS : T;
}

static int64_t macs_per_row(const MlpGeom *g) { return g->D0 * g->H + g->K * g->H * g->H + g->H * g->Dout; }

typedef struct {
  const MlpGeom *g;
  const float *x;
  const float *const *W;
  const float *const *b;
  float *y;
  float *saved;
} Fwd;

static void forward_rows(const Fwd *f, int64_t r0, int64_t r1) {
  const MlpGeom *g = f->g;
  const int64_t rows = r1 - r0, H = g->H, n = rows * H;
  if (rows <= 0) return;
  for (int64_t l = 0; l <= g->K; l++) {
    float *z = slab(g, f->saved, l, 0, r0), *aux = slab(g, f->saved, l, 1, r0), *h = slab(g, f->saved, l, 2, r0);
    const float *in = l == 0 ? f->x + r0 * g->D0 : slab(g, f->saved, l - 1, 2, r0);
    affine(in, rows, l == 0 ? g->D0 : H, f->W[l], f->b[l], H, z);
    activate(g->act, z, aux, h, n);
    if (l > 0)
      for (int64_t i = 0; i < n; i++) h[i] += in[i];
  }
  affine(slab(g, f->saved, g->K, 2, r0), rows, H, f->W[g->K + 1], f->b[g->K + 1], g->Dout, f->y + r0 * g->Dout);
}

static void forward_share(void *arg, int t, int T) {
  const Fwd *f = (const Fwd *)arg;
  forward_rows(f, f->g->N * t / T, f->g->N * (t + 1) / T);
}

void mlp_forward(const MlpGeom *g, const float *x, const float *const *W, const float *const *b, float *y, float *saved) {
  Fwd f = {g, x, W, b, y, saved};
  const int T = shares_for(g, macs_per_row(g));
  if (T == 1) forward_rows(&f, 0, g->N);
  else par_run(T, forward_share, &f);
}

typedef struct {
  const MlpGeom *g;
  const float *dy, *x, *saved;
  const float *const *W;
  float *const *dW;
  float *const *db;
  float *dx;
  float *scratch; /* per share: dh, dz (rows x H each), then for shares > 0 their dW, db */
  int64_t params; /* floats of all dW and db */
  int T;
} Bwd;

/* Share t's parameter-gradient buffers: the outputs for share 0, its scratch for the others. */
static void share_grads(const Bwd *k, int t, float **dW, float **db, float *buf) {
  const MlpGeom *g = k->g;
  for (int64_t l = 0; l <= g->K + 1; l++) {
    const int64_t din = l == 0 ? g->D0 : g->H, dout = l == g->K + 1 ? g->Dout : g->H;
    if (t == 0) {
      dW[l] = k->dW[l];
      db[l] = k->db[l];
    } else {
      dW[l] = buf;
      buf += din * dout;
      db[l] = buf;
      buf += dout;
    }
  }
}

static void backward_rows(const Bwd *k, int t, int64_t r0, int64_t r1) {
  const MlpGeom *g = k->g;
  const int64_t rows = r1 - r0, H = g->H, K = g->K, n = rows * H, N = g->N;
  float *dh = k->scratch + (int64_t)t * (2 * (N / k->T + 1) * H + k->params), *dz = dh + (N / k->T + 1) * H;
  float *dW[K + 2], *db[K + 2];
  share_grads(k, t, dW, db, dz + (N / k->T + 1) * H);
  const float *dy = k->dy + r0 * g->Dout;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)g->Dout, (int)rows, 1.0f, slab(g, k->saved, K, 2, r0), (int)H, dy, (int)g->Dout, 0.0f, dW[K + 1], (int)g->Dout);
  vm_colsum(dy, 1, rows, g->Dout, db[K + 1]);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)H, (int)g->Dout, 1.0f, dy, (int)g->Dout, k->W[K + 1], (int)g->Dout, 0.0f, dh, (int)H);
  for (int64_t l = K; l >= 0; l--) {
    activate_grad(g->act, dh, slab(g, k->saved, l, 0, r0), slab(g, k->saved, l, 1, r0), dz, n);
    const float *in = l == 0 ? k->x + r0 * g->D0 : slab(g, k->saved, l - 1, 2, r0);
    const int64_t din = l == 0 ? g->D0 : H;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)din, (int)H, (int)rows, 1.0f, in, (int)din, dz, (int)H, 0.0f, dW[l], (int)H);
    vm_colsum(dz, 1, rows, H, db[l]);
    if (l > 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)H, (int)H, 1.0f, dz, (int)H, k->W[l], (int)H, 1.0f, dh, (int)H);
    else if (k->dx)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)g->D0, (int)H, 1.0f, dz, (int)H, k->W[0], (int)H, 0.0f, k->dx + r0 * g->D0, (int)g->D0);
  }
}

static void backward_share(void *arg, int t, int T) {
  const Bwd *k = (const Bwd *)arg;
  backward_rows(k, t, k->g->N * t / T, k->g->N * (t + 1) / T);
}

int mlp_backward(const MlpGeom *g, const float *dy, const float *x, const float *saved, const float *const *W, float *const *dW, float *const *db, float *dx) {
  int64_t params = 0;
  for (int64_t l = 0; l <= g->K + 1; l++) params += ((l == 0 ? g->D0 : g->H) + 1) * (l == g->K + 1 ? g->Dout : g->H);
  /* backward has twice the forward's products */
  const int T = shares_for(g, 2 * macs_per_row(g));
  const int64_t per = 2 * (g->N / T + 1) * g->H + params;
  float *scratch = (float *)malloc((size_t)(T * per) * sizeof(float));
  if (!scratch) return -1;
  Bwd k = {g, dy, x, saved, W, dW, db, dx, scratch, params, T};
  if (T == 1) backward_rows(&k, 0, 0, g->N);
  else par_run(T, backward_share, &k);
  /* shares 1.. : add their dW, db (laid out as share_grads does) to the outputs, in order */
  for (int t = 1; t < T; t++) {
    const float *p = scratch + (int64_t)t * per + 2 * (g->N / T + 1) * g->H;
    for (int64_t l = 0; l <= g->K + 1; l++) {
      const int64_t din = l == 0 ? g->D0 : g->H, dout = l == g->K + 1 ? g->Dout : g->H;
      for (int64_t i = 0; i < din * dout; i++) dW[l][i] += p[i];
      p += din * dout;
      for (int64_t i = 0; i < dout; i++) db[l][i] += p[i];
      p += dout;
    }
  }
  free(scratch);
  return 0;
}
