/*
 * One Adam / AdamW step (Kingma & Ba 2015; Loshchilov & Hutter 2019) over flat float32 vectors:
 * difflab's `DifflabAdam` kernel, with the float32 operations of @difflab/training's tfjs ops and of
 * the WebAssembly SIMD module's adamStep, in the same order:
 *
 *   g = g scale (the gradient clip's coefficient; 1 leaves g as it is)
 *   mode 2 (AdamW): p = p decay;  mode 1 (L2): g = g + p decay
 *   m' = m b1 + g b1c;  v' = v b2 + (g g) b2c
 *   p' = p - (m' / (sqrt(v') bc2 + eps)) step
 *
 * and, for `DifflabOptimizerStep`, the weights' moving average in the same pass:
 *
 *   ema 1: s' = p';  ema 2: s' = s - (s - p') w     (@difflab/training's EMA, w = 1 - decay)
 *
 * Compiled without contraction into fused multiply-adds (the attribute below), so every result is
 * the correctly rounded float32 of each operation, bit for bit the tfjs ops' result.
 */
#include "adam.h"
#include <math.h>
#include <stddef.h>

/* The loop, specialised by the compiler for each (mode, ema) (both loop-invariant). */
__attribute__((optimize("fp-contract=off"))) static inline void step(const float *restrict p, const float *restrict g, const float *restrict m,
                                                                    const float *restrict v, int64_t n, const AdamConsts *c, float *restrict p2,
                                                                    float *restrict m2, float *restrict v2, const float *restrict s, float *restrict s2,
                                                                    int ema, float w) {
  const float b1 = c->b1, b1c = c->b1c, b2 = c->b2, b2c = c->b2c, eps = c->eps, stp = c->step, bc2 = c->bc2, decay = c->decay, scale = c->scale;
  const int mode = c->mode;
  for (int64_t i = 0; i < n; i++) {
    float pv = p[i], gv = g[i] * scale;
    if (mode == 2) pv = pv * decay;
    else if (mode == 1) gv = gv + pv * decay;
    const float mv = m[i] * b1 + gv * b1c;
    const float vv = v[i] * b2 + (gv * gv) * b2c;
    m2[i] = mv;
    v2[i] = vv;
    const float pn = pv - (mv / (sqrtf(vv) * bc2 + eps)) * stp;
    p2[i] = pn;
    if (ema == 1) s2[i] = pn;
    else if (ema == 2) s2[i] = s[i] - (s[i] - pn) * w;
  }
}

__attribute__((optimize("fp-contract=off"))) void adam_step(const float *p, const float *g, const float *m, const float *v, int64_t n, const AdamConsts *c,
                                                             float *p2, float *m2, float *v2) {
  step(p, g, m, v, n, c, p2, m2, v2, NULL, NULL, 0, 0.0f);
}

__attribute__((optimize("fp-contract=off"))) void adam_step_ema(const float *p, const float *g, const float *m, const float *v, int64_t n, const AdamConsts *c,
                                                                 float *p2, float *m2, float *v2, const float *s, float *s2, int ema, float w) {
  if (ema == 1) step(p, g, m, v, n, c, p2, m2, v2, s, s2, 1, w);
  else if (ema == 2) step(p, g, m, v, n, c, p2, m2, v2, s, s2, 2, w);
  else step(p, g, m, v, n, c, p2, m2, v2, s, s2, 0, w);
}

/*
 * acc[j] += g[i]^2 (in float64) for the i with i % ADAM_SUM_LANES == j: independent partial sums,
 * so the loop vectorises and its result does not depend on who calls it.
 */
__attribute__((optimize("fp-contract=off"))) void adam_sum_squares(const float *restrict g, int64_t n, double *restrict acc) {
  int64_t i = 0;
  for (; i + ADAM_SUM_LANES <= n; i += ADAM_SUM_LANES) {
    for (int j = 0; j < ADAM_SUM_LANES; j++) {
      const double x = g[i + j];
      acc[j] += x * x;
    }
  }
  for (int j = 0; i < n; i++, j++) {
    const double x = g[i];
    acc[j] += x * x;
  }
}
