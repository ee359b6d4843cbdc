/* difflab-blas's Adam / AdamW step (adam.c). */
#ifndef DIFFLAB_ADAM_H
#define DIFFLAB_ADAM_H
#include <stdint.h>
typedef struct {
  float b1, b1c, b2, b2c, eps, step, bc2, decay;
  int mode;
  /* the gradient's factor (the global-norm clip's coefficient; 1: none) */
  float scale;
} AdamConsts;
/* One step over n values: p2, m2, v2 from p, g, m, v (see adam.c). */
void adam_step(const float *p, const float *g, const float *m, const float *v, int64_t n, const AdamConsts *c, float *p2, float *m2, float *v2);
/* The same step and the moving average s2 of the new weights: ema 0 none, 1 s2 = p2, 2 s2 = s - (s - p2) w. */
void adam_step_ema(const float *p, const float *g, const float *m, const float *v, int64_t n, const AdamConsts *c, float *p2, float *m2, float *v2,
                   const float *s, float *s2, int ema, float w);
/* Partial sums of squares (float64): acc[i % ADAM_SUM_LANES] += g[i]^2. */
#define ADAM_SUM_LANES 16
void adam_sum_squares(const float *g, int64_t n, double *acc);
#endif
