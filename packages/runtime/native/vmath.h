/* difflab-blas's vector math (vmath.c): float32 loops that the compiler vectorises. */
#ifndef DIFFLAB_VMATH_H
#define DIFFLAB_VMATH_H
#include <stdint.h>
void vm_sin(const float *x, float *y, int64_t n);
void vm_cos(const float *x, float *y, int64_t n);
void vm_gelu(const float *x, float *y, float *cdf, int64_t n);
void vm_gelu_grad(const float *dy, const float *x, const float *cdf, float *dx, int64_t n);
void vm_silu(const float *x, float *y, int64_t n);
/* x = x sigmoid(x) in place. */
void vm_silu_inplace(float *x, int64_t n);
void vm_silu_grad(const float *dy, const float *x, float *dx, int64_t n);
/* out[i, :] = [sin(x_i f), cos(x_i f)] over the F frequencies f (cos first when cos_first). */
void vm_sinusoidal(const float *x, const float *freqs, int64_t n, int64_t F, int cos_first, float *out);
/* out[o, c] = sum over r of x[o, r, c] for x [outer, rows, cols] (the middle axis reduced). */
void vm_colsum(const float *x, int64_t outer, int64_t rows, int64_t cols, float *out);
/* out[b, c, r, :] = x[b, r, c, :] for x [batch, rows, cols, inner] of 32-bit words (two adjacent axis blocks swapped). */
void vm_block_swap(const uint32_t *x, int64_t batch, int64_t rows, int64_t cols, int64_t inner, uint32_t *out);
/* out[o, m, i] = a[o, m, i] op b[bo ? o : 0, i], op 0 +, 1 *, 2 -, 3 reversed - (b - a); x [O, M, I]. */
void vm_binary(int op, const float *a, const float *b, int64_t O, int64_t M, int64_t I, int bo, float *out);
/* Each row of s [rows, cols] replaced by its softmax exp(s - max) / sum (in place). */
void vm_softmax_rows(float *s, int64_t rows, int64_t cols);
#endif
