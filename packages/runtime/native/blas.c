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
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
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
      {"info", NULL, Info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(difflab_blas, Init)
