/*
 * difflab-blas, the N-API entry points: single-precision GEMM from the system's OpenBLAS (here),
 * convolutions (conv.c), group normalisation (norm.c), vector math (vmath.c), Adam (adam.c), the
 * residual MLP (mlp.c), multi-head attention (attention.c) and strided copies (copy.c) on tensors
 * that live in tfjs-backend-wasm's linear memory (Node only). Built by scripts/build-native.mjs;
 * loaded by src/wasm-kernels/native-blas.ts; used by the wasm kernels of
 * src/wasm-kernels/native-kernels.ts.
 *
 * WebAssembly SIMD is 128 bits wide, so tfjs-backend-wasm's XNNPACK tops out at ~35 GFLOP/s a
 * core on the matmuls of difflab's models, where OpenBLAS's AVX-512 / AVX2 kernels run at
 * 150-200 (tools/bench/RESULTS.md). The operands are read and the result written in place in the
 * wasm heap (a Float32Array over the module's memory, shared or not): no copies.
 *
 * Every call checks that what it reads and writes lies inside the heap it was given.
 */
#include <node_api.h>
#include "adam.h"
#include "attention.h"
#include "conv.h"
#include "copy.h"
#include "gemm.h"
#include "mlp.h"
#include "parallel.h"
#include "norm.h"
#include "vmath.h"
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* OpenBLAS extensions (declared in its cblas.h too; repeated so another CBLAS still compiles). */
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int);

static int fits(int64_t off, int64_t batch, int64_t stride, int64_t size, int64_t len) {
  if (off < 0 || batch < 1 || stride < 0 || size < 0) return 0;
  int64_t last = off + (batch - 1) * stride + size;
  return last <= len;
}

/*
 * Transparent huge pages for the heap. Debian's kernels default to THP "madvise": only memory a
 * program marks gets 2 MB pages, and V8 does not mark a WebAssembly memory. The heap holds every
 * tensor (an image model's activations are 4-16 MB each), so 4 KB pages cost a TLB miss every 4 KB
 * a kernel streams and a page fault every 4 KB the heap first touches. Marked once per heap buffer
 * (it changes when the module's memory grows); DIFFLAB_NATIVE_HUGEPAGES=0 leaves it unmarked.
 */
static void advise_heap(void *data, size_t bytes) {
#ifdef MADV_HUGEPAGE
  static void *last = NULL;
  static size_t last_bytes = 0;
  static int enabled = -1;
  if (enabled < 0) {
    const char *e = getenv("DIFFLAB_NATIVE_HUGEPAGES");
    enabled = !(e && strcmp(e, "0") == 0);
  }
  if (!enabled || (data == last && bytes == last_bytes)) return;
  last = data;
  last_bytes = bytes;
  const uintptr_t page = 2u << 20, lo = ((uintptr_t)data + page - 1) & ~(page - 1), hi = ((uintptr_t)data + bytes) & ~(page - 1);
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

/* Reads argv[0] as the heap (Float32Array) and argv[1..n-1] as int64 into v; 0 on error (thrown). */
static int heap_args(napi_env env, napi_callback_info info, const char *name, size_t n, float **heap, int64_t *len, int64_t *v) {
  napi_value argv[24];
  size_t argc = 24;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char msg[160];
  if (argc != n) {
    snprintf(msg, sizeof msg, "difflab-blas %s: expected %d arguments", name, (int)n);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  void *data = NULL;
  size_t count = 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, argv[0], &type, &count, &data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    snprintf(msg, sizeof msg, "difflab-blas %s: the heap must be a Float32Array", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    if (napi_get_value_int64(env, argv[i], &v[i - 1]) != napi_ok) {
      snprintf(msg, sizeof msg, "difflab-blas %s: sizes and offsets must be numbers", name);
      napi_throw_type_error(env, NULL, msg);
      return 0;
    }
  }
  advise_heap(data, count * sizeof(float));
  *heap = (float *)data;
  *len = (int64_t)count;
  return 1;
}

static int outside(napi_env env, const char *name) {
  char msg[160];
  snprintf(msg, sizeof msg, "difflab-blas %s: an operand lies outside the heap (or a size is not positive)", name);
  napi_throw_range_error(env, NULL, msg);
  return 0;
}

/*
 * gemm(heap, flags, batch, m, n, k, aOff, aStride, bOff, bStride, cOff, biasOff, biasStride)
 * For i < batch: C_i[m,n] = op(A_i) op(B_i) (+ bias_i[n] on every row) (then relu), where
 * A_i = heap[aOff + i*aStride ...] is [m,k] ([k,m] when flags&1), B_i = heap[bOff + i*bStride ...]
 * is [k,n] ([n,k] when flags&2), C_i = heap[cOff + i*m*n ...]; flags&4 applies relu; biasOff < 0:
 * no bias. Offsets and strides count float32 elements; a stride of 0 broadcasts.
 */
static napi_value Gemm(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[12];
  if (!heap_args(env, info, "gemm", 13, &H, &L, v)) return NULL;
  const int flags = (int)v[0];
  const int64_t batch = v[1], m = v[2], n = v[3], k = v[4];
  const int64_t aOff = v[5], aStride = v[6], bOff = v[7], bStride = v[8], cOff = v[9], biasOff = v[10], biasStride = v[11];
  if (m < 1 || n < 1 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || !fits(aOff, batch, aStride, m * k, L) ||
      !fits(bOff, batch, bStride, k * n, L) || !fits(cOff, batch, m * n, m * n, L) || (biasOff >= 0 && !fits(biasOff, batch, biasStride, n, L))) {
    outside(env, "gemm");
    return NULL;
  }
  gemm_run(flags, batch, m, n, k, H + aOff, aStride, H + bOff, bStride, H + cOff, biasOff >= 0 ? H + biasOff : NULL, biasStride);
  return NULL;
}


/*
 * conv2d(heap, xOff, B, H, W, Cin, wOff, kh, kw, Cout, sh, sw, pt, pl, Ho, Wo, yOff, biasOff, flags, addOff, addMode)
 * y[B,Ho,Wo,Cout] = conv(x[B,H,W,Cin], w[kh,kw,Cin,Cout]) (NHWC, cross-correlation as tfjs), + bias
 * [Cout] when biasOff >= 0, + addend at addOff ([B,Cout] when addMode 1, [B,Ho,Wo,Cout] when 2),
 * relu when flags & 4. im2col rows of a few images at a time, then sgemm.
 */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[20];
  if (!heap_args(env, info, "conv2d", 21, &H, &L, v)) return NULL;
  ConvGeom g = {v[1], v[2], v[3], v[4], v[13], v[14], v[8], v[6], v[7], v[9], v[10], v[11], v[12]};
  const int64_t xOff = v[0], wOff = v[5], yOff = v[15], biasOff = v[16], flags = v[17], addOff = v[18], addMode = v[19];
  const int64_t K = g.kh * g.kw * g.Cin, M = g.Ho * g.Wo;
  if (!conv_geom_ok(&g) || !fits(xOff, 1, 0, g.B * g.H * g.W * g.Cin, L) || !fits(wOff, 1, 0, K * g.Cout, L) || !fits(yOff, 1, 0, g.B * M * g.Cout, L) ||
      (biasOff >= 0 && !fits(biasOff, 1, 0, g.Cout, L)) || (addMode != 0 && !fits(addOff, 1, 0, addMode == 1 ? g.B * g.Cout : g.B * M * g.Cout, L))) {
    outside(env, "conv2d");
    return NULL;
  }
  if (addMode < 0 || addMode > 2) {
    napi_throw_range_error(env, NULL, "difflab-blas conv2d: addMode must be 0 (none), 1 (per image) or 2 (per pixel)");
    return NULL;
  }
  if (conv_forward(&g, H + xOff, H + wOff, biasOff >= 0 ? H + biasOff : NULL, addMode ? H + addOff : NULL, addMode == 1, (flags & 4) != 0, H + yOff) != 0)
    napi_throw_error(env, NULL, "difflab-blas conv2d: out of memory for the im2col rows");
  return NULL;
}

/*
 * convFilterGrad(heap, xOff, B, H, W, Cin, dyOff, Ho, Wo, Cout, kh, kw, sh, sw, pt, pl, dwOff)
 * dw[kh,kw,Cin,Cout] of conv2d above from x and dy[B,Ho,Wo,Cout].
 */
static napi_value ConvFilterGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[16];
  if (!heap_args(env, info, "convFilterGrad", 17, &H, &L, v)) return NULL;
  ConvGeom g = {v[1], v[2], v[3], v[4], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  const int64_t xOff = v[0], dyOff = v[5], dwOff = v[15];
  const int64_t K = g.kh * g.kw * g.Cin, M = g.Ho * g.Wo;
  if (!conv_geom_ok(&g) || !fits(xOff, 1, 0, g.B * g.H * g.W * g.Cin, L) || !fits(dyOff, 1, 0, g.B * M * g.Cout, L) || !fits(dwOff, 1, 0, K * g.Cout, L)) {
    outside(env, "convFilterGrad");
    return NULL;
  }
  if (conv_filter_grad(&g, H + xOff, H + dyOff, H + dwOff) != 0) napi_throw_error(env, NULL, "difflab-blas convFilterGrad: out of memory for the im2col rows");
  return NULL;
}

/*
 * convInputGrad(heap, dyOff, B, Ho, Wo, Cout, wOff, kh, kw, Cin, sh, sw, pt, pl, H, W, dxOff)
 * dx[B,H,W,Cin] of conv2d above from dy[B,Ho,Wo,Cout] and w.
 */
static napi_value ConvInputGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[16];
  if (!heap_args(env, info, "convInputGrad", 17, &H, &L, v)) return NULL;
  ConvGeom g = {v[1], v[13], v[14], v[8], v[2], v[3], v[4], v[6], v[7], v[9], v[10], v[11], v[12]};
  const int64_t dyOff = v[0], wOff = v[5], dxOff = v[15];
  const int64_t K = g.kh * g.kw * g.Cin, M = g.Ho * g.Wo;
  if (!conv_geom_ok(&g) || !fits(dyOff, 1, 0, g.B * M * g.Cout, L) || !fits(wOff, 1, 0, K * g.Cout, L) || !fits(dxOff, 1, 0, g.B * g.H * g.W * g.Cin, L)) {
    outside(env, "convInputGrad");
    return NULL;
  }
  if (conv_input_grad(&g, H + dyOff, H + wOff, H + dxOff) != 0) napi_throw_error(env, NULL, "difflab-blas convInputGrad: out of memory for the column rows");
  return NULL;
}

/*
 * elementwise(heap, op, n, aOff, bOff, cOff, dOff): vector math of vmath.c on n values.
 * op 0: b = sin(a); 1: b = cos(a); 2: GELU, b = a Phi(a), c = Phi(a);
 * 3: GELU gradient, d = a (c + b phi(b)) with a = dy, b = x, c = Phi(x);
 * 4: SiLU, b = a sigmoid(a); 5: SiLU gradient, c from a = dy, b = x.
 */
/*
 * Element-wise passes over tensors of a million values or more (an image model's activations) split
 * over the addon's threads (parallel.c): a thread's start (~55 us here) is then a small share of
 * the pass (~0.5-3 ms).
 */
#define ELEMENTWISE_MIN_CHUNK (1 << 18)

typedef struct {
  int op;
  float *a, *b, *c, *d;
} Unary;

static void unary_range(void *p, int64_t i0, int64_t i1) {
  const Unary *u = (const Unary *)p;
  const int64_t n = i1 - i0;
  if (u->op == 0) vm_sin(u->a + i0, u->b + i0, n);
  else if (u->op == 1) vm_cos(u->a + i0, u->b + i0, n);
  else if (u->op == 2) vm_gelu(u->a + i0, u->b + i0, u->c + i0, n);
  else if (u->op == 3) vm_gelu_grad(u->a + i0, u->b + i0, u->c + i0, u->d + i0, n);
  else if (u->op == 4) vm_silu(u->a + i0, u->b + i0, n);
  else vm_silu_grad(u->a + i0, u->b + i0, u->c + i0, n);
}

static napi_value Elementwise(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "elementwise", 7, &H, &L, v)) return NULL;
  const int64_t op = v[0], n = v[1], a = v[2], b = v[3], c = v[4], d = v[5];
  const int used = op == 0 || op == 1 || op == 4 ? 2 : op == 2 || op == 5 ? 3 : op == 3 ? 4 : 0;
  if (used == 0) {
    napi_throw_range_error(env, NULL, "difflab-blas elementwise: unknown op (0 sin, 1 cos, 2 gelu, 3 gelu gradient, 4 silu, 5 silu gradient)");
    return NULL;
  }
  const int64_t offs[4] = {a, b, c, d};
  for (int i = 0; i < used; i++) {
    if (n < 0 || !fits(offs[i], 1, 0, n, L)) {
      outside(env, "elementwise");
      return NULL;
    }
  }
  Unary u = {(int)op, H + a, H + b, H + c, H + d};
  par_range(n, ELEMENTWISE_MIN_CHUNK, 16, unary_range, &u);
  return NULL;
}

/*
 * groupNorm(heap, xOff, gammaOff, betaOff, B, M, C, G, yOff, statsOff, eps, silu) and
 * groupNormGrad(heap, dyOff, xOff, statsOff, gammaOff, B, M, C, G, dxOff, dgammaOff, dbetaOff, betaOff):
 * norm.c on x [B, M, C] with G groups (C a multiple of G); eps is a number, the rest whole. silu 1:
 * y = silu(group norm); betaOff >= 0: the gradient of that (betaOff < 0: of the plain group norm).
 */
static napi_value GroupNorm(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[11];
  double eps = 0;
  if (!heap_args(env, info, "groupNorm", 12, &H, &L, v)) return NULL;
  {
    size_t argc = 12;
    napi_value argv[12];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (napi_get_value_double(env, argv[10], &eps) != napi_ok || !(eps >= 0)) {
      napi_throw_range_error(env, NULL, "difflab-blas groupNorm: eps must be a number >= 0");
      return NULL;
    }
  }
  const int64_t B = v[3], M = v[4], C = v[5], G = v[6], size = B * M * C;
  if (B < 1 || M < 1 || C < 1 || G < 1 || C % G != 0 || !fits(v[0], 1, 0, size, L) || !fits(v[1], 1, 0, C, L) || !fits(v[2], 1, 0, C, L) ||
      !fits(v[7], 1, 0, size, L) || !fits(v[8], 1, 0, B * G * 2, L)) {
    outside(env, "groupNorm");
    return NULL;
  }
  if (gn_forward(H + v[0], H + v[1], H + v[2], B, M, C, G, eps, H + v[7], H + v[8], v[10] != 0) != 0) napi_throw_error(env, NULL, "difflab-blas groupNorm: out of memory");
  return NULL;
}

static napi_value GroupNormGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[12];
  if (!heap_args(env, info, "groupNormGrad", 13, &H, &L, v)) return NULL;
  const int64_t B = v[4], M = v[5], C = v[6], G = v[7], size = B * M * C;
  if (B < 1 || M < 1 || C < 1 || G < 1 || C % G != 0 || !fits(v[0], 1, 0, size, L) || !fits(v[1], 1, 0, size, L) || !fits(v[2], 1, 0, B * G * 2, L) ||
      !fits(v[3], 1, 0, C, L) || !fits(v[8], 1, 0, size, L) || !fits(v[9], 1, 0, C, L) || !fits(v[10], 1, 0, C, L) || (v[11] >= 0 && !fits(v[11], 1, 0, C, L))) {
    outside(env, "groupNormGrad");
    return NULL;
  }
  if (gn_backward(H + v[0], H + v[1], H + v[2], H + v[3], v[11] >= 0 ? H + v[11] : NULL, B, M, C, G, H + v[8], H + v[9], H + v[10]) != 0)
    napi_throw_error(env, NULL, "difflab-blas groupNormGrad: out of memory");
  return NULL;
}

/*
 * sinusoidal(heap, xOff, freqOff, N, F, cosFirst, outOff): out [N, 2F] = [sin(x f), cos(x f)]
 * (cos first when cosFirst != 0) for x [N] and freqs [F].
 */
static napi_value Sinusoidal(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "sinusoidal", 7, &H, &L, v)) return NULL;
  const int64_t N = v[2], F = v[3];
  if (N < 1 || F < 1 || !fits(v[0], 1, 0, N, L) || !fits(v[1], 1, 0, F, L) || !fits(v[5], 1, 0, N * 2 * F, L)) {
    outside(env, "sinusoidal");
    return NULL;
  }
  vm_sinusoidal(H + v[0], H + v[1], N, F, v[4] != 0, H + v[5]);
  return NULL;
}

/*
 * adam(heap, pOff, gOff, mOff, vOff, n, mode, p2Off, m2Off, v2Off, b1, b1c, b2, b2c, eps, step, bc2, decay):
 * one Adam step (adam.c); the last eight are numbers (float32 constants), the rest whole.
 */
typedef struct {
  const AdamConsts *c;
  const float *p, *g, *m, *v;
  float *p2, *m2, *v2;
} AdamJob;

static void adam_range(void *arg, int64_t i0, int64_t i1) {
  const AdamJob *j = (const AdamJob *)arg;
  adam_step(j->p + i0, j->g + i0, j->m + i0, j->v + i0, i1 - i0, j->c, j->p2 + i0, j->m2 + i0, j->v2 + i0);
}

static napi_value Adam(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[17];
  if (!heap_args(env, info, "adam", 18, &H, &L, v)) return NULL;
  size_t argc = 18;
  napi_value argv[18];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double d[8];
  for (int i = 0; i < 8; i++) {
    if (napi_get_value_double(env, argv[10 + i], &d[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "difflab-blas adam: the constants must be numbers");
      return NULL;
    }
  }
  const int64_t n = v[4], mode = v[5];
  if (mode < 0 || mode > 2) {
    napi_throw_range_error(env, NULL, "difflab-blas adam: mode must be 0, 1 or 2");
    return NULL;
  }
  const int64_t offs[7] = {v[0], v[1], v[2], v[3], v[6], v[7], v[8]};
  for (int i = 0; i < 7; i++) {
    if (n < 1 || !fits(offs[i], 1, 0, n, L)) {
      outside(env, "adam");
      return NULL;
    }
  }
  const AdamConsts c = {(float)d[0], (float)d[1], (float)d[2], (float)d[3], (float)d[4], (float)d[5], (float)d[6], (float)d[7], (int)mode, 1.0f};
  AdamJob j = {&c, H + v[0], H + v[1], H + v[2], H + v[3], H + v[6], H + v[7], H + v[8]};
  par_range(n, ELEMENTWISE_MIN_CHUNK, 16, adam_range, &j);
  return NULL;
}

/*
 * optimizerStep(heap, plan, consts): `DifflabOptimizerStep`, the gradient clip, Adam step and EMA
 * update of K tensors in one call (adam.c).
 * plan = [K, mode, ema, mOff, vOff, sOff, m2Off, v2Off, s2Off, normOff, then per tensor: size, pOff,
 * gOff, p2Off]; m, v, s, m2, v2, s2 are flat over the K tensors in order (sOff, s2Off unused when ema
 * is 0); consts = [b1, b1c, b2, b2c, eps, step, bc2, decay, maxNorm, w] (float64, used as float32).
 * norm = ||g||_2 of all K gradients; when maxNorm > 0 every g is scaled by
 * min(maxNorm / (norm + 1e-6), 1) (torch's clip_grad_norm_) before the step.
 */
static int plan_args(napi_env env, napi_callback_info info, const char *name, size_t nargs, float **heap, int64_t *len, const double **plan, size_t *count);

/*
 * The optimizer step streams ~9 values a parameter (p, g, m, v, s in; p', m', v', s' out), more than
 * L2 holds from ~60K parameters: threads from 32K values a share (the spiral MLP's 99K parameters:
 * its training step ~0.04 ms faster than on one thread). The shares are contiguous ranges of
 * independent values, so the bits do not change.
 */
#define OPTIMIZER_MIN_CHUNK (1 << 15)

typedef struct {
  const AdamConsts *c;
  int64_t K;
  const int64_t *start; /* start[k]: tensor k's first index in the flat vectors; start[K] = total */
  float *const *p, *const *g, *const *p2;
  const float *m, *v, *s;
  float *m2, *v2, *s2;
  int ema;
  float w;
} StepJob;

static void step_range(void *arg, int64_t i0, int64_t i1) {
  const StepJob *j = (const StepJob *)arg;
  int64_t k = 0;
  while (j->start[k + 1] <= i0) k++;
  for (; k < j->K && j->start[k] < i1; k++) {
    const int64_t a = i0 > j->start[k] ? i0 : j->start[k], b = i1 < j->start[k + 1] ? i1 : j->start[k + 1], o = a - j->start[k];
    adam_step_ema(j->p[k] + o, j->g[k] + o, j->m + a, j->v + a, b - a, j->c, j->p2[k] + o, j->m2 + a, j->v2 + a, j->ema ? j->s + a : NULL,
                  j->ema ? j->s2 + a : NULL, j->ema, j->w);
  }
}

static napi_value OptimizerStep(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *cd = NULL;
  size_t cn = 0;
  napi_typedarray_type ct;
  if (argc != 3 || napi_get_typedarray_info(env, argv[2], &ct, &cn, &cd, NULL, NULL) != napi_ok || ct != napi_float64_array || cn != 10) {
    napi_throw_type_error(env, NULL, "difflab-blas optimizerStep: expected (heap: Float32Array, plan: Float64Array, consts: Float64Array of 10)");
    return NULL;
  }
  float *H;
  int64_t L;
  const double *p;
  size_t count;
  if (!plan_args(env, info, "optimizerStep", 3, &H, &L, &p, &count)) return NULL;
  const double *d = (const double *)cd;
  if (count < 10 || p[0] < 1 || count != 10 + 4 * (size_t)p[0]) {
    napi_throw_range_error(env, NULL, "difflab-blas optimizerStep: the plan must hold 10 numbers and 4 per tensor (K >= 1)");
    return NULL;
  }
  const int64_t K = (int64_t)p[0], mode = (int64_t)p[1], ema = (int64_t)p[2];
  if (mode < 0 || mode > 2 || ema < 0 || ema > 2) {
    napi_throw_range_error(env, NULL, "difflab-blas optimizerStep: mode must be 0, 1 or 2 and ema 0, 1 or 2");
    return NULL;
  }
  int64_t *start = (int64_t *)malloc((size_t)(K + 1) * sizeof(int64_t));
  float **ptrs = (float **)malloc((size_t)(3 * K) * sizeof(float *));
  if (!start || !ptrs) {
    free(start);
    free(ptrs);
    napi_throw_error(env, NULL, "difflab-blas optimizerStep: out of memory");
    return NULL;
  }
  float **P = ptrs, **G = ptrs + K, **P2 = ptrs + 2 * K;
  int ok = 1;
  start[0] = 0;
  for (int64_t k = 0; k < K && ok; k++) {
    const int64_t n = (int64_t)p[10 + 4 * k], po = (int64_t)p[11 + 4 * k], go = (int64_t)p[12 + 4 * k], p2o = (int64_t)p[13 + 4 * k];
    ok = n >= 1 && fits(po, 1, 0, n, L) && fits(go, 1, 0, n, L) && fits(p2o, 1, 0, n, L);
    start[k + 1] = start[k] + n;
    P[k] = H + po;
    G[k] = H + go;
    P2[k] = H + p2o;
  }
  const int64_t N = start[K];
  for (int i = 3; i < 10 && ok; i++) {
    if ((i == 5 || i == 8) && ema == 0) continue;
    ok = fits((int64_t)p[i], 1, 0, i == 9 ? 1 : N, L);
  }
  if (!ok) {
    free(start);
    free(ptrs);
    outside(env, "optimizerStep");
    return NULL;
  }
  double acc[ADAM_SUM_LANES] = {0};
  for (int64_t k = 0; k < K; k++) adam_sum_squares(G[k], start[k + 1] - start[k], acc);
  double sum = 0;
  for (int j = 0; j < ADAM_SUM_LANES; j++) sum += acc[j];
  /* float32, as the tfjs ops of @difflab/training's clipFlatByGlobalNorm */
  const float norm = (float)sqrt(sum);
  float scale = 1.0f;
  if (d[8] > 0) {
    const float q = (float)d[8] / (norm + 1e-6f);
    scale = q < 1.0f ? q : 1.0f;
  }
  H[(int64_t)p[9]] = norm;
  const AdamConsts c = {(float)d[0], (float)d[1], (float)d[2], (float)d[3], (float)d[4], (float)d[5], (float)d[6], (float)d[7], (int)mode, scale};
  StepJob j = {&c, K, start, P, G, P2, H + (int64_t)p[3], H + (int64_t)p[4], ema ? H + (int64_t)p[5] : NULL, H + (int64_t)p[6], H + (int64_t)p[7],
               ema ? H + (int64_t)p[8] : NULL, (int)ema, (float)d[9]};
  par_range(N, OPTIMIZER_MIN_CHUNK, 16, step_range, &j);
  free(start);
  free(ptrs);
  return NULL;
}

/* colsum(heap, xOff, outer, rows, cols, outOff): out [outer, cols] = x [outer, rows, cols] summed over rows. */
static napi_value Colsum(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[5];
  if (!heap_args(env, info, "colsum", 6, &H, &L, v)) return NULL;
  const int64_t outer = v[1], rows = v[2], cols = v[3];
  if (outer < 1 || rows < 1 || cols < 1 || !fits(v[0], 1, 0, outer * rows * cols, L) || !fits(v[4], 1, 0, outer * cols, L)) {
    outside(env, "colsum");
    return NULL;
  }
  vm_colsum(H + v[0], outer, rows, cols, H + v[4]);
  return NULL;
}

/*
 * layerNorm(heap, xOff, rows, C, xhatOff, rstdOff, eps) and layerNormGrad(heap, dyOff, xhatOff,
 * rstdOff, rows, C, dxOff): norm.c's layer norm over the last axis of [rows, C].
 */
/* Rows of a layer norm: forward reads x, writes xhat, rstd; backward reads dy, xhat, rstd, writes dx. */
typedef struct {
  const float *x, *dy;
  float *xhat, *rstd, *dx;
  int64_t C;
  double eps;
} LnJob;

static void ln_forward_range(void *arg, int64_t r0, int64_t r1) {
  const LnJob *j = (const LnJob *)arg;
  ln_forward(j->x + r0 * j->C, r1 - r0, j->C, j->eps, j->xhat + r0 * j->C, j->rstd + r0);
}

static void ln_backward_range(void *arg, int64_t r0, int64_t r1) {
  const LnJob *j = (const LnJob *)arg;
  ln_backward(j->dy + r0 * j->C, j->xhat + r0 * j->C, j->rstd + r0, r1 - r0, j->C, j->dx + r0 * j->C);
}

static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "layerNorm", 7, &H, &L, v)) return NULL;
  size_t argc = 7;
  napi_value argv[7];
  double eps = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (napi_get_value_double(env, argv[6], &eps) != napi_ok || !(eps >= 0)) {
    napi_throw_range_error(env, NULL, "difflab-blas layerNorm: eps must be a number >= 0");
    return NULL;
  }
  const int64_t rows = v[1], C = v[2];
  if (rows < 1 || C < 1 || !fits(v[0], 1, 0, rows * C, L) || !fits(v[3], 1, 0, rows * C, L) || !fits(v[4], 1, 0, rows, L)) {
    outside(env, "layerNorm");
    return NULL;
  }
  LnJob j = {H + v[0], NULL, H + v[3], H + v[4], NULL, C, eps};
  par_range(rows, ELEMENTWISE_MIN_CHUNK / C + 1, 1, ln_forward_range, &j);
  return NULL;
}

static napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "layerNormGrad", 7, &H, &L, v)) return NULL;
  const int64_t rows = v[3], C = v[4];
  if (rows < 1 || C < 1 || !fits(v[0], 1, 0, rows * C, L) || !fits(v[1], 1, 0, rows * C, L) || !fits(v[2], 1, 0, rows, L) || !fits(v[5], 1, 0, rows * C, L)) {
    outside(env, "layerNormGrad");
    return NULL;
  }
  LnJob j = {NULL, H + v[0], H + v[1], H + v[2], H + v[5], C, 0};
  par_range(rows, ELEMENTWISE_MIN_CHUNK / C + 1, 1, ln_backward_range, &j);
  return NULL;
}

/* blockSwap(heap, xOff, batch, rows, cols, inner, outOff): out [batch, cols, rows, inner] from x [batch, rows, cols, inner] (32-bit words). */
static napi_value BlockSwap(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "blockSwap", 7, &H, &L, v)) return NULL;
  const int64_t n = v[1] * v[2] * v[3] * v[4];
  if (v[1] < 1 || v[2] < 1 || v[3] < 1 || v[4] < 1 || !fits(v[0], 1, 0, n, L) || !fits(v[5], 1, 0, n, L)) {
    outside(env, "blockSwap");
    return NULL;
  }
  vm_block_swap((const uint32_t *)(H + v[0]), v[1], v[2], v[3], v[4], (uint32_t *)(H + v[5]));
  return NULL;
}

/*
 * copy2d(heap, srcOff, srcStride, dstOff, dstStride, rows, cols): copy.c's copy2d of 32-bit
 * values, dst[r dstStride + j] = src[r srcStride + j] (r < rows, j < cols); dstStride >= cols
 * when rows > 1, and the spans the two cover must not overlap.
 */
static napi_value Copy2dFn(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "copy2d", 7, &H, &L, v)) return NULL;
  const int64_t srcOff = v[0], srcStride = v[1], dstOff = v[2], dstStride = v[3], rows = v[4], cols = v[5];
  if (rows < 1 || cols < 1 || (rows > 1 && dstStride < cols) || rows > L || cols > L || srcStride > L || dstStride > L || !fits(srcOff, rows, srcStride, cols, L) ||
      !fits(dstOff, rows, dstStride, cols, L)) {
    outside(env, "copy2d");
    return NULL;
  }
  const int64_t srcEnd = srcOff + (rows - 1) * srcStride + cols, dstEnd = dstOff + (rows - 1) * dstStride + cols;
  if (srcOff < dstEnd && dstOff < srcEnd) {
    napi_throw_range_error(env, NULL, "difflab-blas copy2d: the source and destination overlap");
    return NULL;
  }
  copy2d((uint32_t *)(H + dstOff), dstStride, (const uint32_t *)(H + srcOff), srcStride, rows, cols);
  return NULL;
}

/*
 * resizeNearest(heap, xOff, B, H, W, C, newH, newW, alignCorners, halfPixelCenters, outOff):
 * copy.c's nearest-neighbour resize of x [B, H, W, C] into out [B, newH, newW, C] (32-bit values).
 */
static napi_value ResizeNearest(napi_env env, napi_callback_info info) {
  float *Hp;
  int64_t L, v[10];
  if (!heap_args(env, info, "resizeNearest", 11, &Hp, &L, v)) return NULL;
  const int64_t xOff = v[0], B = v[1], H = v[2], W = v[3], C = v[4], newH = v[5], newW = v[6], outOff = v[9];
  int64_t nx = 0, nout = 0;
  /* each size at most the heap's length (< 2^31) first: the products of two then do not overflow */
  if (B < 1 || H < 1 || W < 1 || C < 1 || newH < 1 || newW < 1 || B > L || H > L || W > L || C > L || newH > L || newW > L ||
      __builtin_mul_overflow(B * H, W * C, &nx) || __builtin_mul_overflow(B * newH, newW * C, &nout) || !fits(xOff, 1, 0, nx, L) || !fits(outOff, 1, 0, nout, L)) {
    outside(env, "resizeNearest");
    return NULL;
  }
  if (xOff < outOff + nout && outOff < xOff + nx) {
    napi_throw_range_error(env, NULL, "difflab-blas resizeNearest: the input and output overlap");
    return NULL;
  }
  if (resize_nearest((const uint32_t *)(Hp + xOff), B, H, W, C, newH, newW, v[7] != 0, v[8] != 0, (uint32_t *)(Hp + outOff)) != 0)
    napi_throw_error(env, NULL, "difflab-blas resizeNearest: out of memory");
  return NULL;
}

/* binary(heap, op, aOff, bOff, O, M, I, bPerO, outOff): vm_binary (op 0 +, 1 *, 2 a - b, 3 b - a). */
typedef struct {
  int op;
  const float *a, *b;
  float *out;
  int64_t M, inner;
  int bo;
} Bin;

/* Elements [e0, e1) of the [O, M, I] output: a partial row, whole rows (per o), a partial row. */
static void binary_range(void *p, int64_t e0, int64_t e1) {
  const Bin *k = (const Bin *)p;
  const int64_t In = k->inner, M = k->M;
  for (int64_t e = e0; e < e1;) {
    const int64_t r = e / In, i = e % In, o = r / M;
    const float *b = k->bo ? k->b + o * In : k->b;
    if (i != 0 || e1 - e < In) {
      /* part of row r: columns i .. */
      const int64_t end = (r + 1) * In < e1 ? (r + 1) * In : e1;
      vm_binary(k->op, k->a + e, b + i, 1, 1, end - e, 0, k->out + e);
      e = end;
    } else {
      /* whole rows r .. of this o */
      int64_t rows = (e1 - e) / In;
      if (rows > (o + 1) * M - r) rows = (o + 1) * M - r;
      vm_binary(k->op, k->a + e, b, 1, rows, In, 0, k->out + e);
      e += rows * In;
    }
  }
}

static napi_value Binary(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[8];
  if (!heap_args(env, info, "binary", 9, &H, &L, v)) return NULL;
  const int64_t op = v[0], O = v[3], M = v[4], inner = v[5], bo = v[6];
  if (op < 0 || op > 3) {
    napi_throw_range_error(env, NULL, "difflab-blas binary: op must be 0 (+), 1 (*), 2 (a - b) or 3 (b - a)");
    return NULL;
  }
  if (O < 1 || M < 1 || inner < 1 || !fits(v[1], 1, 0, O * M * inner, L) || !fits(v[2], 1, 0, bo ? O * inner : inner, L) || !fits(v[7], 1, 0, O * M * inner, L)) {
    outside(env, "binary");
    return NULL;
  }
  Bin k = {(int)op, H + v[1], H + v[2], H + v[7], M, inner, bo != 0};
  par_range(O * M * inner, ELEMENTWISE_MIN_CHUNK, 16, binary_range, &k);
  return NULL;
}

/* info(): { config, corename } of the OpenBLAS this module is linked against, and the addon's threads. */
/* Reads argv[1] as a Float64Array plan of at least `min` numbers (whole, non-negative or -1); 0 on error (thrown). */
static int plan_args(napi_env env, napi_callback_info info, const char *name, size_t nargs, float **heap, int64_t *len, const double **plan, size_t *count) {
  napi_value argv[3];
  size_t argc = 3;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char msg[160];
  void *h = NULL, *p = NULL;
  size_t hn = 0, pn = 0;
  napi_typedarray_type ht, pt;
  if (argc != nargs || napi_get_typedarray_info(env, argv[0], &ht, &hn, &h, NULL, NULL) != napi_ok || ht != napi_float32_array ||
      napi_get_typedarray_info(env, argv[1], &pt, &pn, &p, NULL, NULL) != napi_ok || pt != napi_float64_array) {
    snprintf(msg, sizeof msg, "difflab-blas %s: expected (heap: Float32Array, plan: Float64Array)", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  const double *d = (const double *)p;
  for (size_t i = 0; i < pn; i++) {
    if (d[i] != (double)(int64_t)d[i] || d[i] < -1 || d[i] > 9.0e15) {
      snprintf(msg, sizeof msg, "difflab-blas %s: plan entry %d is not a whole number >= -1", name, (int)i);
      napi_throw_range_error(env, NULL, msg);
      return 0;
    }
  }
  advise_heap(h, hn * sizeof(float));
  *heap = (float *)h;
  *len = (int64_t)hn;
  *plan = d;
  *count = pn;
  return 1;
}

/* The geometry at the start of an MLP plan [act, K, N, D0, H, Dout, ...]; 0 when it is not one (thrown). */
static int mlp_geom(napi_env env, const char *name, const double *p, size_t count, size_t fixed, size_t perLayer, MlpGeom *g) {
  char msg[200];
  if (count < 6 || p[1] < 0 || p[1] > 4096 || count != fixed + perLayer * (size_t)(p[1] + 2)) {
    snprintf(msg, sizeof msg, "difflab-blas %s: the plan must hold %d numbers and %d per layer", name, (int)fixed, (int)perLayer);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *g = (MlpGeom){(int)p[0], (int64_t)p[1], (int64_t)p[2], (int64_t)p[3], (int64_t)p[4], (int64_t)p[5]};
  if (g->act < MLP_GELU || g->act > MLP_RELU || g->N < 1 || g->D0 < 1 || g->H < 1 || g->Dout < 1 || g->N > INT32_MAX || g->D0 > INT32_MAX || g->H > INT32_MAX ||
      g->Dout > INT32_MAX) {
    snprintf(msg, sizeof msg, "difflab-blas %s: act must be 0, 1 or 2 and the sizes positive", name);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* Elements of W_l (which = 0) or b_l (which = 1). */
static int64_t mlp_param_size(const MlpGeom *g, int64_t l, int which) {
  const int64_t din = l == 0 ? g->D0 : g->H, dout = l == g->K + 1 ? g->Dout : g->H;
  return which ? dout : din * dout;
}

/*
 * mlp(heap, plan): mlp.c's forward pass; plan = [act, K, N, D0, H, Dout, xOff, yOff, savedOff,
 * W_0 off, b_0 off, .., W_{K+1} off, b_{K+1} off] (act 0 GELU, 1 SiLU, 2 ReLU; saved holds
 * (K+1) 3 N H floats).
 */
static napi_value Mlp(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L;
  const double *p;
  size_t count;
  MlpGeom g;
  if (!plan_args(env, info, "mlp", 2, &H, &L, &p, &count) || !mlp_geom(env, "mlp", p, count, 9, 2, &g)) return NULL;
  const int64_t layers = g.K + 2;
  if (!fits((int64_t)p[6], 1, 0, g.N * g.D0, L) || !fits((int64_t)p[7], 1, 0, g.N * g.Dout, L) || !fits((int64_t)p[8], 1, 0, mlp_saved_size(&g), L)) return (outside(env, "mlp"), NULL);
  const float **W = (const float **)malloc((size_t)(2 * layers) * sizeof(float *));
  if (!W) {
    napi_throw_error(env, NULL, "difflab-blas mlp: out of memory");
    return NULL;
  }
  const float **b = W + layers;
  for (int64_t l = 0; l < layers; l++) {
    const int64_t wo = (int64_t)p[9 + 2 * l], bo = (int64_t)p[10 + 2 * l];
    if (!fits(wo, 1, 0, mlp_param_size(&g, l, 0), L) || !fits(bo, 1, 0, mlp_param_size(&g, l, 1), L)) {
      free(W);
      return (outside(env, "mlp"), NULL);
    }
    W[l] = H + wo;
    b[l] = H + bo;
  }
  mlp_forward(&g, H + (int64_t)p[6], W, b, H + (int64_t)p[7], H + (int64_t)p[8]);
  free(W);
  return NULL;
}

/*
 * mlpGrad(heap, plan): mlp.c's backward pass; plan = [act, K, N, D0, H, Dout, dyOff, xOff,
 * savedOff, dxOff (-1: no dx), then per layer W_l off, dW_l off, db_l off].
 */
static napi_value MlpGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L;
  const double *p;
  size_t count;
  MlpGeom g;
  if (!plan_args(env, info, "mlpGrad", 2, &H, &L, &p, &count) || !mlp_geom(env, "mlpGrad", p, count, 10, 3, &g)) return NULL;
  const int64_t layers = g.K + 2, dxOff = (int64_t)p[9];
  if (!fits((int64_t)p[6], 1, 0, g.N * g.Dout, L) || !fits((int64_t)p[7], 1, 0, g.N * g.D0, L) || !fits((int64_t)p[8], 1, 0, mlp_saved_size(&g), L) ||
      (dxOff >= 0 && !fits(dxOff, 1, 0, g.N * g.D0, L)))
    return (outside(env, "mlpGrad"), NULL);
  float **ptrs = (float **)malloc((size_t)(3 * layers) * sizeof(float *));
  if (!ptrs) {
    napi_throw_error(env, NULL, "difflab-blas mlpGrad: out of memory");
    return NULL;
  }
  float **W = ptrs, **dW = ptrs + layers, **db = ptrs + 2 * layers;
  for (int64_t l = 0; l < layers; l++) {
    const int64_t wo = (int64_t)p[10 + 3 * l], dwo = (int64_t)p[11 + 3 * l], dbo = (int64_t)p[12 + 3 * l];
    const int64_t ws = mlp_param_size(&g, l, 0), bs = mlp_param_size(&g, l, 1);
    if (!fits(wo, 1, 0, ws, L) || !fits(dwo, 1, 0, ws, L) || !fits(dbo, 1, 0, bs, L)) {
      free(ptrs);
      return (outside(env, "mlpGrad"), NULL);
    }
    W[l] = H + wo;
    dW[l] = H + dwo;
    db[l] = H + dbo;
  }
  const int rc = mlp_backward(&g, H + (int64_t)p[6], H + (int64_t)p[7], H + (int64_t)p[8], (const float *const *)W, dW, db, dxOff >= 0 ? H + dxOff : NULL);
  free(ptrs);
  if (rc != 0) napi_throw_error(env, NULL, "difflab-blas mlpGrad: out of memory");
  return NULL;
}

/* Checks attention's sizes: B, N, heads, d positive, products within int and the heap. */
static int attn_fits(int64_t B, int64_t N, int64_t heads, int64_t d) {
  return B >= 1 && N >= 1 && heads >= 1 && d >= 1 && N * N <= INT32_MAX && 3 * heads * d <= INT32_MAX && B * N <= INT32_MAX;
}

/*
 * attention(heap, qkvOff, B, N, heads, d, outOff, weightsOff): attention.c's forward pass; qkv
 * [B N, 3 heads d], out [B N, heads d], weights [B heads, N, N].
 */
static napi_value Attention(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[7];
  if (!heap_args(env, info, "attention", 8, &H, &L, v)) return NULL;
  const int64_t B = v[1], N = v[2], heads = v[3], d = v[4], W = heads * d;
  if (!attn_fits(B, N, heads, d) || !fits(v[0], 1, 0, B * N * 3 * W, L) || !fits(v[5], 1, 0, B * N * W, L) || !fits(v[6], 1, 0, B * heads * N * N, L))
    return (outside(env, "attention"), NULL);
  attn_forward(H + v[0], B, N, heads, d, H + v[5], H + v[6]);
  return NULL;
}

/* attentionGrad(heap, doutOff, qkvOff, weightsOff, B, N, heads, d, dqkvOff): its backward pass. */
static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[8];
  if (!heap_args(env, info, "attentionGrad", 9, &H, &L, v)) return NULL;
  const int64_t B = v[3], N = v[4], heads = v[5], d = v[6], W = heads * d;
  if (!attn_fits(B, N, heads, d) || !fits(v[0], 1, 0, B * N * W, L) || !fits(v[1], 1, 0, B * N * 3 * W, L) || !fits(v[2], 1, 0, B * heads * N * N, L) ||
      !fits(v[7], 1, 0, B * N * 3 * W, L))
    return (outside(env, "attentionGrad"), NULL);
  if (attn_backward(H + v[0], H + v[1], H + v[2], B, N, heads, d, H + v[7]) != 0) napi_throw_error(env, NULL, "difflab-blas attentionGrad: out of memory");
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, s;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "config", s);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "corename", s);
  napi_create_int32(env, par_threads(), &s);
  napi_set_named_property(env, out, "threads", s);
  napi_get_boolean(env, conv_direct_available() != 0, &s);
  napi_set_named_property(env, out, "directConv", s);
  return out;
}

/* setThreads(n): the threads large products and convolutions split over (1 .. 16; OpenBLAS itself stays at one). */
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "difflab-blas setThreads: expected a whole number >= 1");
    return NULL;
  }
  par_set_threads(n);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  /* OpenBLAS runs single-threaded inside the addon's own threads (parallel.c) */
  openblas_set_num_threads(1);
  napi_property_descriptor props[] = {
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convFilterGrad", NULL, ConvFilterGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convInputGrad", NULL, ConvInputGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"elementwise", NULL, Elementwise, NULL, NULL, NULL, napi_enumerable, NULL},
      {"groupNorm", NULL, GroupNorm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"groupNormGrad", NULL, GroupNormGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sinusoidal", NULL, Sinusoidal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adam", NULL, Adam, NULL, NULL, NULL, napi_enumerable, NULL},
      {"optimizerStep", NULL, OptimizerStep, NULL, NULL, NULL, napi_enumerable, NULL},
      {"colsum", NULL, Colsum, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, LayerNorm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormGrad", NULL, LayerNormGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blockSwap", NULL, BlockSwap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, Binary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copy2d", NULL, Copy2dFn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"resizeNearest", NULL, ResizeNearest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlp", NULL, Mlp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlpGrad", NULL, MlpGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(difflab_blas, Init)
