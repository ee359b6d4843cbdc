/* difflab-blas's batched matrix product (gemm.c). */
#ifndef DIFFLAB_GEMM_H
#define DIFFLAB_GEMM_H
#include <stdint.h>
/*
 * For i < batch: C_i[m,n] = op(A_i) op(B_i) (+ bias_i[n] on every row) (relu when flags & 4),
 * op transposing A when flags & 1 and B when flags & 2; A_i = A + i aStride, B_i = B + i bStride,
 * C_i = C + i m n, bias_i = bias + i biasStride (bias may be NULL).
 */
void gemm_run(int flags, int64_t batch, int64_t m, int64_t n, int64_t k, const float *A, int64_t aStride, const float *B, int64_t bStride, float *C,
              const float *bias, int64_t biasStride);
#endif
