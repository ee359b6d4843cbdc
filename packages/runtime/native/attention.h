/* difflab-blas's multi-head attention (attention.c): softmax(q k^T / sqrt(d)) v read from a fused qkv projection. */
#ifndef DIFFLAB_ATTENTION_H
#define DIFFLAB_ATTENTION_H
#include <stdint.h>
/*
 * qkv [B N, 3 W] (columns (3, heads, d), W = heads d, torch's qkv(x).reshape(B, N, 3, heads, d))
 * -> out [B N, W] (heads side by side) and weights [B heads, N, N] = softmax(q k^T / sqrt(d)).
 */
void attn_forward(const float *qkv, int64_t B, int64_t N, int64_t heads, int64_t d, float *out, float *weights);
/* dqkv [B N, 3 W] from dout [B N, W], qkv and weights. Returns -1 when out of memory (dqkv then incomplete). */
int attn_backward(const float *dout, const float *qkv, const float *weights, int64_t B, int64_t N, int64_t heads, int64_t d, float *dqkv);
#endif
