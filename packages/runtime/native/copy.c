/*
 * Copies for the wasm backend's data-movement kernels (native-copy.ts): Concat, Slice and
 * ResizeNearestNeighbor are strided copies of 32-bit values (a memcpy per row), which JavaScript
 * runs as one `copyWithin` call per row and tfjs-backend-wasm's resize as a scalar loop.
 * A thread's start (~55 us here, parallel.c) pays for itself from about a million values (4 MB).
 */
#include "copy.h"
#include "parallel.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copy one run of n 32-bit values: short runs by a loop (a memcpy call costs more than it moves). */
static inline void run_copy(uint32_t *restrict d, const uint32_t *restrict s, int64_t n) {
  if (n >= 8) memcpy(d, s, (size_t)n * 4);
  else
    for (int64_t j = 0; j < n; j++) d[j] = s[j];
}

typedef struct {
  uint32_t *dst;
  const uint32_t *src;
  int64_t ds, ss, cols;
} Copy2d;

static void copy_rows(void *p, int64_t r0, int64_t r1) {
  const Copy2d *c = (const Copy2d *)p;
  for (int64_t r = r0; r < r1; r++) run_copy(c->dst + r * c->ds, c->src + r * c->ss, c->cols);
}

/* One contiguous run split by values: [i0, i1) of it. */
static void copy_flat(void *p, int64_t i0, int64_t i1) {
  const Copy2d *c = (const Copy2d *)p;
  memcpy(c->dst + i0, c->src + i0, (size_t)(i1 - i0) * 4);
}

void copy2d(uint32_t *dst, int64_t dstStride, const uint32_t *src, int64_t srcStride, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t n = rows * cols;
  /* each thread at least half of COPY_PAR_VALUES: no split below COPY_PAR_VALUES values */
  const int64_t chunk = COPY_PAR_VALUES / 2;
  if (rows == 1 || (dstStride == cols && srcStride == cols)) {
    Copy2d c = {dst, src, 0, 0, n};
    par_range(n, chunk, 16, copy_flat, &c);
    return;
  }
  Copy2d c = {dst, src, dstStride, srcStride, cols};
  par_range(rows, n >= COPY_PAR_VALUES ? (chunk + cols - 1) / cols : rows, 1, copy_rows, &c);
}

/* JavaScript's Math.round: the nearest integer, halves up (floor(x + 0.5) is off for 0.49999999999999994). */
static double js_round(double x) {
  const double f = floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

/*
 * tfjs-backend-cpu's ResizeNearestNeighbor, one axis: the ratio in double of the effective sizes
 * (one less each with alignCorners when n > 1), the source coordinate ratio * i (ratio * (i + 0.5)
 * with halfPixelCenters), rounded (alignCorners) or floored, clamped to in - 1 (and to 0 with
 * halfPixelCenters).
 */
int64_t resize_nearest_index(int64_t i, int64_t in, int64_t n, int alignCorners, int halfPixelCenters) {
  const double effIn = (double)(alignCorners && n > 1 ? in - 1 : in), effOut = (double)(alignCorners && n > 1 ? n - 1 : n);
  const double ratio = effIn / effOut;
  const double frac = halfPixelCenters ? ratio * ((double)i + 0.5) : ratio * (double)i;
  double s = alignCorners ? js_round(frac) : floor(frac);
  if (s > (double)(in - 1)) s = (double)(in - 1);
  if (halfPixelCenters && s < 0) s = 0;
  return (int64_t)s;
}

typedef struct {
  const uint32_t *x;
  uint32_t *out;
  const int64_t *cols; /* [newW] source column of each output column */
  int64_t H, W, C, newH, newW;
  int align, half;
} Resize;

/* Output rows [r0, r1) of the B * newH rows of out. */
static void resize_rows(void *p, int64_t r0, int64_t r1) {
  const Resize *k = (const Resize *)p;
  const int64_t C = k->C, rowLen = k->newW * C;
  int64_t prevB = -1, prevSrc = -1;
  for (int64_t row = r0; row < r1; row++) {
    const int64_t b = row / k->newH, r = row % k->newH;
    const int64_t sr = resize_nearest_index(r, k->H, k->newH, k->align, k->half);
    uint32_t *o = k->out + row * rowLen;
    if (b == prevB && sr == prevSrc) {
      /* the same source row as the row before (nearest upsampling): copy that output row */
      memcpy(o, o - rowLen, (size_t)rowLen * 4);
      continue;
    }
    const uint32_t *src = k->x + (b * k->H + sr) * k->W * C;
    if (C == 1)
      for (int64_t c = 0; c < k->newW; c++) o[c] = src[k->cols[c]];
    else
      for (int64_t c = 0; c < k->newW; c++) run_copy(o + c * C, src + k->cols[c] * C, C);
    prevB = b;
    prevSrc = sr;
  }
}

int resize_nearest(const uint32_t *x, int64_t B, int64_t H, int64_t W, int64_t C, int64_t newH, int64_t newW, int alignCorners, int halfPixelCenters, uint32_t *out) {
  if (B <= 0 || newH <= 0 || newW <= 0 || C <= 0) return 0;
  int64_t *cols = (int64_t *)malloc((size_t)newW * sizeof(int64_t));
  if (!cols) return -1;
  for (int64_t c = 0; c < newW; c++) cols[c] = resize_nearest_index(c, W, newW, alignCorners, halfPixelCenters);
  Resize k = {x, out, cols, H, W, C, newH, newW, alignCorners != 0, halfPixelCenters != 0};
  const int64_t rows = B * newH, rowLen = newW * C;
  par_range(rows, rows * rowLen >= COPY_PAR_VALUES ? (COPY_PAR_VALUES / 2 + rowLen - 1) / rowLen : rows, 1, resize_rows, &k);
  free(cols);
  return 0;
}
