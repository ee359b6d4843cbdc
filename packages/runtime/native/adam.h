/* difflab-blas's Adam / AdamW step (adam.c). */
#ifndef DIFFLAB_ADAM_H
#define DIFFLAB_ADAM_H
#include <stdint.h>
typedef struct {
  float b1, b1c, b2, b2c, eps, step, bc2, decay;
  int mode;
} AdamConsts;
/* One step over n values: p2, m2, v2 from p, g, m, v (see adam.c). */
void adam_step(const float *p, const float *g, const float *m, const float *v, int64_t n, const AdamConsts *c, float *p2, float *m2, float *v2);
#endif
