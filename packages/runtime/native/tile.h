#ifndef DIFFLAB_TILE_H
#define DIFFLAB_TILE_H
/*
 * AVX-512 register tiles of the direct convolutions (conv.c): include only where __AVX512F__ is
 * defined. (Tried for the residual MLP's 256 x 128 x 128-384 products too: no faster than
 * OpenBLAS there, whose packing pays off once the weights outgrow L1.)
 */
#include <immintrin.h>
#include <stdint.h>

/*
 * y[p, v] += sum over c < C of x[p xs + c xc] w[c ws + 16 v ..], NP rows (pixels) x NV vectors of
 * 16 outputs in registers (NP x NV <= 24 accumulators): for every c, NV weight vectors are loaded
 * once and multiplied by NP broadcast x values. A convolution's output row tap by tap (conv.c:
 * with im2col + sgemm a 3x3 conv of 32 -> 32 channels wrote and re-read 9 copies of its input and
 * OpenBLAS packed them once more, ~95 GFLOP/s a core here against ~150 for this loop).
 */
static inline __attribute__((always_inline)) void tile(const int NP, const int NV, const float *x, int64_t xs, int64_t xc, const float *w, int64_t ws,
                                                        int64_t C, float *y, int64_t ys) {
  __m512 acc[24];
#pragma GCC unroll 24
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[p * NV + v] = _mm512_loadu_ps(y + p * ys + 16 * v);
  for (int64_t c = 0; c < C; c++) {
    __m512 wv[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + c * ws + 16 * v);
#pragma GCC unroll 24
    for (int p = 0; p < NP; p++) {
      const __m512 xb = _mm512_set1_ps(x[p * xs + c * xc]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[p * NV + v] = _mm512_fmadd_ps(xb, wv[v], acc[p * NV + v]);
    }
  }
#pragma GCC unroll 24
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(y + p * ys + 16 * v, acc[p * NV + v]);
}

/* Pixels per tile for NV vectors of output channels (NP x NV <= 24 accumulators). */
static inline int tile_pixels(int nv) { return nv == 4 ? 6 : nv == 2 ? 12 : 24; }

#define TILE_CASE(NP, NV) \
  case NP:                \
    tile(NP, NV, x, xs, xc, w, ws, C, y, ys); \
    break;
#define TILE_CASES_6(NV) TILE_CASE(1, NV) TILE_CASE(2, NV) TILE_CASE(3, NV) TILE_CASE(4, NV) TILE_CASE(5, NV) TILE_CASE(6, NV)
#define TILE_CASES_12(NV) TILE_CASES_6(NV) TILE_CASE(7, NV) TILE_CASE(8, NV) TILE_CASE(9, NV) TILE_CASE(10, NV) TILE_CASE(11, NV) TILE_CASE(12, NV)
#define TILE_CASES_24(NV)                                                                                                        \
  TILE_CASES_12(NV) TILE_CASE(13, NV) TILE_CASE(14, NV) TILE_CASE(15, NV) TILE_CASE(16, NV) TILE_CASE(17, NV) TILE_CASE(18, NV) \
      TILE_CASE(19, NV) TILE_CASE(20, NV) TILE_CASE(21, NV) TILE_CASE(22, NV) TILE_CASE(23, NV) TILE_CASE(24, NV)

static inline void tile_any(int np, int nv, const float *x, int64_t xs, int64_t xc, const float *w, int64_t ws, int64_t C, float *y, int64_t ys) {
  if (nv == 4) {
    switch (np) { TILE_CASES_6(4) }
  } else if (nv == 2) {
    switch (np) { TILE_CASES_12(2) }
  } else {
    switch (np) { TILE_CASES_24(1) }
  }
}

/* Output channels a tile covers: 64, 32 or 16 (Cout a multiple of 16). */
static inline int direct_nv(int64_t Cout) { return Cout % 64 == 0 ? 4 : Cout % 32 == 0 ? 2 : 1; }

/* One row's run of pixels for a tap: x at its first pixel (channel 0), dy at its first pixel. */
typedef struct {
  const float *x, *dy;
  int64_t n;
} Run;

/* dw[p, v] (NP input channels x NV vectors of output channels) += sum over the runs' pixels of
 * x[k, c0 + p] dy[k, co0 + 16 v], accumulators in registers across all runs. */
static inline __attribute__((always_inline)) void fg_tile(const int NP, const int NV, const Run *runs, int nrun, int64_t c0, int64_t co0, int64_t xs,
                                                           int64_t Cout, float *dw) {
  __m512 acc[24];
#pragma GCC unroll 24
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[p * NV + v] = _mm512_loadu_ps(dw + p * Cout + 16 * v);
  for (int r = 0; r < nrun; r++) {
    const float *x = runs[r].x + c0, *dy = runs[r].dy + co0;
    for (int64_t k = 0; k < runs[r].n; k++) {
      __m512 dv[4];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) dv[v] = _mm512_loadu_ps(dy + k * Cout + 16 * v);
#pragma GCC unroll 24
      for (int p = 0; p < NP; p++) {
        const __m512 xb = _mm512_set1_ps(x[k * xs + p]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[p * NV + v] = _mm512_fmadd_ps(xb, dv[v], acc[p * NV + v]);
      }
    }
  }
#pragma GCC unroll 24
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(dw + p * Cout + 16 * v, acc[p * NV + v]);
}

#define FG_CASE(NP, NV) \
  case NP:              \
    fg_tile(NP, NV, runs, nrun, c0, co0, xs, Cout, dw); \
    break;
#define FG_CASES_6(NV) FG_CASE(1, NV) FG_CASE(2, NV) FG_CASE(3, NV) FG_CASE(4, NV) FG_CASE(5, NV) FG_CASE(6, NV)
#define FG_CASES_12(NV) FG_CASES_6(NV) FG_CASE(7, NV) FG_CASE(8, NV) FG_CASE(9, NV) FG_CASE(10, NV) FG_CASE(11, NV) FG_CASE(12, NV)
#define FG_CASES_24(NV)                                                                                               \
  FG_CASES_12(NV) FG_CASE(13, NV) FG_CASE(14, NV) FG_CASE(15, NV) FG_CASE(16, NV) FG_CASE(17, NV) FG_CASE(18, NV) \
      FG_CASE(19, NV) FG_CASE(20, NV) FG_CASE(21, NV) FG_CASE(22, NV) FG_CASE(23, NV) FG_CASE(24, NV)

static inline void fg_tile_any(int np, int nv, const Run *runs, int nrun, int64_t c0, int64_t co0, int64_t xs, int64_t Cout, float *dw) {
  if (nv == 4) {
    switch (np) { FG_CASES_6(4) }
  } else if (nv == 2) {
    switch (np) { FG_CASES_12(2) }
  } else {
    switch (np) { FG_CASES_24(1) }
  }
}

#endif
