/*
 * Vector float32 math for difflab-blas: sin, cos, the exact GELU, SiLU and their derivatives, written as
 * branch-free loops over arrays so that the compiler vectorises them (AVX2 / AVX-512 with
 * -march=native: 8 or 16 lanes, against WebAssembly SIMD's 4).
 *
 * The algorithms are the ones of difflab's WebAssembly SIMD module (assembly/simd-math.ts), so
 * both backends give the same numbers to within float rounding:
 * - sin / cos: Cephes sinf's octant reduction (pi/4 in three parts) and minimax polynomials;
 *   |x| > 8192 and NaN take the double-precision libm result in a second pass.
 * - exp: Cephes expf (ln 2 in two parts, degree-5 polynomial), 2^n applied in two halves.
 * - erf: x P(x^2) / Q(x^2) on x clamped to [-4, 4] (Eigen / TensorFlow's float erf).
 * - GELU: y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2; dGELU = Phi(x) + x phi(x),
 *   phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
 * - SiLU: y = x s, s = 1 / (1 + exp(-x)); dSiLU = s (1 + x (1 - s)) (s recomputed).
 * - Sinusoidal features: [sin(x f_k), cos(x f_k)] with the float32 product x f_k (as tfjs' Mul).
 * - Add, Mul, Sub with b broadcast over the middle axis of [O, M, I] (a bias row, a per-sample
 *   channel vector, a scalar, or b of a's shape), vectorised over I.
 * - Transposes that swap two adjacent blocks of axes: runs of `inner` words copied in tiles of 32 x
 *   32 runs (both sides then stay in cache), or a plain tiled word transpose when inner is 1.
 * - Sums over the middle axis of [outer, rows, cols]: rows added in order per column (vectorised
 *   over columns), or, for one column (a full reduction), in 16 interleaved double partial sums.
 */
#include "vmath.h"
#include <math.h>
#include <string.h>

#define FOPI 1.27323954473516f
#define DP1 0.78515625f
#define DP2 2.4187564849853515625e-4f
#define DP3 3.77489497744594108e-8f
#define S0 -1.9515295891e-4f
#define S1 8.3321608736e-3f
#define S2 -1.6666654611e-1f
#define C0 2.443315711809948e-5f
#define C1 -1.388731625493765e-3f
#define C2 4.166664568298827e-2f
#define BIG 8192.0f

static inline float bits_f(int32_t i) {
  float f;
  memcpy(&f, &i, 4);
  return f;
}
static inline int32_t f_bits(float f) {
  int32_t i;
  memcpy(&i, &f, 4);
  return i;
}

/* sin (cos when is_cos) of one value, branch-free (the caller vectorises the loop). */
static inline float sincos1(float x, int is_cos) {
  float ax = fabsf(x);
  ax = ax <= BIG ? ax : 0.0f; /* out-of-range lanes are redone in double precision */
  int32_t j = (int32_t)(ax * FOPI);
  j = (j + 1) & ~1;
  const float yq = (float)j;
  float r = ((ax - yq * DP1) - yq * DP2) - yq * DP3;
  const float z = r * r;
  const float ps = ((S0 * z + S1) * z + S2) * z * r + r;
  const float pc = ((C0 * z + C1) * z + C2) * z * z - 0.5f * z + 1.0f;
  int32_t sign;
  int use_sin;
  if (is_cos) {
    const int32_t j2 = j - 2;
    sign = ((~j2) & 4) << 29;
    use_sin = (j2 & 2) == 0;
  } else {
    sign = (f_bits(x) & (int32_t)0x80000000) ^ ((j & 4) << 29);
    use_sin = (j & 2) == 0;
  }
  const float out = use_sin ? ps : pc;
  return bits_f(f_bits(out) ^ sign);
}

void vm_sin(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = sincos1(x[i], 0);
  for (int64_t i = 0; i < n; i++)
    if (!(fabsf(x[i]) <= BIG)) y[i] = (float)sin((double)x[i]);
}

void vm_cos(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = sincos1(x[i], 1);
  for (int64_t i = 0; i < n; i++)
    if (!(fabsf(x[i]) <= BIG)) y[i] = (float)cos((double)x[i]);
}

#define LOG2E 1.44269504088896341f
#define EC1 0.693359375f
#define EC2 -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f
#define EXP_HI 88.72283905206835f
#define EXP_LO -103.97208f

/* exp of one value (EXP_HI's value above it, 0 below EXP_LO; NaN not propagated: callers' results are NaN anyway). */
static inline float exp1(float x0) {
  float x = x0 < EXP_HI ? x0 : EXP_HI;
  x = x > EXP_LO ? x : EXP_LO;
  const float fx = floorf(x * LOG2E + 0.5f);
  x = x - fx * EC1;
  x = x - fx * EC2;
  const float z = x * x;
  float y = ((((P0 * x + P1) * x + P2) * x + P3) * x + P4) * x + P5;
  y = y * z + x + 1.0f;
  const int32_t n = (int32_t)fx;
  const int32_t h = n >> 1;
  y = y * bits_f((h + 127) << 23);
  y = y * bits_f((n - h + 127) << 23);
  return x0 < EXP_LO ? 0.0f : y;
}

#define EA0 -2.72614225801306e-10f
#define EA1 2.77068142495902e-8f
#define EA2 -2.10102402082508e-6f
#define EA3 -5.69250639462346e-5f
#define EA4 -7.34990630326855e-4f
#define EA5 -2.95459980854025e-3f
#define EA6 -1.60960333262415e-2f
#define EB0 -1.45660718464996e-5f
#define EB1 -2.13374055278905e-4f
#define EB2 -1.68282697438203e-3f
#define EB3 -7.37332916720468e-3f
#define EB4 -1.42647390514189e-2f

static inline float erf1(float x0) {
  float x = x0 < 4.0f ? x0 : 4.0f;
  x = x > -4.0f ? x : -4.0f;
  const float x2 = x * x;
  float p = EA0 * x2 + EA1;
  p = p * x2 + EA2;
  p = p * x2 + EA3;
  p = p * x2 + EA4;
  p = p * x2 + EA5;
  p = p * x2 + EA6;
  float q = EB0 * x2 + EB1;
  q = q * x2 + EB2;
  q = q * x2 + EB3;
  q = q * x2 + EB4;
  return x * p / q;
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

void vm_gelu(const float *restrict x, float *restrict y, float *restrict cdf, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float c = 0.5f * (1.0f + erf1(x[i] * INV_SQRT2));
    cdf[i] = c;
    y[i] = x[i] * c;
  }
}

void vm_gelu_grad(const float *restrict dy, const float *restrict x, const float *restrict cdf, float *restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float phi = exp1(-0.5f * v * v) * INV_SQRT_2PI;
    dx[i] = dy[i] * (cdf[i] + v * phi);
  }
}

static inline float sigmoid1(float x) { return 1.0f / (1.0f + exp1(-x)); }

#if defined(__AVX512F__)
#include <immintrin.h>
/* exp1 on 16 lanes (same steps and constants), then the sigmoid with the reciprocal as rcp14 and
 * one Newton step (relative error ~2^-28) instead of a division, which cost as much as the rest of
 * the SiLU here; 1 / 1 stays exactly 1 (the saturated side). */
static inline __m512 sigmoid16(__m512 x0) {
  const __m512 x1 = _mm512_sub_ps(_mm512_setzero_ps(), x0); /* exp(-x) */
  __m512 x = _mm512_max_ps(_mm512_min_ps(x1, _mm512_set1_ps(EXP_HI)), _mm512_set1_ps(EXP_LO));
  const __m512 fx = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), _mm512_set1_ps(0.5f)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(EC1), x);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(EC2), x);
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 y = _mm512_fmadd_ps(_mm512_set1_ps(P0), x, _mm512_set1_ps(P1));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(P2));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(P3));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(P4));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(P5));
  y = _mm512_add_ps(_mm512_fmadd_ps(y, z, x), _mm512_set1_ps(1.0f));
  const __m512i n = _mm512_cvttps_epi32(fx), h = _mm512_srai_epi32(n, 1), bias = _mm512_set1_epi32(127);
  y = _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(h, bias), 23)));
  y = _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(n, h), bias), 23)));
  y = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x1, _mm512_set1_ps(EXP_LO), _CMP_NLT_US), y);
  const __m512 one = _mm512_set1_ps(1.0f), d = _mm512_add_ps(one, y);
  __m512 r = _mm512_rcp14_ps(d);
  r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(d, one, _CMP_EQ_OQ), r, one);
}
#define SILU_LANES 16
#else
#define SILU_LANES 0
#endif

/* y = x sigmoid(x); y may be x. */
static inline void silu_values(const float *x, float *y, int64_t n) {
  int64_t i = 0;
#if SILU_LANES
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(v, sigmoid16(v)));
  }
#endif
  for (; i < n; i++) y[i] = x[i] * sigmoid1(x[i]);
}

void vm_silu(const float *restrict x, float *restrict y, int64_t n) { silu_values(x, y, n); }

void vm_silu_inplace(float *x, int64_t n) { silu_values(x, x, n); }

void vm_silu_grad(const float *restrict dy, const float *restrict x, float *restrict dx, int64_t n) {
  int64_t i = 0;
#if SILU_LANES
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i), s = sigmoid16(v);
    /* dy s (1 + x (1 - s)) */
    const __m512 t = _mm512_fmadd_ps(v, _mm512_sub_ps(one, s), one);
    _mm512_storeu_ps(dx + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(dy + i), s), t));
  }
#endif
  for (; i < n; i++) {
    const float s = sigmoid1(x[i]);
    dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

void vm_sinusoidal(const float *restrict x, const float *restrict freqs, int64_t n, int64_t F, int cos_first, float *restrict out) {
  const int64_t so = cos_first ? F : 0, co = cos_first ? 0 : F;
  for (int64_t i = 0; i < n; i++) {
    float *row = out + i * 2 * F;
    const float xi = x[i];
    for (int64_t k = 0; k < F; k++) {
      const float a = xi * freqs[k];
      row[so + k] = sincos1(a, 0);
      row[co + k] = sincos1(a, 1);
    }
    for (int64_t k = 0; k < F; k++) {
      const float a = xi * freqs[k];
      if (!(fabsf(a) <= BIG)) {
        row[so + k] = (float)sin((double)a);
        row[co + k] = (float)cos((double)a);
      }
    }
  }
}

void vm_colsum(const float *restrict x, int64_t outer, int64_t rows, int64_t cols, float *restrict out) {
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * rows * cols;
    float *oo = out + o * cols;
    if (cols == 1) {
      double acc[16] = {0};
      int64_t r = 0;
      for (; r + 16 <= rows; r += 16)
        for (int l = 0; l < 16; l++) acc[l] += xo[r + l];
      double s = 0;
      for (int l = 0; l < 16; l++) s += acc[l];
      for (; r < rows; r++) s += xo[r];
      oo[0] = (float)s;
    } else {
      for (int64_t c = 0; c < cols; c++) oo[c] = 0.0f;
      for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) oo[c] += xo[r * cols + c];
    }
  }
}

#define TILE 32

void vm_block_swap(const uint32_t *restrict x, int64_t batch, int64_t rows, int64_t cols, int64_t inner, uint32_t *restrict out) {
  for (int64_t b = 0; b < batch; b++) {
    const uint32_t *xb = x + b * rows * cols * inner;
    uint32_t *ob = out + b * rows * cols * inner;
    for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
      const int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
      for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
        const int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
        if (inner == 1) {
          for (int64_t c = c0; c < c1; c++)
            for (int64_t r = r0; r < r1; r++) ob[c * rows + r] = xb[r * cols + c];
        } else {
          for (int64_t c = c0; c < c1; c++)
            for (int64_t r = r0; r < r1; r++) memcpy(ob + (c * rows + r) * inner, xb + (r * cols + c) * inner, (size_t)inner * 4);
        }
      }
    }
  }
}

void vm_binary(int op, const float *restrict a, const float *restrict b, int64_t O, int64_t M, int64_t I, int bo, float *restrict out) {
  for (int64_t o = 0; o < O; o++) {
    const float *bb = b + (bo ? o * I : 0);
    for (int64_t m = 0; m < M; m++) {
      const float *aa = a + (o * M + m) * I;
      float *oo = out + (o * M + m) * I;
      if (I == 1) {
        /* b is one value per (o): the loop over m is the long one */
        const float v = bb[0];
        const int64_t base = (o * M) * I;
        if (op == 0) for (int64_t j = 0; j < M; j++) out[base + j] = a[base + j] + v;
        else if (op == 1) for (int64_t j = 0; j < M; j++) out[base + j] = a[base + j] * v;
        else if (op == 2) for (int64_t j = 0; j < M; j++) out[base + j] = a[base + j] - v;
        else for (int64_t j = 0; j < M; j++) out[base + j] = v - a[base + j];
        break;
      }
      if (op == 0) for (int64_t i = 0; i < I; i++) oo[i] = aa[i] + bb[i];
      else if (op == 1) for (int64_t i = 0; i < I; i++) oo[i] = aa[i] * bb[i];
      else if (op == 2) for (int64_t i = 0; i < I; i++) oo[i] = aa[i] - bb[i];
      else for (int64_t i = 0; i < I; i++) oo[i] = bb[i] - aa[i];
    }
  }
}

void vm_softmax_rows(float *restrict s, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    float *row = s + r * cols;
    float mx = row[0];
    for (int64_t j = 1; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; j++) {
      row[j] = exp1(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < cols; j++) row[j] *= inv;
  }
}
