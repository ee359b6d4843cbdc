/* difflab-blas's copies (copy.c): strided copies of 32-bit values inside the wasm heap. */
#ifndef DIFFLAB_COPY_H
#define DIFFLAB_COPY_H
#include <stdint.h>
/*
 * dst[r * dstStride + j] = src[r * srcStride + j] for r < rows, j < cols (32-bit values; the two
 * regions must not overlap). Rows are split over the addon's threads (parallel.c) when the copy
 * holds COPY_PAR_VALUES values or more; the result is the same bits either way.
 */
void copy2d(uint32_t *dst, int64_t dstStride, const uint32_t *src, int64_t srcStride, int64_t rows, int64_t cols);
/*
 * Nearest-neighbour resize of x [B, H, W, C] into out [B, newH, newW, C] with tfjs-backend-cpu's
 * index rule (alignCorners, halfPixelCenters as its ResizeNearestNeighbor); each output pixel's C
 * channels are one run copied from its source pixel, and an output row whose source row is the
 * one before's is a copy of that row. 0 on success, -1 when out of memory.
 */
int resize_nearest(const uint32_t *x, int64_t B, int64_t H, int64_t W, int64_t C, int64_t newH, int64_t newW, int alignCorners, int halfPixelCenters, uint32_t *out);
/* The source index of output index i of n along an axis of `in` values (the rule above). */
int64_t resize_nearest_index(int64_t i, int64_t in, int64_t n, int alignCorners, int halfPixelCenters);
/* Copies of this many values or more split over the threads. */
#define COPY_PAR_VALUES (1 << 20)
#endif
