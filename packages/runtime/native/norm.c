/*
 * Group normalisation (Wu & He 2018; torch nn.GroupNorm) on NHWC activations seen as
 * x [B, M = H W, C], channels in G groups of Cg = C / G, n = M Cg values per (sample, group):
 *
 *   mean, var (biased) over the group's n values; rstd = 1 / sqrt(var + eps)
 *   y = (x - mean) rstd gamma_c + beta_c
 *   backward, xhat = (x - mean) rstd, g = dy gamma_c:
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),  dgamma_c = sum dy xhat,  dbeta_c = sum dy
 *
 * The same contract as difflab's WGSL kernels (DifflabGroupNorm / DifflabGroupNormGrad in
 * @difflab/core). Layer normalisation (the non-affine part, DifflabLayerNorm / DifflabLayerNormGrad)
 * is the same over each row of C values: xhat = (x - mean) rstd, and
 * dx = rstd (dy - mean(dy) - xhat mean(dy xhat)). Sums over M are per channel in double (loops over a row of C channels, which the
 * compiler vectorises), then folded into groups; the element-wise passes are y = x a_c + b_c and
 * dx = dy p_c + x q_c + r_c with per-channel coefficients.
 */
#include "norm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int gn_forward(const float *x, const float *gamma, const float *beta, int64_t B, int64_t M, int64_t C, int64_t G, double eps, float *y, float *stats) {
  const int64_t Cg = C / G;
  const double n = (double)(M * Cg);
  double *acc = (double *)calloc((size_t)C, sizeof(double));
  float *mc = (float *)malloc((size_t)(3 * C) * sizeof(float));
  if (!acc || !mc) {
    free(acc);
    free(mc);
    return -1;
  }
  float *a = mc + C, *bb = mc + 2 * C;
  for (int64_t b = 0; b < B; b++) {
    const float *xb = x + b * M * C;
    memset(acc, 0, (size_t)C * sizeof(double));
    for (int64_t m = 0; m < M; m++)
      for (int64_t c = 0; c < C; c++) acc[c] += xb[m * C + c];
    for (int64_t g = 0; g < G; g++) {
      double s = 0;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) s += acc[c];
      const float mean = (float)(s / n);
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) mc[c] = mean;
    }
    memset(acc, 0, (size_t)C * sizeof(double));
    for (int64_t m = 0; m < M; m++)
      for (int64_t c = 0; c < C; c++) {
        const double d = (double)xb[m * C + c] - mc[c];
        acc[c] += d * d;
      }
    for (int64_t g = 0; g < G; g++) {
      double s = 0;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) s += acc[c];
      const float rstd = (float)(1.0 / sqrt(s / n + eps));
      stats[(b * G + g) * 2] = mc[g * Cg];
      stats[(b * G + g) * 2 + 1] = rstd;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        a[c] = rstd * gamma[c];
        bb[c] = beta[c] - mc[c] * a[c];
      }
    }
    float *yb = y + b * M * C;
    for (int64_t m = 0; m < M; m++)
      for (int64_t c = 0; c < C; c++) yb[m * C + c] = xb[m * C + c] * a[c] + bb[c];
  }
  free(acc);
  free(mc);
  return 0;
}

int gn_backward(const float *dy, const float *x, const float *stats, const float *gamma, int64_t B, int64_t M, int64_t C, int64_t G, float *dx, float *dgamma,
                 float *dbeta) {
  const int64_t Cg = C / G;
  const double n = (double)(M * Cg);
  double *sdy = (double *)calloc((size_t)(4 * C), sizeof(double));
  float *coef = (float *)malloc((size_t)(5 * C) * sizeof(float));
  if (!sdy || !coef) {
    free(sdy);
    free(coef);
    return -1;
  }
  double *sdyx = sdy + C, *tg = sdy + 2 * C, *tb = sdy + 3 * C; /* tg, tb: dgamma, dbeta over the batch */
  float *mean = coef, *rstd = coef + C, *p = coef + 2 * C, *q = coef + 3 * C, *r = coef + 4 * C;
  for (int64_t b = 0; b < B; b++) {
    const float *xb = x + b * M * C, *db = dy + b * M * C;
    for (int64_t g = 0; g < G; g++)
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++) {
        mean[c] = stats[(b * G + g) * 2];
        rstd[c] = stats[(b * G + g) * 2 + 1];
      }
    memset(sdy, 0, (size_t)(2 * C) * sizeof(double));
    /* per channel: sum dy, sum dy xhat */
    for (int64_t m = 0; m < M; m++)
      for (int64_t c = 0; c < C; c++) {
        const double d = db[m * C + c];
        sdy[c] += d;
        sdyx[c] += d * (((double)xb[m * C + c] - mean[c]) * rstd[c]);
      }
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
  for (int64_t c = 0; c < C; c++) {
    dgamma[c] = (float)tg[c];
    dbeta[c] = (float)tb[c];
  }
  free(sdy);
  free(coef);
  return 0;
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
