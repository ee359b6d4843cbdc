#ifndef DIFFLAB_TILE_H
#define DIFFLAB_TILE_H
/*
 * AVX-512 register tiles of the direct convolutions (conv.c): include only where __AVX512F__ is
 * defined. (Tried for the residual MLP's 256 x 128 x 128-384 products too: no faster than
 * OpenBLAS there, whose packing pays off once the weights outgrow L1.)
 */
#include <immintrin.h>
#include <stdint.h>

/* A run of a reduction: k = 0 .. n - 1 over x (broadcast values) and w (vectors). */
typedef struct {
  const float *x, *w;
  int64_t n;
} Run;

/*
 * y[p, v] (NP rows x NV vectors of 16 outputs, ys floats a row) += sum over the runs' k of
 * x[p ps + k ks] w[k ws + 16 v ..] (x, w: a run's pointers plus xoff, woff), the NP x NV <= 24
 * accumulators in registers across all runs: for every k, NV vectors of w are loaded once and
 * multiplied by NP broadcast x values.
 * conv.c's forward: one run per tap, rows = output pixels, k = input channels (with im2col +
 * sgemm a 3x3 conv of 32 -> 32 channels wrote and re-read 9 copies of its input and OpenBLAS
 * packed them once more, ~95 GFLOP/s a core here against ~150 for this loop); its filter gradient:
 * rows = input channels, k = pixels, a run per output row.
 */
static inline __attribute__((always_inline)) void tile(const int NP, const int NV, const Run *runs, int nrun, int64_t xoff, int64_t woff, int64_t ps,
                                                        int64_t ks, int64_t ws, float *y, int64_t ys) {
  __m512 acc[24];
#pragma GCC unroll 24
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[p * NV + v] = _mm512_loadu_ps(y + p * ys + 16 * v);
  for (int r = 0; r < nrun; r++) {
    const float *x = runs[r].x + xoff, *w = runs[r].w + woff;
    for (int64_t k = 0; k < runs[r].n; k++) {
      __m512 wv[4];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + k * ws + 16 * v);
#pragma GCC unroll 24
      for (int p = 0; p < NP; p++) {
        const __m512 xb = _mm512_set1_ps(x[p * ps + k * ks]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[p * NV + v] = _mm512_fmadd_ps(xb, wv[v], acc[p * NV + v]);
      }
    }
  }
#pragma GCC unroll 24
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(y + p * ys + 16 * v, acc[p * NV + v]);
}

/* Rows per tile for NV vectors of outputs (NP x NV <= 24 accumulators). */
static inline int tile_pixels(int nv) { return nv == 4 ? 6 : nv == 2 ? 12 : 24; }

/* Vectors a tile covers: 4, 2 or 1 (64, 32 or 16 outputs; n a multiple of 16). */
static inline int direct_nv(int64_t n) { return n % 64 == 0 ? 4 : n % 32 == 0 ? 2 : 1; }

#define TILE_CASE(NP, NV) \
  case NP:                \
    tile(NP, NV, runs, nrun, xoff, woff, ps, ks, ws, y, ys); \
    break;
#define TILE_CASES_6(NV) TILE_CASE(1, NV) TILE_CASE(2, NV) TILE_CASE(3, NV) TILE_CASE(4, NV) TILE_CASE(5, NV) TILE_CASE(6, NV)
#define TILE_CASES_12(NV) TILE_CASES_6(NV) TILE_CASE(7, NV) TILE_CASE(8, NV) TILE_CASE(9, NV) TILE_CASE(10, NV) TILE_CASE(11, NV) TILE_CASE(12, NV)
#define TILE_CASES_24(NV)                                                                                                        \
  TILE_CASES_12(NV) TILE_CASE(13, NV) TILE_CASE(14, NV) TILE_CASE(15, NV) TILE_CASE(16, NV) TILE_CASE(17, NV) TILE_CASE(18, NV) \
      TILE_CASE(19, NV) TILE_CASE(20, NV) TILE_CASE(21, NV) TILE_CASE(22, NV) TILE_CASE(23, NV) TILE_CASE(24, NV)

/* tile() for np <= tile_pixels(nv) rows, nv in {1, 2, 4}. */
static inline void tile_any(int np, int nv, const Run *runs, int nrun, int64_t xoff, int64_t woff, int64_t ps, int64_t ks, int64_t ws, float *y, int64_t ys) {
  if (nv == 4) {
    switch (np) { TILE_CASES_6(4) }
  } else if (nv == 2) {
    switch (np) { TILE_CASES_12(2) }
  } else {
    switch (np) { TILE_CASES_24(1) }
  }
}

#endif
