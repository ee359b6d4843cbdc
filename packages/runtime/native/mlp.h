/* difflab-blas's residual MLP (mlp.c): tiny-diffusion's whole network as one forward and one backward call. */
#ifndef DIFFLAB_MLP_H
#define DIFFLAB_MLP_H
#include <stdint.h>
/* Activations: GELU (exact, erf), SiLU, ReLU. */
enum { MLP_GELU = 0, MLP_SILU = 1, MLP_RELU = 2 };
/* The model's sizes: K residual blocks of width H between an input layer D0 -> H and an output layer H -> Dout. */
typedef struct {
  int act;
  int64_t K, N, D0, H, Dout;
} MlpGeom;
/* Floats the forward pass saves for the backward one: per activated layer z, aux (Phi(z) for GELU), h. */
int64_t mlp_saved_size(const MlpGeom *g);
/*
 * y [N, Dout] from x [N, D0]; W[l], b[l] for l = 0 .. K+1 (W[0] [D0, H], W[1..K] [H, H], W[K+1]
 * [H, Dout]); saved [K+1, 3, N, H].
 */
void mlp_forward(const MlpGeom *g, const float *x, const float *const *W, const float *const *b, float *y, float *saved);
/*
 * From dy [N, Dout], x, saved and W: dW[l], db[l] for every layer and, when dx is not NULL,
 * dx [N, D0]. Returns -1 when its scratch memory cannot be allocated (nothing written then).
 */
int mlp_backward(const MlpGeom *g, const float *dy, const float *x, const float *saved, const float *const *W, float *const *dW, float *const *db, float *dx);
#endif
