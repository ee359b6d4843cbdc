/**
 * Loads difflab-blas (native/blas.c, built by scripts/build-native.mjs into
 * dist/native/difflab-blas.node): OpenBLAS's sgemm on tensors in tfjs-backend-wasm's heap.
 * Node only; this module imports node: builtins lazily, so a browser bundle never loads it.
 */

/** The addon's functions (see native/blas.c for the exact contract). */
export interface NativeBlas {
  /**
   * For i < batch: C_i = op(A_i) op(B_i) (+ bias row) (relu when flags & 4); flags & 1 transposes
   * A, flags & 2 transposes B. Offsets and strides count float32 elements of `heap`; stride 0
   * broadcasts; biasOff < 0: no bias. Throws a RangeError when an operand lies outside `heap`.
   */
  gemm(
    heap: Float32Array,
    flags: number,
    batch: number,
    m: number,
    n: number,
    k: number,
    aOff: number,
    aStride: number,
    bOff: number,
    bStride: number,
    cOff: number,
    biasOff: number,
    biasStride: number,
  ): void;
  /**
   * y[B,Ho,Wo,Cout] = conv(x[B,H,W,Cin], w[kh,kw,Cin,Cout]) (NHWC, tfjs' cross-correlation), plus
   * bias[Cout] when biasOff >= 0, plus the addend at addOff ([B, Cout] when addMode is 1, [B, Ho,
   * Wo, Cout] when 2; 0: none), relu when flags & 4.
   */
  conv2d(
    heap: Float32Array,
    xOff: number,
    B: number,
    H: number,
    W: number,
    Cin: number,
    wOff: number,
    kh: number,
    kw: number,
    Cout: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    Ho: number,
    Wo: number,
    yOff: number,
    biasOff: number,
    flags: number,
    addOff: number,
    addMode: number,
  ): void;
  /** dw[kh,kw,Cin,Cout] of that convolution from x and dy[B,Ho,Wo,Cout]. */
  convFilterGrad(heap: Float32Array, xOff: number, B: number, H: number, W: number, Cin: number, dyOff: number, Ho: number, Wo: number, Cout: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dwOff: number): void;
  /** dx[B,H,W,Cin] of that convolution from dy[B,Ho,Wo,Cout] and w. */
  convInputGrad(heap: Float32Array, dyOff: number, B: number, Ho: number, Wo: number, Cout: number, wOff: number, kh: number, kw: number, Cin: number, sh: number, sw: number, pt: number, pl: number, H: number, W: number, dxOff: number): void;
  /**
   * Vector math on n values: op 0 b = sin(a), 1 b = cos(a), 2 GELU (b = y, c = Phi(a)),
   * 3 GELU gradient (d = dx from a = dy, b = x, c = Phi(x)), 4 SiLU (b = y), 5 SiLU gradient
   * (c = dx from a = dy, b = x). Offsets count float32 elements.
   */
  elementwise(heap: Float32Array, op: number, n: number, aOff: number, bOff: number, cOff: number, dOff: number): void;
  /** out [N, 2F] = [sin(x f), cos(x f)] per row ([cos, sin] when cosFirst is 1) for x [N], freqs [F]. */
  sinusoidal(heap: Float32Array, xOff: number, freqOff: number, N: number, F: number, cosFirst: number, outOff: number): void;
  /** out [O, M, I] = a [O, M, I] op b [O or 1, 1, I]: op 0 +, 1 *, 2 a - b, 3 b - a (bPerO: b has O rows). */
  binary(heap: Float32Array, op: number, aOff: number, bOff: number, O: number, M: number, I: number, bPerO: number, outOff: number): void;
  /** out [batch, cols, rows, inner] from x [batch, rows, cols, inner], 32-bit words. */
  blockSwap(heap: Float32Array, xOff: number, batch: number, rows: number, cols: number, inner: number, outOff: number): void;
  /**
   * dst[r * dstStride + j] = src[r * srcStride + j] for r < rows, j < cols, of 32-bit values (float32 or
   * int32 alike); dstStride >= cols (when rows > 1), sizes positive. Split over the addon's threads from ~1M values
   * (same bits). Throws a RangeError when a span lies outside `heap` or the two spans overlap.
   */
  copy2d(heap: Float32Array, srcOff: number, srcStride: number, dstOff: number, dstStride: number, rows: number, cols: number): void;
  /**
   * Nearest-neighbour resize of x [B, H, W, C] into out [B, newH, newW, C] (32-bit values) with
   * tfjs-backend-cpu's ResizeNearestNeighbor index rule; alignCorners, halfPixelCenters 0 or 1.
   */
  resizeNearest(heap: Float32Array, xOff: number, B: number, H: number, W: number, C: number, newH: number, newW: number, alignCorners: number, halfPixelCenters: number, outOff: number): void;
  /** out [outer, cols] = x [outer, rows, cols] summed over rows. */
  colsum(heap: Float32Array, xOff: number, outer: number, rows: number, cols: number, outOff: number): void;
  /** Layer norm over the last axis of x [rows, C] (no affine): xhat [rows, C], rstd [rows]. */
  layerNorm(heap: Float32Array, xOff: number, rows: number, C: number, xhatOff: number, rstdOff: number, eps: number): void;
  /** Its gradient dx from dy, xhat, rstd. */
  layerNormGrad(heap: Float32Array, dyOff: number, xhatOff: number, rstdOff: number, rows: number, C: number, dxOff: number): void;
  /** One Adam step over n values (native/adam.c): p2, m2, v2 from p, g, m, v; the last eight are the float32 constants. */
  adam(heap: Float32Array, pOff: number, gOff: number, mOff: number, vOff: number, n: number, mode: number, p2Off: number, m2Off: number, v2Off: number, b1: number, b1c: number, b2: number, b2c: number, eps: number, step: number, bc2: number, decay: number): void;
  /**
   * `DifflabOptimizerStep` (native/adam.c): clip, Adam step and EMA of K tensors; plan = [K, mode, ema
   * (0 none, 1 copy, 2 average), mOff, vOff, sOff, m2Off, v2Off, s2Off, normOff, then per tensor size,
   * pOff, gOff, p2Off]; consts = [b1, b1c, b2, b2c, eps, step, bc2, decay, maxNorm (0: no clip), w].
   */
  optimizerStep(heap: Float32Array, plan: Float64Array, consts: Float64Array): void;
  /**
   * The residual MLP's forward pass (native/mlp.c); plan = [act (0 GELU, 1 SiLU, 2 ReLU), K, N,
   * D0, H, Dout, xOff, yOff, savedOff, then W_l, b_l offsets for l = 0 .. K+1].
   */
  mlp(heap: Float32Array, plan: Float64Array): void;
  /** Its backward pass; plan = [act, K, N, D0, H, Dout, dyOff, xOff, savedOff, dxOff (-1: none), then W_l, dW_l, db_l offsets per layer]. */
  mlpGrad(heap: Float32Array, plan: Float64Array): void;
  /** Multi-head attention (native/attention.c): out [B N, heads d] and weights [B heads, N, N] from qkv [B N, 3 heads d]. */
  attention(heap: Float32Array, qkvOff: number, B: number, N: number, heads: number, d: number, outOff: number, weightsOff: number): void;
  /** Its backward pass: dqkv [B N, 3 heads d] from dout [B N, heads d], qkv and weights. */
  attentionGrad(heap: Float32Array, doutOff: number, qkvOff: number, weightsOff: number, B: number, N: number, heads: number, d: number, dqkvOff: number): void;
  /** Group normalisation of x [B, M, C] in `groups` groups: y [B, M, C] and stats [B, groups, 2] = (mean, rstd); silu 1: y = silu(group norm). */
  groupNorm(heap: Float32Array, xOff: number, gammaOff: number, betaOff: number, B: number, M: number, C: number, groups: number, yOff: number, statsOff: number, eps: number, silu: number): void;
  /** Its gradient: dx [B, M, C], dgamma [C], dbeta [C]; betaOff >= 0: the gradient of silu(group norm) (betaOff -1: of the group norm). */
  groupNormGrad(heap: Float32Array, dyOff: number, xOff: number, statsOff: number, gammaOff: number, B: number, M: number, C: number, groups: number, dxOff: number, dgammaOff: number, dbetaOff: number, betaOff: number): void;
  /** The linked OpenBLAS: build configuration, the CPU kernel it chose, its thread count. */
  /** directConv: the direct (AVX-512) convolutions of native/conv.c are built in and on. */
  info(): { config: string; corename: string; threads: number; directConv: boolean };
  setThreads(n: number): void;
}

export interface LoadedBlas {
  blas: NativeBlas | null;
  /** What was loaded, or why nothing was (one line). */
  note: string;
}

/** Where the build puts the addon, relative to this module (src/ or dist/ of the package). */
const ADDON = '../../dist/native/difflab-blas.node';

let loaded: LoadedBlas | undefined;

/** Load the addon once per process; `blas` is null (and `note` says why) when it cannot load. */
export async function loadNativeBlas(): Promise<LoadedBlas> {
  if (loaded) return loaded;
  try {
    const { createRequire } = await import('node:module');
    const { existsSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const path = fileURLToPath(new URL(ADDON, import.meta.url));
    if (!existsSync(path)) {
      loaded = { blas: null, note: 'native addon not built (npm run build -w @difflab/runtime needs gcc and libopenblas-dev); every kernel in WebAssembly' };
    } else {
      const blas = createRequire(import.meta.url)(path) as NativeBlas;
      const { corename, threads } = blas.info();
      loaded = { blas, note: `native addon: matmuls, convolutions, group / layer norm, GELU, SiLU, sin, cos, add / mul / sub, sum, transpose, concat, slice, nearest resize, Adam, residual MLP, attention (OpenBLAS ${corename} kernels, ${threads} thread(s))` };
    }
  } catch (e) {
    loaded = { blas: null, note: `native addon failed to load (${String((e as Error)?.message ?? e).split('\n')[0]}); every kernel in WebAssembly` };
  }
  return loaded;
}
