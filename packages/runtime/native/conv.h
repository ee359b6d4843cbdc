/* difflab-blas's convolutions (conv.c): NHWC, tfjs' cross-correlation, im2col + sgemm. */
#ifndef DIFFLAB_CONV_H
#define DIFFLAB_CONV_H
#include <stdint.h>

typedef struct {
  int64_t B, H, W, Cin, Ho, Wo, Cout, kh, kw, sh, sw, pt, pl;
} ConvGeom;

/* Whether the geometry is usable (positive sizes, sizes that fit a BLAS int). */
int conv_geom_ok(const ConvGeom *g);
/* 1 where the direct (AVX-512) convolutions are built in and not turned off by DIFFLAB_DIRECT_CONV=0 */
int conv_direct_available(void);
/* y[B,Ho,Wo,Cout] = conv(x, w[kh,kw,Cin,Cout]) (+ bias[Cout] when bias) (relu when relu). 0, or -1 when out of memory. */
/* y = conv(x, w) + bias[Cout] (NULL: none) + addend ([B, Cout] when add_per_image, else [B, Ho, Wo, Cout]; NULL: none), relu optional */
int conv_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, const float *addend, int add_per_image, int relu, float *y);
/* dw[kh,kw,Cin,Cout] of that convolution. 0, or -1 when out of memory. */
int conv_filter_grad(const ConvGeom *g, const float *x, const float *dy, float *dw);
/* dx[B,H,W,Cin] of that convolution. 0, or -1 when out of memory. */
int conv_input_grad(const ConvGeom *g, const float *dy, const float *w, float *dx);
#endif
