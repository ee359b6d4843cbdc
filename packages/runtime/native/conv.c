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

/* Threads for a convolution: one for every ~8 MFLOP at least, at most `units` (work items). */
static int threads_for(const ConvGeom *g, int64_t units) {
  const double flops = 2.0 * (double)(g->B * g->Ho * g->Wo) * (double)(g->kh * g->kw * g->Cin * g->Cout);
  int T = par_threads();
  if ((double)T * 8e6 > flops) T = (int)(flops / 8e6) > 1 ? (int)(flops / 8e6) : 1;
  if (T > units) T = (int)units;
  return T > MAX_THREADS ? MAX_THREADS : T;
}

/* The filter gradient's fixed blocks (of output rows, or of images on the im2col path): each sums
 * into its own partial dW and the partials are added in block order, so the result does not
 * depend on the number of threads nor on which thread took a block. */
#define DW_BLOCKS 8

/* dw += the partial dWs of blocks 1 .. n-1 (block 0 wrote dw itself), in order. */
static void add_partials(float *dw, const float *partials, int64_t n, int64_t KN) {
  for (int64_t k = 1; k < n; k++) {
    const float *p = partials + (k - 1) * KN;
    for (int64_t i = 0; i < KN; i++) dw[i] += p[i];
  }
}

/* y's rows r0 .. r0 + n - 1 (pixels; M pixels an image) start as bias + addend (or 0), so that the
 * convolution accumulates onto them: addend [B, Cout] per image or [B M, Cout] per pixel. */
static void init_rows(float *y, int64_t r0, int64_t n, int64_t M, int64_t Cout, const float *bias, const float *addend, int per_image) {
  for (int64_t k = 0; k < n; k++) {
    float *yp = y + k * Cout;
    const int64_t r = r0 + k;
    if (addend) memcpy(yp, addend + (per_image ? r / M : r) * Cout, (size_t)Cout * sizeof(float));
    else if (bias) memcpy(yp, bias, (size_t)Cout * sizeof(float));
    else memset(yp, 0, (size_t)Cout * sizeof(float));
    if (addend && bias)
      for (int64_t c = 0; c < Cout; c++) yp[c] += bias[c];
  }
}

#if defined(__AVX512F__) && !defined(DIFFLAB_NO_DIRECT_CONV)
#define HAVE_DIRECT 1
#include "tile.h"

/* Output columns ow whose tap j lies inside x (0 <= ow sw - pl + j < W), as [*lo, *hi). */
static void tap_columns(const ConvGeom *g, int64_t j, int64_t *lo, int64_t *hi) {
  const int64_t a = g->pl - j, last = g->W - 1 + g->pl - j;
  *lo = a > 0 ? (a + g->sw - 1) / g->sw : 0;
  *hi = last < 0 ? 0 : last / g->sw + 1;
  if (*hi > g->Wo) *hi = g->Wo;
}

/* DIFFLAB_DIRECT_CONV=0: every convolution through im2col + sgemm (for comparisons). */
static int direct_disabled(void) {
  static int v = -1;
  if (v < 0) {
    const char *e = getenv("DIFFLAB_DIRECT_CONV");
    v = e && e[0] == '0';
  }
  return v;
}

/* The direct loop pays for itself from 8 input channels (an image's 1-3 channels keep im2col). */
static int direct_ok(const ConvGeom *g) { return g->Cout % 16 == 0 && g->Cin >= 8 && !direct_disabled(); }

typedef struct {
  const ConvGeom *g;
  const float *x, *w, *bias;
  const float *addend; /* added to y: [B, Cout] (add_per_image) or [B, Ho, Wo, Cout]; or NULL */
  int add_per_image;
  float *y;
  int relu;
  int64_t units, chunk;
  int64_t next; /* next output row (b, oh) to take: atomic */
} Direct;

/* One output row y[b, oh]: bias (or 0), then every tap's contribution over its valid columns. */
static void direct_row(const Direct *d, int64_t row) {
  const ConvGeom *g = d->g;
  const int64_t Cin = g->Cin, Cout = g->Cout, oh = row % g->Ho, b = row / g->Ho;
  float *yrow = d->y + row * g->Wo * Cout;
  init_rows(yrow, row * g->Wo, g->Wo, g->Wo * g->Ho, Cout, d->bias, d->addend, d->add_per_image);
  const int nv = direct_nv(Cout), NP = tile_pixels(nv), cw = 16 * nv;
  for (int64_t i = 0; i < g->kh; i++) {
    const int64_t ih = oh * g->sh - g->pt + i;
    if (ih < 0 || ih >= g->H) continue;
    const float *xrow = d->x + (b * g->H + ih) * g->W * Cin;
    for (int64_t j = 0; j < g->kw; j++) {
      int64_t lo, hi;
      tap_columns(g, j, &lo, &hi);
      const float *wtap = d->w + (i * g->kw + j) * Cin * Cout;
      for (int64_t co = 0; co < Cout; co += cw)
        for (int64_t ow = lo; ow < hi; ow += NP) {
          const int np = (int)(hi - ow < NP ? hi - ow : NP);
          const Run run = {xrow + (ow * g->sw - g->pl + j) * Cin, wtap + co, Cin};
          tile_any(np, nv, &run, 1, 0, 0, g->sw * Cin, 1, Cout, yrow + ow * Cout + co, Cout);
        }
    }
  }
  if (d->relu)
    for (int64_t k = 0; k < g->Wo * Cout; k++) yrow[k] = yrow[k] > 0.0f ? yrow[k] : 0.0f;
}

/* Rows are taken a chunk at a time from a shared counter: a thread that starts late (waking an
 * idle core takes up to milliseconds on a VM) leaves its rows to the others. Each row is computed
 * by one thread in a fixed order, so the result does not depend on the split. */
static void direct_main(void *arg, int t, int T) {
  (void)t;
  (void)T;
  Direct *d = (Direct *)arg;
  for (;;) {
    const int64_t r0 = __atomic_fetch_add(&d->next, d->chunk, __ATOMIC_RELAXED);
    if (r0 >= d->units) break;
    const int64_t r1 = r0 + d->chunk < d->units ? r0 + d->chunk : d->units;
    for (int64_t r = r0; r < r1; r++) direct_row(d, r);
  }
}

static void direct_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, const float *addend, int add_per_image, int relu, float *y) {
  const int64_t units = g->B * g->Ho;
  const int T = threads_for(g, units);
  int64_t chunk = units / (8 * (int64_t)T);
  if (chunk < 1) chunk = 1;
  Direct d = {g, x, w, bias, addend, add_per_image, y, relu, units, chunk, 0};
  par_run(T, direct_main, &d);
}

/*
 * Filter gradient, the same register tile with the roles turned: for each tap, a block of NP
 * input channels x NV vectors of output channels of dW[i, j] accumulates over the valid columns
 * of FG_ROWS output rows, dW[i, j, c, co] += sum x[b, ih, ow sw - pl + j, c] dy[b, oh, ow, co],
 * in DW_BLOCKS blocks of output rows.
 */

typedef struct {
  const ConvGeom *g;
  const float *x, *dy;
  float *dw, *partials; /* block 0's dW, then blocks 1.. (K x Cout each) */
  int64_t units, blocks;
  int64_t next;
} DirectFg;

/* Rows of dy summed per filter-gradient tile before its accumulators go back to memory. */
#define FG_ROWS 8

/* dW contributions of output rows [r0, r1) (at most FG_ROWS), tap by tap. */
static void direct_fg_rows(const DirectFg *d, int64_t r0, int64_t r1, float *dw) {
  const ConvGeom *g = d->g;
  const int64_t Cin = g->Cin, Cout = g->Cout;
  const int nv = direct_nv(Cout), NP = tile_pixels(nv), cw = 16 * nv;
  Run runs[FG_ROWS];
  for (int64_t i = 0; i < g->kh; i++)
    for (int64_t j = 0; j < g->kw; j++) {
      int64_t lo, hi;
      tap_columns(g, j, &lo, &hi);
      if (hi <= lo) continue;
      int nrun = 0;
      for (int64_t row = r0; row < r1; row++) {
        const int64_t oh = row % g->Ho, b = row / g->Ho, ih = oh * g->sh - g->pt + i;
        if (ih < 0 || ih >= g->H) continue;
        runs[nrun++] = (Run){d->x + ((b * g->H + ih) * g->W + lo * g->sw - g->pl + j) * Cin, d->dy + (row * g->Wo + lo) * Cout, hi - lo};
      }
      if (nrun == 0) continue;
      float *dwtap = dw + (i * g->kw + j) * Cin * Cout;
      for (int64_t co = 0; co < Cout; co += cw)
        for (int64_t c = 0; c < Cin; c += NP) {
          const int np = (int)(Cin - c < NP ? Cin - c : NP);
          tile_any(np, nv, runs, nrun, c, co, 1, g->sw * Cin, Cout, dwtap + c * Cout + co, Cout);
        }
    }
}

static void direct_fg_main(void *arg, int t, int T) {
  (void)t;
  (void)T;
  DirectFg *d = (DirectFg *)arg;
  const int64_t KN = d->g->kh * d->g->kw * d->g->Cin * d->g->Cout;
  for (;;) {
    const int64_t k = __atomic_fetch_add(&d->next, 1, __ATOMIC_RELAXED);
    if (k >= d->blocks) break;
    float *dw = k == 0 ? d->dw : d->partials + (k - 1) * KN;
    memset(dw, 0, (size_t)KN * sizeof(float));
    const int64_t r1 = d->units * (k + 1) / d->blocks;
    for (int64_t r = d->units * k / d->blocks; r < r1; r += FG_ROWS) direct_fg_rows(d, r, r + FG_ROWS < r1 ? r + FG_ROWS : r1, dw);
  }
}

static int direct_filter_grad(const ConvGeom *g, const float *x, const float *dy, float *dw) {
  const int64_t units = g->B * g->Ho, KN = g->kh * g->kw * g->Cin * g->Cout;
  const int64_t blocks = units < DW_BLOCKS ? units : DW_BLOCKS;
  float *partials = NULL;
  if (blocks > 1 && !(partials = (float *)malloc((size_t)((blocks - 1) * KN) * sizeof(float)))) return -1;
  DirectFg d = {g, x, dy, dw, partials, units, blocks, 0};
  par_run(threads_for(g, blocks), direct_fg_main, &d);
  add_partials(dw, partials, blocks, KN);
  free(partials);
  return 0;
}
#endif

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

typedef struct {
  Job *jobs;
  int n;
  int next; /* next job to take: atomic */
} JobQueue;

static void queue_main(void *arg, int t, int T) {
  (void)t;
  (void)T;
  JobQueue *q = (JobQueue *)arg;
  for (;;) {
    const int k = __atomic_fetch_add(&q->next, 1, __ATOMIC_RELAXED);
    if (k >= q->n) break;
    run_job(&q->jobs[k]);
  }
}

/* Runs the op over the images split into jobs taken by the threads; partial dW of jobs > 0 in `partials`. */
static int run(enum Op op, const ConvGeom *g, const float *a, const float *b, float *out, float beta) {
  const int64_t KN = g->kh * g->kw * g->Cin * g->Cout;
  /* images split into jobs: a thread's share each, or the filter gradient's fixed blocks */
  int T = threads_for(g, g->B);
  const int J = op == FILTER_GRAD ? (int)(g->B < DW_BLOCKS ? g->B : DW_BLOCKS) : T;
  if (T > J) T = J;
  Job jobs[MAX_THREADS > DW_BLOCKS ? MAX_THREADS : DW_BLOCKS];
  float *partials = NULL;
  if (op == FILTER_GRAD && J > 1 && !(partials = (float *)malloc((size_t)((J - 1) * KN) * sizeof(float)))) return -1;
  for (int k = 0; k < J; k++) {
    jobs[k] = (Job){op, g, a, b, out, beta, g->B * k / J, g->B * (k + 1) / J, 0};
    if (op == FILTER_GRAD && k > 0) jobs[k].out = partials + (k - 1) * KN;
  }
  JobQueue q = {jobs, J, 0};
  par_run(T, queue_main, &q);
  int failed = 0;
  for (int k = 0; k < J; k++) failed |= jobs[k].failed;
  if (!failed && partials) add_partials(out, partials, J, KN);
  free(partials);
  return failed ? -1 : 0;
}

int conv_direct_available(void) {
#ifdef HAVE_DIRECT
  return !direct_disabled();
#else
  return 0;
#endif
}

int conv_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, const float *addend, int add_per_image, int relu, float *y) {
#ifdef HAVE_DIRECT
  if (direct_ok(g) && !pointwise(g)) {
    direct_forward(g, x, w, bias, addend, add_per_image, relu, y);
    return 0;
  }
#endif
  const int64_t rows = g->B * g->Ho * g->Wo, N = g->Cout;
  float beta = 0.0f;
  if (bias || addend) {
    init_rows(y, 0, rows, g->Ho * g->Wo, N, bias, addend, add_per_image);
    beta = 1.0f;
  }
  if (run(FORWARD, g, x, w, y, beta) != 0) return -1;
  if (relu) {
    for (int64_t i = 0; i < rows * N; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
  }
  return 0;
}

int conv_filter_grad(const ConvGeom *g, const float *x, const float *dy, float *dw) {
#ifdef HAVE_DIRECT
  if (g->Cout % 16 == 0 && !direct_disabled() && !pointwise(g)) return direct_filter_grad(g, x, dy, dw);
#endif
  return run(FILTER_GRAD, g, x, dy, dw, 0.0f);
}

int conv_input_grad(const ConvGeom *g, const float *dy, const float *w, float *dx) {
#ifdef HAVE_DIRECT
  /* Stride 1: dx is the forward convolution of dy with the filter flipped in space and its channel
   * axes swapped, w'[i', j', co, c] = w[kh-1-i', kw-1-j', c, co], padded by k - 1 - p. */
  if (g->sh == 1 && g->sw == 1 && !pointwise(g)) {
    const ConvGeom t = {g->B, g->Ho, g->Wo, g->Cout, g->H, g->W, g->Cin, g->kh, g->kw, 1, 1, g->kh - 1 - g->pt, g->kw - 1 - g->pl};
    if (direct_ok(&t)) {
      const int64_t Cin = g->Cin, Cout = g->Cout, taps = g->kh * g->kw;
      float *wt = (float *)malloc((size_t)(taps * Cin * Cout) * sizeof(float));
      if (!wt) return -1;
      for (int64_t tap = 0; tap < taps; tap++) {
        const float *src = w + (taps - 1 - tap) * Cin * Cout;
        float *dst = wt + tap * Cin * Cout;
        for (int64_t c = 0; c < Cin; c++)
          for (int64_t co = 0; co < Cout; co++) dst[co * Cin + c] = src[c * Cout + co];
      }
      direct_forward(&t, dy, wt, NULL, NULL, 0, 0, dx);
      free(wt);
      return 0;
    }
  }
#endif
  if (!pointwise(g)) memset(dx, 0, (size_t)(g->B * g->H * g->W * g->Cin) * sizeof(float));
  return run(INPUT_GRAD, g, dy, w, dx, 0.0f);
}
