/* difflab-blas's group normalisation (norm.c). */
#ifndef DIFFLAB_NORM_H
#define DIFFLAB_NORM_H
#include <stdint.h>
/*
 * x [B, M, C], gamma / beta [C], C = G groups of C / G channels -> y [B, M, C], stats [B, G, 2] =
 * (mean, rstd); silu: y = silu(group norm) instead. 0, or -1 when out of memory.
 */
int gn_forward(const float *x, const float *gamma, const float *beta, int64_t B, int64_t M, int64_t C, int64_t G, double eps, float *y, float *stats, int silu);
/*
 * dy, x [B, M, C], stats [B, G, 2], gamma [C] -> dx [B, M, C], dgamma [C], dbeta [C]; with beta
 * (not NULL) the gradient of silu(group norm) instead. 0, or -1 when out of memory.
 */
int gn_backward(const float *dy, const float *x, const float *stats, const float *gamma, const float *beta, int64_t B, int64_t M, int64_t C, int64_t G, float *dx,
                float *dgamma, float *dbeta);
/* Layer norm without affine over the last axis of x [rows, C]: xhat [rows, C], rstd [rows]. */
void ln_forward(const float *x, int64_t rows, int64_t C, double eps, float *xhat, float *rstd);
/* Its gradient: dx = rstd (dy - mean(dy) - xhat mean(dy xhat)) per row. */
void ln_backward(const float *dy, const float *xhat, const float *rstd, int64_t rows, int64_t C, float *dx);
#endif
