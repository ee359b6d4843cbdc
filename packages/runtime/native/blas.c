/*
 * difflab-blas: single-precision GEMM from the system's OpenBLAS for tensors that live in
 * tfjs-backend-wasm's linear memory (Node only). Built by scripts/build-native.mjs; loaded by
 * src/wasm-kernels/native-blas.ts; used by the wasm backend's BatchMatMul / _FusedMatMul kernels
 * (src/wasm-kernels/native-matmul.ts).
 *
 * WebAssembly SIMD is 128 bits wide, so tfjs-backend-wasm's XNNPACK tops out at ~35 GFLOP/s a
 * core on the matmuls of difflab's models, where OpenBLAS's AVX-512 / AVX2 kernels run at
 * 150-200 (tools/bench/RESULTS.md). The operands are read and the result written in place in the
 * wasm heap (a Float32Array over the module's memory, shared or not): no copies.
 *
 * Every call checks that what it reads and writes lies inside the heap it was given.
 */
#include <node_api.h>
#include "vmath.h"
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS extensions (declared in its cblas.h too; repeated so another CBLAS still compiles). */
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);

#define GEMM_ARGS 13

static int fits(int64_t off, int64_t batch, int64_t stride, int64_t size, int64_t len) {
  if (off < 0 || batch < 1 || stride < 0 || size < 0) return 0;
  int64_t last = off + (batch - 1) * stride + size;
  return last <= len;
}

/*
 * gemm(heap, flags, batch, m, n, k, aOff, aStride, bOff, bStride, cOff, biasOff, biasStride)
 * For i < batch: C_i[m,n] = op(A_i) op(B_i) (+ bias_i[n] on every row) (then relu), where
 * A_i = heap[aOff + i*aStride ...] is [m,k] ([k,m] when flags&1), B_i = heap[bOff + i*bStride ...]
 * is [k,n] ([n,k] when flags&2), C_i = heap[cOff + i*m*n ...]; flags&4 applies relu; biasOff < 0:
 * no bias. Offsets and strides count float32 elements; a stride of 0 broadcasts.
 */
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = GEMM_ARGS;
  napi_value argv[GEMM_ARGS];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != GEMM_ARGS) {
    napi_throw_type_error(env, NULL, "difflab-blas gemm: expected 13 arguments");
    return NULL;
  }
  void *data = NULL;
  size_t len = 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "difflab-blas gemm: the heap must be a Float32Array");
    return NULL;
  }
  int64_t v[GEMM_ARGS - 1];
  for (int i = 0; i < GEMM_ARGS - 1; i++) {
    if (napi_get_value_int64(env, argv[1 + i], &v[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "difflab-blas gemm: sizes and offsets must be numbers");
      return NULL;
    }
  }
  const int flags = (int)v[0];
  const int64_t batch = v[1], m = v[2], n = v[3], k = v[4];
  const int64_t aOff = v[5], aStride = v[6], bOff = v[7], bStride = v[8], cOff = v[9], biasOff = v[10], biasStride = v[11];
  const int64_t L = (int64_t)len;
  if (m < 1 || n < 1 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || !fits(aOff, batch, aStride, m * k, L) ||
      !fits(bOff, batch, bStride, k * n, L) || !fits(cOff, batch, m * n, m * n, L) || (biasOff >= 0 && !fits(biasOff, batch, biasStride, n, L))) {
    napi_throw_range_error(env, NULL, "difflab-blas gemm: an operand lies outside the heap (or a size is not positive)");
    return NULL;
  }
  const int ta = flags & 1, tb = (flags >> 1) & 1, relu = (flags >> 2) & 1;
  float *H = (float *)data;
  for (int64_t i = 0; i < batch; i++) {
    const float *A = H + aOff + i * aStride;
    const float *B = H + bOff + i * bStride;
    float *C = H + cOff + i * m * n;
    float beta = 0.0f;
    if (biasOff >= 0) {
      const float *bias = H + biasOff + i * biasStride;
      for (int64_t r = 0; r < m; r++) memcpy(C + r * n, bias, (size_t)n * sizeof(float));
      beta = 1.0f;
    }
    if (k == 0) {
      if (beta == 0.0f) memset(C, 0, (size_t)(m * n) * sizeof(float));
    } else {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A,
                  ta ? (int)m : (int)k, B, tb ? (int)k : (int)n, beta, C, (int)n);
    }
    if (relu) {
      for (int64_t j = 0; j < m * n; j++) C[j] = C[j] > 0.0f ? C[j] : 0.0f;
    }
  }
  return NULL;
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

/* Scratch for im2col rows, grown on demand, kept for the process (one thread calls in). */
static float *scratch = NULL;
static size_t scratch_len = 0;
static float *scratch_get(size_t n) {
  if (n > scratch_len) {
    free(scratch);
    scratch = (float *)malloc(n * sizeof(float));
    scratch_len = scratch ? n : 0;
  }
  return scratch;
}

/* About how many floats of im2col rows to build at a time (8 MiB: stays in cache-friendly sizes). */
#define COLS_BUDGET (2u << 20)

typedef struct {
  int64_t B, H, W, Cin, Ho, Wo, Cout, kh, kw, sh, sw, pt, pl;
} ConvGeom;

/* Images per chunk so that the chunk's im2col rows fit the budget (at least 1). */
static int64_t images_per_chunk(const ConvGeom *g) {
  int64_t per = g->Ho * g->Wo * g->kh * g->kw * g->Cin;
  int64_t nb = per > 0 ? (int64_t)COLS_BUDGET / per : g->B;
  if (nb < 1) nb = 1;
  if (nb > g->B) nb = g->B;
  return nb;
}

/* cols[(b, oh, ow), (i, j, c)] = x[b0 + b, oh sh - pt + i, ow sw - pl + j, c] (0 outside), nb images. */
static void im2col(const float *x, const ConvGeom *g, int64_t b0, int64_t nb, float *cols) {
  const int64_t K = g->kh * g->kw * g->Cin;
  const size_t run = (size_t)g->Cin * sizeof(float);
  for (int64_t b = 0; b < nb; b++) {
    const float *xb = x + (b0 + b) * g->H * g->W * g->Cin;
    for (int64_t oh = 0; oh < g->Ho; oh++) {
      for (int64_t ow = 0; ow < g->Wo; ow++) {
        float *row = cols + ((b * g->Ho + oh) * g->Wo + ow) * K;
        for (int64_t i = 0; i < g->kh; i++) {
          const int64_t ih = oh * g->sh - g->pt + i;
          for (int64_t j = 0; j < g->kw; j++) {
            const int64_t iw = ow * g->sw - g->pl + j;
            float *dst = row + (i * g->kw + j) * g->Cin;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) memset(dst, 0, run);
            else memcpy(dst, xb + (ih * g->W + iw) * g->Cin, run);
          }
        }
      }
    }
  }
}

/* dx[b0 + b, oh sh - pt + i, ow sw - pl + j, c] += cols[(b, oh, ow), (i, j, c)], nb images. */
static void col2im(const float *cols, const ConvGeom *g, int64_t b0, int64_t nb, float *dx) {
  const int64_t K = g->kh * g->kw * g->Cin;
  for (int64_t b = 0; b < nb; b++) {
    float *db = dx + (b0 + b) * g->H * g->W * g->Cin;
    for (int64_t oh = 0; oh < g->Ho; oh++) {
      for (int64_t ow = 0; ow < g->Wo; ow++) {
        const float *row = cols + ((b * g->Ho + oh) * g->Wo + ow) * K;
        for (int64_t i = 0; i < g->kh; i++) {
          const int64_t ih = oh * g->sh - g->pt + i;
          if (ih < 0 || ih >= g->H) continue;
          for (int64_t j = 0; j < g->kw; j++) {
            const int64_t iw = ow * g->sw - g->pl + j;
            if (iw < 0 || iw >= g->W) continue;
            const float *src = row + (i * g->kw + j) * g->Cin;
            float *dst = db + (ih * g->W + iw) * g->Cin;
            for (int64_t c = 0; c < g->Cin; c++) dst[c] += src[c];
          }
        }
      }
    }
  }
}

static int geom_ok(const ConvGeom *g) {
  return g->B >= 1 && g->H >= 1 && g->W >= 1 && g->Cin >= 1 && g->Ho >= 1 && g->Wo >= 1 && g->Cout >= 1 && g->kh >= 1 && g->kw >= 1 &&
         g->sh >= 1 && g->sw >= 1 && g->pt >= 0 && g->pl >= 0 && g->Ho * g->Wo * g->B <= INT32_MAX && g->kh * g->kw * g->Cin <= INT32_MAX;
}

/* Whether im2col is the identity (1x1, stride 1, no padding): x is then the cols matrix. */
static int pointwise(const ConvGeom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->Ho == g->H && g->Wo == g->W;
}

/*
 * conv2d(heap, xOff, B, H, W, Cin, wOff, kh, kw, Cout, sh, sw, pt, pl, Ho, Wo, yOff, biasOff, flags)
 * y[B,Ho,Wo,Cout] = conv(x[B,H,W,Cin], w[kh,kw,Cin,Cout]) (NHWC, cross-correlation as tfjs), + bias
 * [Cout] when biasOff >= 0, relu when flags & 4. im2col rows of a few images at a time, then sgemm.
 */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[18];
  if (!heap_args(env, info, "conv2d", 19, &H, &L, v)) return NULL;
  ConvGeom g = {v[1], v[2], v[3], v[4], v[13], v[14], v[8], v[6], v[7], v[9], v[10], v[11], v[12]};
  const int64_t xOff = v[0], wOff = v[5], yOff = v[15], biasOff = v[16], flags = v[17];
  const int64_t K = g.kh * g.kw * g.Cin, M = g.Ho * g.Wo;
  if (!geom_ok(&g) || !fits(xOff, 1, 0, g.B * g.H * g.W * g.Cin, L) || !fits(wOff, 1, 0, K * g.Cout, L) || !fits(yOff, 1, 0, g.B * M * g.Cout, L) ||
      (biasOff >= 0 && !fits(biasOff, 1, 0, g.Cout, L))) {
    outside(env, "conv2d");
    return NULL;
  }
  float *y = H + yOff;
  const float *w = H + wOff;
  float beta = 0.0f;
  if (biasOff >= 0) {
    for (int64_t r = 0; r < g.B * M; r++) memcpy(y + r * g.Cout, H + biasOff, (size_t)g.Cout * sizeof(float));
    beta = 1.0f;
  }
  if (pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(g.B * M), (int)g.Cout, (int)K, 1.0f, H + xOff, (int)K, w, (int)g.Cout, beta, y, (int)g.Cout);
  } else {
    const int64_t nb = images_per_chunk(&g);
    float *cols = scratch_get((size_t)(nb * M * K));
    if (!cols) {
      napi_throw_error(env, NULL, "difflab-blas conv2d: out of memory for the im2col rows");
      return NULL;
    }
    for (int64_t b0 = 0; b0 < g.B; b0 += nb) {
      const int64_t n = b0 + nb <= g.B ? nb : g.B - b0;
      im2col(H + xOff, &g, b0, n, cols);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * M), (int)g.Cout, (int)K, 1.0f, cols, (int)K, w, (int)g.Cout, beta,
                  y + b0 * M * g.Cout, (int)g.Cout);
    }
  }
  if (flags & 4) {
    for (int64_t j = 0; j < g.B * M * g.Cout; j++) y[j] = y[j] > 0.0f ? y[j] : 0.0f;
  }
  return NULL;
}

/*
 * convFilterGrad(heap, xOff, B, H, W, Cin, dyOff, Ho, Wo, Cout, kh, kw, sh, sw, pt, pl, dwOff)
 * dw[kh,kw,Cin,Cout] = sum over (b, oh, ow) of cols^T dy: the filter gradient of conv2d above.
 */
static napi_value ConvFilterGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[16];
  if (!heap_args(env, info, "convFilterGrad", 17, &H, &L, v)) return NULL;
  ConvGeom g = {v[1], v[2], v[3], v[4], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  const int64_t xOff = v[0], dyOff = v[5], dwOff = v[15];
  const int64_t K = g.kh * g.kw * g.Cin, M = g.Ho * g.Wo;
  if (!geom_ok(&g) || !fits(xOff, 1, 0, g.B * g.H * g.W * g.Cin, L) || !fits(dyOff, 1, 0, g.B * M * g.Cout, L) || !fits(dwOff, 1, 0, K * g.Cout, L)) {
    outside(env, "convFilterGrad");
    return NULL;
  }
  const float *dy = H + dyOff;
  float *dw = H + dwOff;
  if (pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)g.Cout, (int)(g.B * M), 1.0f, H + xOff, (int)K, dy, (int)g.Cout, 0.0f, dw, (int)g.Cout);
    return NULL;
  }
  const int64_t nb = images_per_chunk(&g);
  float *cols = scratch_get((size_t)(nb * M * K));
  if (!cols) {
    napi_throw_error(env, NULL, "difflab-blas convFilterGrad: out of memory for the im2col rows");
    return NULL;
  }
  for (int64_t b0 = 0; b0 < g.B; b0 += nb) {
    const int64_t n = b0 + nb <= g.B ? nb : g.B - b0;
    im2col(H + xOff, &g, b0, n, cols);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)g.Cout, (int)(n * M), 1.0f, cols, (int)K, dy + b0 * M * g.Cout, (int)g.Cout,
                b0 == 0 ? 0.0f : 1.0f, dw, (int)g.Cout);
  }
  return NULL;
}

/*
 * convInputGrad(heap, dyOff, B, Ho, Wo, Cout, wOff, kh, kw, Cin, sh, sw, pt, pl, H, W, dxOff)
 * dx[B,H,W,Cin] = col2im(dy w^T): the input gradient of conv2d above.
 */
static napi_value ConvInputGrad(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[16];
  if (!heap_args(env, info, "convInputGrad", 17, &H, &L, v)) return NULL;
  ConvGeom g = {v[1], v[13], v[14], v[8], v[2], v[3], v[4], v[6], v[7], v[9], v[10], v[11], v[12]};
  const int64_t dyOff = v[0], wOff = v[5], dxOff = v[15];
  const int64_t K = g.kh * g.kw * g.Cin, M = g.Ho * g.Wo;
  if (!geom_ok(&g) || !fits(dyOff, 1, 0, g.B * M * g.Cout, L) || !fits(wOff, 1, 0, K * g.Cout, L) || !fits(dxOff, 1, 0, g.B * g.H * g.W * g.Cin, L)) {
    outside(env, "convInputGrad");
    return NULL;
  }
  const float *dy = H + dyOff;
  const float *w = H + wOff;
  float *dx = H + dxOff;
  if (pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(g.B * M), (int)K, (int)g.Cout, 1.0f, dy, (int)g.Cout, w, (int)g.Cout, 0.0f, dx, (int)K);
    return NULL;
  }
  memset(dx, 0, (size_t)(g.B * g.H * g.W * g.Cin) * sizeof(float));
  const int64_t nb = images_per_chunk(&g);
  float *cols = scratch_get((size_t)(nb * M * K));
  if (!cols) {
    napi_throw_error(env, NULL, "difflab-blas convInputGrad: out of memory for the column rows");
    return NULL;
  }
  for (int64_t b0 = 0; b0 < g.B; b0 += nb) {
    const int64_t n = b0 + nb <= g.B ? nb : g.B - b0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * M), (int)K, (int)g.Cout, 1.0f, dy + b0 * M * g.Cout, (int)g.Cout, w, (int)g.Cout, 0.0f,
                cols, (int)K);
    col2im(cols, &g, b0, n, dx);
  }
  return NULL;
}

/*
 * elementwise(heap, op, n, aOff, bOff, cOff, dOff): vector math of vmath.c on n values.
 * op 0: b = sin(a); 1: b = cos(a); 2: GELU, b = a Phi(a), c = Phi(a);
 * 3: GELU gradient, d = a (c + b phi(b)) with a = dy, b = x, c = Phi(x).
 */
static napi_value Elementwise(napi_env env, napi_callback_info info) {
  float *H;
  int64_t L, v[6];
  if (!heap_args(env, info, "elementwise", 7, &H, &L, v)) return NULL;
  const int64_t op = v[0], n = v[1], a = v[2], b = v[3], c = v[4], d = v[5];
  const int used = op == 0 || op == 1 ? 2 : op == 2 ? 3 : op == 3 ? 4 : 0;
  if (used == 0) {
    napi_throw_range_error(env, NULL, "difflab-blas elementwise: unknown op (0 sin, 1 cos, 2 gelu, 3 gelu gradient)");
    return NULL;
  }
  const int64_t offs[4] = {a, b, c, d};
  for (int i = 0; i < used; i++) {
    if (n < 0 || !fits(offs[i], 1, 0, n, L)) {
      outside(env, "elementwise");
      return NULL;
    }
  }
  if (op == 0) vm_sin(H + a, H + b, n);
  else if (op == 1) vm_cos(H + a, H + b, n);
  else if (op == 2) vm_gelu(H + a, H + b, H + c, n);
  else vm_gelu_grad(H + a, H + b, H + c, H + d, n);
  return NULL;
}

/* info(): { config, corename, threads } of the OpenBLAS this module is linked against. */
static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, s;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "config", s);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "corename", s);
  napi_create_int32(env, openblas_get_num_threads(), &s);
  napi_set_named_property(env, out, "threads", s);
  return out;
}

/* setThreads(n): OpenBLAS's thread count (1 .. its build's maximum). */
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "difflab-blas setThreads: expected a whole number >= 1");
    return NULL;
  }
  openblas_set_num_threads(n);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convFilterGrad", NULL, ConvFilterGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convInputGrad", NULL, ConvInputGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"elementwise", NULL, Elementwise, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(difflab_blas, Init)
