/*
 * Convolutions for difflab-blas (NHWC, tfjs' cross-correlation): im2col + sgemm.
 *
 * - Forward: y = im2col(x) W, W as a [kh kw Cin, Cout] matrix.
 * - Filter gradient: dW = im2col(x)^T dy.
 * - Input gradient: dx = col2im(dy W^T).
 *
 * The im2col rows are built a few hundred at a time, small enough to be still in the core's L2
 * cache when sgemm reads them; writing the whole matrix (65,536 x 288 floats for a 3x3 conv of 32
 * channels on 64 images of 32x32) to memory and reading it back cost more than the arithmetic.
 * Such chunked products are too small for OpenBLAS's own threads (their start-up per call made a
 * 3x3 conv 3x slower with 2 threads than with 1), so the images are split over the addon's
 * threads (parallel.c), each running single-threaded sgemm on its chunks; the filter gradient sums
 * the threads' partial dW at the end, in a fixed order (deterministic).
 */
#include "conv.h"
#include "parallel.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS PAR_MAX_THREADS

int conv_geom_ok(const ConvGeom *g) {
  return g->B >= 1 && g->H >= 1 && g->W >= 1 && g->Cin >= 1 && g->Ho >= 1 && g->Wo >= 1 && g->Cout >= 1 && g->kh >= 1 && g->kw >= 1 &&
         g->sh >= 1 && g->sw >= 1 && g->pt >= 0 && g->pl >= 0 && g->Ho * g->Wo * g->B <= INT32_MAX && g->kh * g->kw * g->Cin <= INT32_MAX;
}

/* Floats of im2col rows per chunk (~768 KiB; DIFFLAB_COLS_BUDGET overrides, for tuning). */
static int64_t budget(void) {
  static int64_t b = 0;
  if (b == 0) {
    const char *e = getenv("DIFFLAB_COLS_BUDGET");
    b = e && atoll(e) > 0 ? atoll(e) : (int64_t)(192 * 1024);
  }
  return b;
}

static int64_t rows_per_chunk(const ConvGeom *g) {
  const int64_t K = g->kh * g->kw * g->Cin;
  int64_t r = budget() / K;
  return r < 16 ? 16 : r;
}

/* im2col is the identity for a 1x1 conv with stride 1 and no padding: x is the row matrix. */
static int pointwise(const ConvGeom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->Ho == g->H && g->Wo == g->W;
}

/* cols[r - r0, (i, j, c)] = x[b, oh sh - pt + i, ow sw - pl + j, c] (0 outside) for rows r = (b, oh, ow) in [r0, r1). */
static void im2col(const float *x, const ConvGeom *g, int64_t r0, int64_t r1, float *cols) {
  const int64_t K = g->kh * g->kw * g->Cin;
  const size_t run = (size_t)g->Cin * sizeof(float);
  for (int64_t r = r0; r < r1; r++) {
    const int64_t ow = r % g->Wo, oh = (r / g->Wo) % g->Ho, b = r / (g->Wo * g->Ho);
    const float *xb = x + b * g->H * g->W * g->Cin;
    float *row = cols + (r - r0) * K;
    for (int64_t i = 0; i < g->kh; i++) {
      const int64_t ih = oh * g->sh - g->pt + i;
      for (int64_t j = 0; j < g->kw; j++) {
        const int64_t iw = ow * g->sw - g->pl + j;
        float *dst = row + (i * g->kw + j) * g->Cin;
        const int outside = ih < 0 || ih >= g->H || iw < 0 || iw >= g->W;
        if (g->Cin < 16) {
          /* a few channels (an image's first conv): a call to memcpy per value would cost more than the copy */
          if (outside)
            for (int64_t c = 0; c < g->Cin; c++) dst[c] = 0.0f;
          else
            for (int64_t c = 0; c < g->Cin; c++) dst[c] = xb[(ih * g->W + iw) * g->Cin + c];
        } else if (outside) memset(dst, 0, run);
        else memcpy(dst, xb + (ih * g->W + iw) * g->Cin, run);
      }
    }
  }
}

/* dx[b, oh sh - pt + i, ow sw - pl + j, c] += cols[r - r0, (i, j, c)] for rows r in [r0, r1). */
static void col2im(const float *cols, const ConvGeom *g, int64_t r0, int64_t r1, float *dx) {
  const int64_t K = g->kh * g->kw * g->Cin;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t ow = r % g->Wo, oh = (r / g->Wo) % g->Ho, b = r / (g->Wo * g->Ho);
    float *db = dx + b * g->H * g->W * g->Cin;
    const float *row = cols + (r - r0) * K;
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

enum Op { FORWARD, FILTER_GRAD, INPUT_GRAD };

typedef struct {
  enum Op op;
  const ConvGeom *g;
  const float *a; /* x (forward, filter grad) or dy (input grad) */
  const float *b; /* w (forward, input grad) or dy (filter grad) */
  float *out;     /* y, dw (this thread's partial), dx */
  float beta;     /* forward: 1 when y holds the bias already */
  int64_t b0, b1; /* images */
  int failed;
} Job;


/*
 * One output channel (Cout = 1, e.g. a UNet's last conv): the products would be matrix-vector
 * products over the whole im2col matrix, bound by writing and reading it. Direct loops instead,
 * vectorised over the Cin channels of each tap: y[r] = sum x w, dx += dy[r] w, dw += dy[r] x.
 */
static void direct_single_output(Job *j, int64_t rows0, int64_t rows1) {
  const ConvGeom *g = j->g;
  const int64_t C = g->Cin;
  if (j->op == FILTER_GRAD) memset(j->out, 0, (size_t)(g->kh * g->kw * C) * sizeof(float));
  for (int64_t r = rows0; r < rows1; r++) {
    const int64_t ow = r % g->Wo, oh = (r / g->Wo) % g->Ho, b = r / (g->Wo * g->Ho);
    float acc = 0.0f, part[16] = {0};
    const float d = j->op == FORWARD ? 0.0f : (j->op == FILTER_GRAD ? j->b[r] : j->a[r]);
    for (int64_t i = 0; i < g->kh; i++) {
      const int64_t ih = oh * g->sh - g->pt + i;
      if (ih < 0 || ih >= g->H) continue;
      for (int64_t jj = 0; jj < g->kw; jj++) {
        const int64_t iw = ow * g->sw - g->pl + jj;
        if (iw < 0 || iw >= g->W) continue;
        const int64_t px = ((b * g->H + ih) * g->W + iw) * C, tap = (i * g->kw + jj) * C;
        if (j->op == FORWARD) {
          /* 16 interleaved partial sums over all taps, so that the loop vectorises without reassociation */
          const float *x = j->a + px, *w = j->b + tap;
          int64_t c = 0;
          for (; c + 16 <= C; c += 16)
            for (int l = 0; l < 16; l++) part[l] += x[c + l] * w[c + l];
          for (; c < C; c++) acc += x[c] * w[c];
        } else if (j->op == FILTER_GRAD) {
          const float *x = j->a + px;
          float *dw = j->out + tap;
          for (int64_t c = 0; c < C; c++) dw[c] += d * x[c];
        } else {
          const float *w = j->b + tap;
          float *dx = j->out + px;
          for (int64_t c = 0; c < C; c++) dx[c] += d * w[c];
        }
      }
    }
    if (j->op == FORWARD) {
      for (int l = 0; l < 16; l++) acc += part[l];
      j->out[r] = j->beta != 0.0f ? j->out[r] + acc : acc;
    }
  }
}

static void run_job(Job *j) {
  const ConvGeom *g = j->g;
  const int64_t K = g->kh * g->kw * g->Cin, M = g->Ho * g->Wo, N = g->Cout;
  const int64_t rows0 = j->b0 * M, rows1 = j->b1 * M;
  if (rows1 <= rows0) {
    if (j->op == FILTER_GRAD) memset(j->out, 0, (size_t)(K * N) * sizeof(float));
    return;
  }
  if (pointwise(g)) {
    const int64_t n = rows1 - rows0;
    if (j->op == FORWARD)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)N, (int)K, 1.0f, j->a + rows0 * K, (int)K, j->b, (int)N, j->beta, j->out + rows0 * N, (int)N);
    else if (j->op == FILTER_GRAD)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)n, 1.0f, j->a + rows0 * K, (int)K, j->b + rows0 * N, (int)N, 0.0f, j->out, (int)N);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)N, 1.0f, j->a + rows0 * N, (int)N, j->b, (int)N, 0.0f, j->out + rows0 * K, (int)K);
    return;
  }
  if (N == 1) {
    direct_single_output(j, rows0, rows1);
    return;
  }
  const int64_t R = rows_per_chunk(g);
  float *cols = (float *)malloc((size_t)(R * K) * sizeof(float));
  if (!cols) {
    j->failed = 1;
    return;
  }
  for (int64_t r0 = rows0; r0 < rows1; r0 += R) {
    const int64_t r1 = r0 + R < rows1 ? r0 + R : rows1, n = r1 - r0;
    if (j->op == FORWARD) {
      im2col(j->a, g, r0, r1, cols);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)N, (int)K, 1.0f, cols, (int)K, j->b, (int)N, j->beta, j->out + r0 * N, (int)N);
    } else if (j->op == FILTER_GRAD) {
      im2col(j->a, g, r0, r1, cols);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)n, 1.0f, cols, (int)K, j->b + r0 * N, (int)N, r0 == rows0 ? 0.0f : 1.0f, j->out,
                  (int)N);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)N, 1.0f, j->a + r0 * N, (int)N, j->b, (int)N, 0.0f, cols, (int)K);
      col2im(cols, g, r0, r1, j->out);
    }
  }
  free(cols);
}

static void job_main(void *arg, int t, int T) {
  (void)T;
  run_job((Job *)arg + t);
}

/* Runs the op over the images split among the threads; partial dW of threads > 0 in `partials`. */
static int run(enum Op op, const ConvGeom *g, const float *a, const float *b, float *out, float beta) {
  const int64_t K = g->kh * g->kw * g->Cin, N = g->Cout;
  /* a thread for every ~8 MFLOP of work at least, and one image at least */
  const double flops = 2.0 * (double)(g->B * g->Ho * g->Wo) * (double)(K * N);
  int T = par_threads();
  if ((double)T * 8e6 > flops) T = (int)(flops / 8e6) > 1 ? (int)(flops / 8e6) : 1;
  if (T > g->B) T = (int)g->B;
  if (T > MAX_THREADS) T = MAX_THREADS;
  Job jobs[MAX_THREADS];
  float *partials = NULL;
  if (op == FILTER_GRAD && T > 1) {
    partials = (float *)malloc((size_t)((T - 1) * K * N) * sizeof(float));
    if (!partials) T = 1;
  }
  for (int t = 0; t < T; t++) {
    jobs[t] = (Job){op, g, a, b, out, beta, g->B * t / T, g->B * (t + 1) / T, 0};
    if (op == FILTER_GRAD && t > 0) jobs[t].out = partials + (t - 1) * K * N;
  }
  par_run(T, job_main, jobs);
  int failed = 0;
  for (int t = 0; t < T; t++) failed |= jobs[t].failed;
  if (!failed && partials) {
    for (int t = 1; t < T; t++) {
      const float *p = partials + (t - 1) * K * N;
      for (int64_t i = 0; i < K * N; i++) out[i] += p[i];
    }
  }
  free(partials);
  return failed ? -1 : 0;
}

int conv_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, int relu, float *y) {
  const int64_t rows = g->B * g->Ho * g->Wo, N = g->Cout;
  float beta = 0.0f;
  if (bias) {
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * N, bias, (size_t)N * sizeof(float));
    beta = 1.0f;
  }
  if (run(FORWARD, g, x, w, y, beta) != 0) return -1;
  if (relu) {
    for (int64_t i = 0; i < rows * N; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
  }
  return 0;
}

int conv_filter_grad(const ConvGeom *g, const float *x, const float *dy, float *dw) { return run(FILTER_GRAD, g, x, dy, dw, 0.0f); }

int conv_input_grad(const ConvGeom *g, const float *dy, const float *w, float *dx) {
  if (!pointwise(g)) memset(dx, 0, (size_t)(g->B * g->H * g->W * g->Cin) * sizeof(float));
  return run(INPUT_GRAD, g, dy, w, dx, 0.0f);
}
