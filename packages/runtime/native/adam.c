/*
 * One Adam / AdamW step (Kingma & Ba 2015; Loshchilov & Hutter 2019) over flat float32 vectors:
 * difflab's `DifflabAdam` kernel, with the float32 operations of @difflab/training's tfjs ops and of
 * the WebAssembly SIMD module's adamStep, in the same order:
 *
 *   mode 2 (AdamW): p = p decay;  mode 1 (L2): g = g + p decay
 *   m' = m b1 + g b1c;  v' = v b2 + (g g) b2c
 *   p' = p - (m' / (sqrt(v') bc2 + eps)) step
 *
 * Compiled without contraction into fused multiply-adds (the attribute below), so every result is
 * the correctly rounded float32 of each operation, bit for bit the tfjs ops' result.
 */
#include "adam.h"
#include <math.h>

__attribute__((optimize("fp-contract=off"))) void adam_step(const float *restrict p, const float *restrict g, const float *restrict m, const float *restrict v,
                                                             int64_t n, const AdamConsts *c, float *restrict p2, float *restrict m2, float *restrict v2) {
  const float b1 = c->b1, b1c = c->b1c, b2 = c->b2, b2c = c->b2c, eps = c->eps, step = c->step, bc2 = c->bc2, decay = c->decay;
  const int mode = c->mode;
  for (int64_t i = 0; i < n; i++) {
    float pv = p[i], gv = g[i];
    if (mode == 2) pv = pv * decay;
    else if (mode == 1) gv = gv + pv * decay;
    const float mv = m[i] * b1 + gv * b1c;
    const float vv = v[i] * b2 + (gv * gv) * b2c;
    m2[i] = mv;
    v2[i] = vv;
    p2[i] = pv - (mv / (sqrtf(vv) * bc2 + eps)) * step;
  }
}
