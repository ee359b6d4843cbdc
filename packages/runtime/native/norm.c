/*
 * Group normalisation (Wu & He 2018; torch nn.GroupNorm) on NHWC activations seen as
 * x [B, M = H W, C], channels in G groups of Cg = C / G, n = M Cg values per (sample, group):
 *
 *   mean, var (biased) over the group's n values; rstd = 1 / sqrt(var + eps)
 *   y = (x - mean) rstd gamma_c + beta_c
 *   backward, xhat = (x - mean) rstd, g = dy gamma_c:
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),  dgamma_c = sum dy xhat,  dbeta_c = sum dy
 *
 * With SiLU fused (DifflabGroupNormSilu): y = silu(group norm), and the gradient recomputes the
 * normalised u per sample (in cache) and runs the backward pass above on du = dy silu'(u), so
 * neither u nor du is written to memory.
 *
 * The same contract as difflab's WGSL kernels (DifflabGroupNorm / DifflabGroupNormGrad in
 * @difflab/core). Layer normalisation (the non-affine part, DifflabLayerNorm / DifflabLayerNormGrad)
 * is the same over each row of C values: xhat = (x - mean) rstd, and
 * dx = rstd (dy - mean(dy) - xhat mean(dy xhat)). Sums over M are per channel in double (loops over a row of C channels, which the
 * compiler vectorises), then folded into groups; the element-wise passes are y = x a_c + b_c and
 * dx = dy p_c + x q_c + r_c with per-channel coefficients.
 */
#include "norm.h"
#include "parallel.h"
#include "vmath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const float *x, *gamma, *beta, *dy, *stats_in;
  int64_t M, C, G;
  double eps;
  float *y, *stats, *dx;
  double *partials; /* backward: per share, dgamma then dbeta sums [2 C] */
  int64_t B, chunk;
  int failed;
  int silu; /* forward: y = silu(group norm); backward: beta given = the gradient through SiLU */
} GnJob;

#if defined(__AVX512F__)
/* 16 floats as one value (GCC / Clang vector extension: one AVX-512 register), loaded and stored unaligned. */
typedef float v16 __attribute__((vector_size(64)));
static inline v16 load16(const float *p) {
  v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }
#define V16(C) ((C) % 16 == 0)
#endif

/* Rows of C channels summed in float before double accumulators take the sums. */
#define GN_BLOCK 16

/* Samples [b0, b1) of the forward pass. One pass for the statistics: per channel, sums of
 * d = x - s_c and d^2 about the sample's first value s_c of that channel (so an offset mean costs
 * no precision), in float over GN_BLOCK rows and in double across blocks; the group's mean and
 * sum of squared deviations follow exactly from these,
 *   sum (x - mean)^2 = sum_c [S2_c + 2 (s_c - mean) S1_c + M (s_c - mean)^2].
 * Then y = x a_c + b_c (and SiLU) a block of rows at a time, while the block is in L1. */
static int gn_forward_samples(const float *x, const float *gamma, const float *beta, int64_t b0, int64_t b1, int64_t M, int64_t C, int64_t G, double eps, float *y,
                              float *stats, int silu) {
  const int64_t Cg = C / G;
  const double n = (double)(M * Cg);
  double *acc = (double *)malloc((size_t)(2 * C) * sizeof(double));
  float *mc = (float *)malloc((size_t)(5 * C) * sizeof(float));
  if (!acc || !mc) {
    free(acc);
    free(mc);
    return -1;
  }
  double *s1 = acc, *s2 = acc + C;
  float *a = mc, *bb = mc + C, *sh = mc + 2 * C, *f1 = mc + 3 * C, *f2 = mc + 4 * C;
  for (int64_t b = b0; b < b1; b++) {
    const float *xb = x + b * M * C;
    memcpy(sh, xb, (size_t)C * sizeof(float));
    memset(acc, 0, (size_t)(2 * C) * sizeof(double));
    for (int64_t m0 = 0; m0 < M; m0 += GN_BLOCK) {
      const int64_t m1 = m0 + GN_BLOCK < M ? m0 + GN_BLOCK : M;
#ifdef V16
      if (V16(C)) {
        /* 16 channels at a time in registers down the block's rows */
        for (int64_t c = 0; c < C; c += 16) {
          const v16 s = load16(sh + c);
          v16 t1 = {0}, t2 = {0};
          for (int64_t m = m0; m < m1; m++) {
            const v16 d = load16(xb + m * C + c) - s;
            t1 += d;
            t2 += d * d;
          }
          store16(f1 + c, t1);
          store16(f2 + c, t2);
        }
      } else
#endif
      {
        memset(f1, 0, (size_t)(2 * C) * sizeof(float));
        for (int64_t m = m0; m < m1; m++)
          for (int64_t c = 0; c < C; c++) {
            const float d = xb[m * C + c] - sh[c];
            f1[c] += d;
            f2[c] += d * d;
          }
      }
      for (int64_t c = 0; c < C; c++) {
        s1[c] += f1[c];
        s2[c] += f2[c];
      }
    }
    for (int64_t g = 0; g < G; g++) {
      double t = 0;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) t += s1[c] + (double)M * sh[c];
      const double mean = t / n;
      double ss = 0;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        const double e = (double)sh[c] - mean;
        ss += s2[c] + 2.0 * e * s1[c] + (double)M * e * e;
      }
      const float meanf = (float)mean, rstd = (float)(1.0 / sqrt((ss > 0 ? ss : 0) / n + eps));
      stats[(b * G + g) * 2] = meanf;
      stats[(b * G + g) * 2 + 1] = rstd;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        a[c] = rstd * gamma[c];
        bb[c] = beta[c] - meanf * a[c];
      }
    }
    float *yb = y + b * M * C;
    for (int64_t m0 = 0; m0 < M; m0 += GN_BLOCK) {
      const int64_t m1 = m0 + GN_BLOCK < M ? m0 + GN_BLOCK : M;
      for (int64_t m = m0; m < m1; m++)
        for (int64_t c = 0; c < C; c++) yb[m * C + c] = xb[m * C + c] * a[c] + bb[c];
      if (silu) vm_silu_inplace(yb + m0 * C, (m1 - m0) * C);
    }
  }
  free(acc);
  free(mc);
  return 0;
}

/* Samples [b0, b1) of the backward pass: dx, and this share's dgamma, dbeta sums in tg, tb. */
static int gn_backward_samples(const float *dy, const float *x, const float *stats, const float *gamma, const float *beta, int64_t b0, int64_t b1, int64_t M,
                               int64_t C, int64_t G, float *dx, double *tg_out, double *tb_out) {
  const int64_t Cg = C / G;
  /* with beta (GN + SiLU): u = group norm of x (recomputed, a block of rows) and du = dy silu'(u) (a sample) in scratch */
  float *scratch = beta ? (float *)malloc((size_t)((GN_BLOCK + M) * C) * sizeof(float)) : NULL;
  if (beta && !scratch) return -1;
  const double n = (double)(M * Cg);
  double *sdy = (double *)calloc((size_t)(4 * C), sizeof(double));
  float *coef = (float *)malloc((size_t)(7 * C) * sizeof(float));
  if (!sdy || !coef) {
    free(sdy);
    free(coef);
    free(scratch);
    return -1;
  }
  double *sdyx = sdy + C, *tg = sdy + 2 * C, *tb = sdy + 3 * C; /* tg, tb: dgamma, dbeta over the batch */
  float *mean = coef, *rstd = coef + C, *p = coef + 2 * C, *q = coef + 3 * C, *r = coef + 4 * C;
  for (int64_t b = b0; b < b1; b++) {
    const float *xb = x + b * M * C, *db = dy + b * M * C;
    for (int64_t g = 0; g < G; g++)
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        mean[c] = stats[(b * G + g) * 2];
        rstd[c] = stats[(b * G + g) * 2 + 1];
      }
    if (beta)
      for (int64_t c = 0; c < C; c++) {
        p[c] = rstd[c] * gamma[c];
        q[c] = beta[c] - mean[c] * p[c];
      }
    memset(sdy, 0, (size_t)(2 * C) * sizeof(double));
    /* a block of rows at a time (in L1): with SiLU, u = the group norm of x and du = dy silu'(u)
     * (du kept for the dx pass); per channel sum dy and sum dy xhat, in float over the block and
     * in double across blocks */
    float *u = scratch, *du = beta ? scratch + GN_BLOCK * C : NULL, *f1 = coef + 5 * C, *f2 = f1 + C;
    for (int64_t m0 = 0; m0 < M; m0 += GN_BLOCK) {
      const int64_t m1 = m0 + GN_BLOCK < M ? m0 + GN_BLOCK : M;
      const float *d = db + m0 * C;
      if (beta) {
        for (int64_t m = m0; m < m1; m++)
          for (int64_t c = 0; c < C; c++) u[(m - m0) * C + c] = xb[m * C + c] * p[c] + q[c];
        vm_silu_grad(d, u, du + m0 * C, (m1 - m0) * C);
        d = du + m0 * C;
      }
#ifdef V16
      if (V16(C)) {
        for (int64_t c = 0; c < C; c += 16) {
          const v16 mu = load16(mean + c), rs = load16(rstd + c);
          v16 t1 = {0}, t2 = {0};
          for (int64_t m = m0; m < m1; m++) {
            const v16 dv = load16(d + (m - m0) * C + c);
            t1 += dv;
            t2 += dv * ((load16(xb + m * C + c) - mu) * rs);
          }
          store16(f1 + c, t1);
          store16(f2 + c, t2);
        }
      } else
#endif
      {
        memset(f1, 0, (size_t)(2 * C) * sizeof(float));
        for (int64_t m = m0; m < m1; m++)
          for (int64_t c = 0; c < C; c++) {
            const float dv = d[(m - m0) * C + c];
            f1[c] += dv;
            f2[c] += dv * ((xb[m * C + c] - mean[c]) * rstd[c]);
          }
      }
      for (int64_t c = 0; c < C; c++) {
        sdy[c] += f1[c];
        sdyx[c] += f2[c];
      }
    }
    if (beta) db = du;
    for (int64_t g = 0; g < G; g++) {
      double mg = 0, mgx = 0; /* mean(g), mean(g xhat) over the group */
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        mg += gamma[c] * sdy[c];
        mgx += gamma[c] * sdyx[c];
      }
      mg /= n;
      mgx /= n;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        /* dx = rstd (dy gamma - mg - (x - mean) rstd mgx) = dy p + x q + r */
        p[c] = rstd[c] * gamma[c];
        q[c] = (float)(-(double)rstd[c] * rstd[c] * mgx);
        r[c] = (float)(-(double)rstd[c] * mg + (double)rstd[c] * rstd[c] * mgx * mean[c]);
      }
    }
    for (int64_t c = 0; c < C; c++) {
      tg[c] += sdyx[c];
      tb[c] += sdy[c];
    }
    float *dxb = dx + b * M * C;
    for (int64_t m = 0; m < M; m++)
      for (int64_t c = 0; c < C; c++) dxb[m * C + c] = db[m * C + c] * p[c] + xb[m * C + c] * q[c] + r[c];
  }
  memcpy(tg_out, tg, (size_t)C * sizeof(double));
  memcpy(tb_out, tb, (size_t)C * sizeof(double));
  free(sdy);
  free(coef);
  free(scratch);
  return 0;
}

/*
 * Samples are independent but for dgamma and dbeta, sums over the batch: the batch splits over the
 * addon's threads (parallel.c) once a share has ~256K values, each share summing its samples' dgamma
 * and dbeta in double, added in share order.
 */
#define GN_MIN_VALUES (1 << 16)

static void gn_forward_share(void *arg, int64_t b0, int64_t b1) {
  GnJob *j = (GnJob *)arg;
  if (gn_forward_samples(j->x, j->gamma, j->beta, b0, b1, j->M, j->C, j->G, j->eps, j->y, j->stats, j->silu) != 0) j->failed = 1;
}

int gn_forward(const float *x, const float *gamma, const float *beta, int64_t B, int64_t M, int64_t C, int64_t G, double eps, float *y, float *stats, int silu) {
  GnJob j = {x, gamma, beta, NULL, NULL, M, C, G, eps, y, stats, NULL, NULL, B, 0, 0, silu};
  par_range(B, GN_MIN_VALUES / (M * C) + 1, 1, gn_forward_share, &j);
  return j.failed ? -1 : 0;
}

static void gn_backward_share(void *arg, int64_t b0, int64_t b1) {
  GnJob *j = (GnJob *)arg;
  double *part = j->partials + (b0 / j->chunk) * 2 * j->C;
  if (gn_backward_samples(j->dy, j->x, j->stats_in, j->gamma, j->beta, b0, b1, j->M, j->C, j->G, j->dx, part, part + j->C) != 0) j->failed = 1;
}

int gn_backward(const float *dy, const float *x, const float *stats, const float *gamma, const float *beta, int64_t B, int64_t M, int64_t C, int64_t G, float *dx,
                float *dgamma, float *dbeta) {
  /* par_range's shares are multiples of `chunk` samples: share k starts at sample k chunk */
  const int64_t chunk = GN_MIN_VALUES / (M * C) + 1, shares = (B + chunk - 1) / chunk;
  double *partials = (double *)calloc((size_t)(shares * 2 * C), sizeof(double));
  if (!partials) return -1;
  GnJob j = {x, gamma, beta, dy, stats, M, C, G, 0, NULL, NULL, dx, partials, B, chunk, 0, 0};
  par_range(B, chunk, chunk, gn_backward_share, &j);
  for (int64_t c = 0; c < C; c++) {
    double tg = 0, tb = 0;
    for (int64_t k = 0; k < shares; k++) {
      tg += partials[k * 2 * C + c];
      tb += partials[k * 2 * C + C + c];
    }
    dgamma[c] = (float)tg;
    dbeta[c] = (float)tb;
  }
  free(partials);
  return j.failed ? -1 : 0;
}

void ln_forward(const float *restrict x, int64_t rows, int64_t C, double eps, float *restrict xhat, float *restrict rstd) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += xr[c];
    const double mean = s / (double)C;
    double v = 0;
    for (int64_t c = 0; c < C; c++) {
      const double d = xr[c] - mean;
      v += d * d;
    }
    const float rs = (float)(1.0 / sqrt(v / (double)C + eps));
    const float m = (float)mean;
    rstd[r] = rs;
    float *yr = xhat + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - m) * rs;
  }
}

void ln_backward(const float *restrict dy, const float *restrict xhat, const float *restrict rstd, int64_t rows, int64_t C, float *restrict dx) {
  for (int64_t r = 0; r < rows; r++) {
    const float *d = dy + r * C, *h = xhat + r * C;
    double s = 0, sh = 0;
    for (int64_t c = 0; c < C; c++) {
      s += d[c];
      sh += (double)d[c] * h[c];
    }
    const float md = (float)(s / (double)C), mdh = (float)(sh / (double)C), rs = rstd[r];
    float *o = dx + r * C;
    for (int64_t c = 0; c < C; c++) o[c] = (d[c] - md - h[c] * mdh) * rs;
  }
}
