/**
 * Layer helpers shared by the image denoisers (`patch-transformer.ts`, `unet.ts`): torch-default
 * initialisation from a seeded `Rng`, and forward functions written for the tfjs wasm backend.
 *
 * Layouts (the transposes of torch's, so the forward pass is a plain matmul / NHWC conv):
 * - Linear weight `[in, out]` (torch `[out, in]`), bias `[out]`.
 * - Conv2d weight `[kh, kw, in, out]` (torch `[out, in, kh, kw]`), bias `[out]`.
 * - LayerNorm / GroupNorm weight and bias `[C]`.
 *
 * Why the hand-written gradients (`tf.customGrad`): a linear layer's gradient is two matmuls
 * with transposeA / transposeB and a column sum, nothing else (difflab's wasm matmul kernels
 * handle the flags: OpenBLAS reads the operands transposed, the WebAssembly fallback transposes
 * explicitly, since tfjs-backend-wasm's own transposed path is ~10x slower than its plain one);
 * and tfjs' Conv2D gradient needs `Conv2DBackpropFilter`, which
 * the wasm backend lacks, and `Conv2DBackpropInput`, which it runs ~8x slower than a forward
 * conv. Here both conv gradients are forward convolutions (see `conv2d`), so the models train
 * on every backend with no extra kernel registration.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS, isNativeKernel } from '@difflab/core';
import type { Rng } from '@difflab/core';
import { activationBackward, activationForward } from './activations.js';
import { initLinear, linearInitBound, variableFrom } from './init.js';

export interface LinearParams {
  /** [in, out] */
  weight: tf.Variable;
  /** [out] */
  bias: tf.Variable;
}

export interface NormParams {
  /** [C], initialised to 1 */
  weight: tf.Variable;
  /** [C], initialised to 0 */
  bias: tf.Variable;
}

export interface Conv2dParams {
  /** [kh, kw, in, out] */
  weight: tf.Variable;
  /** [out] */
  bias: tf.Variable;
  stride: number;
  /** Symmetric zero padding on each side (torch's `padding`). */
  padding: number;
}

/** torch nn.Linear default init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)); weight stored [in, out]. */
export function createLinear(inDim: number, outDim: number, rng: Rng): LinearParams {
  return initLinear(inDim, outDim, rng);
}

/** torch nn.LayerNorm / nn.GroupNorm default: weight 1, bias 0. */
export function createNorm(channels: number): NormParams {
  return { weight: variableFrom(tf.ones([channels])), bias: variableFrom(tf.zeros([channels])) };
}

/**
 * torch nn.Conv2d default init (kaiming_uniform_(a = sqrt 5)): weight and bias ~
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * k * k. Weight stored [k, k, in, out].
 */
export function createConv2d(inCh: number, outCh: number, kernel: number, rng: Rng, opts: { stride?: number; padding?: number } = {}): Conv2dParams {
  const bound = linearInitBound(inCh * kernel * kernel);
  const w = rng.uniformArray(kernel * kernel * inCh * outCh, -bound, bound);
  const b = rng.uniformArray(outCh, -bound, bound);
  return {
    weight: variableFrom(tf.tensor4d(w, [kernel, kernel, inCh, outCh])),
    bias: variableFrom(tf.tensor1d(b)),
    stride: opts.stride ?? 1,
    padding: opts.padding ?? (kernel - 1) / 2,
  };
}

/**
 * Column sums of x viewed as [M, C] (C its last axis): the bias gradients. A sum over axis 0 where
 * that is one reduction: WebGPU (one dispatch instead of a fill and a matmul) and the wasm backend
 * with difflab's native addon (its Sum is a vectorised column-sum pass, ~2x faster than OpenBLAS's
 * ones[1, M] @ x at the UNet's [65536, 32]). Elsewhere ones[1, M] @ x: tfjs-backend-wasm reduces
 * only innermost axes fast (a sum over axis 0 transposes first), and even difflab's WebAssembly
 * column-sum kernel runs ~2x slower than the matmul there at [65536, 32] ([65536, 64]: 2.5 against
 * 0.8 ms).
 */
export function columnSums(x: tf.Tensor): tf.Tensor1D {
  const c = x.shape[x.rank - 1] as number;
  const m = x.size / c;
  if (gpuLike() || isNativeKernel(tf.getKernel(tf.Sum, tf.getBackend()))) return tf.tidy(() => tf.sum(x.rank === 2 ? x : tf.reshape(x, [m, c]), 0) as tf.Tensor1D);
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, m]), tf.reshape(x, [m, c])), [c]));
}


/**
 * WebGPU pays per dispatch (~50 µs of host time each on an H100 through Dawn,
 * tools/bench/RESULTS.md) and reduces over any axis in one program, so there sums and conv dx
 * take the one-program forms.
 */
function gpuLike(): boolean {
  return tf.getBackend() === 'webgpu';
}

/**
 * a @ b (2-D, or batched 3-D with equal batch), with the gradient da = dy b^T, db = a^T dy as
 * matmuls with transposeA / transposeB: WebGPU and difflab's OpenBLAS kernel (wasm in Node) read
 * the operands transposed at no cost, and difflab's WebAssembly matmul kernel transposes
 * explicitly first (tfjs-backend-wasm's own transposed path is ~10x slower), so no backend needs
 * a separate Transpose op here.
 */
export const matmul = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, sb as tf.Tensor2D, false, true), tf.matMul(sa as tf.Tensor2D, dy as tf.Tensor2D, true, false)],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * x W + b over the last axis of x (any rank >= 2) as one tape node: x viewed as [rows, in] inside
 * it (the views cost no tape nodes, no saved clones and no reshape gradients), the gradient
 * dx = dy W^T, dW = x^T dy, db = column sums of dy.
 */
const linearOp = tf.customGrad((x, w, b, save) => {
  const xs = x as tf.Tensor;
  const [inDim, outDim] = (w as tf.Tensor).shape as [number, number];
  const x2 = (xs.rank === 2 ? xs : tf.reshape(xs, [-1, inDim])) as tf.Tensor2D;
  (save as tf.GradSaveFunc)([x2, w as tf.Tensor]);
  const y2 = tf.fused.matMul({ a: x2, b: w as tf.Tensor2D, bias: b as tf.Tensor });
  const xShape = xs.shape;
  return {
    value: xs.rank === 2 ? y2 : tf.reshape(y2, [...xShape.slice(0, -1), outDim]),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => {
      const d = (dy.rank === 2 ? dy : tf.reshape(dy, [-1, outDim])) as tf.Tensor2D;
      const dx = tf.matMul(d, sw as tf.Tensor2D, false, true);
      return [xShape.length === 2 ? dx : tf.reshape(dx, xShape), tf.matMul(sx as tf.Tensor2D, d, true, false), columnSums(d)];
    },
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** y = x W + b over the last axis of x (any rank >= 2). */
export function linear(x: tf.Tensor, p: LinearParams): tf.Tensor {
  const inDim = p.weight.shape[0] as number;
  if (x.rank < 2 || x.shape[x.rank - 1] !== inDim) throw new RangeError(`linear layer expects last dim ${inDim}, got [${x.shape}]`);
  return linearOp(x, p.weight, p.bias);
}

/** SiLU z sigmoid(z) (torch nn.SiLU) as one tape node. */
export const silu = tf.customGrad((z, save) => {
  const { y, saved } = activationForward('silu', z as tf.Tensor2D);
  (save as tf.GradSaveFunc)(saved);
  return { value: y, gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => activationBackward('silu', dy as tf.Tensor2D, s) };
}) as (z: tf.Tensor) => tf.Tensor;

/** Exact (erf) GELU, torch nn.GELU() default, as one tape node. */
export const gelu = tf.customGrad((z, save) => {
  const { y, saved } = activationForward('gelu', z as tf.Tensor2D);
  (save as tf.GradSaveFunc)(saved);
  return { value: y, gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => activationBackward('gelu', dy as tf.Tensor2D, s) };
}) as (z: tf.Tensor) => tf.Tensor;

const normalizeCache = new Map<number, (x: tf.Tensor) => tf.Tensor>();

/**
 * Normalise x over its last axis (mean and biased variance, as torch; eps inside the sqrt), as
 * one tape node with the closed-form gradient dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
 */
function normalizeLast(x: tf.Tensor, eps: number): tf.Tensor {
  let op = normalizeCache.get(eps);
  if (!op) {
    op = tf.customGrad((xi, save) => {
      const xs = xi as tf.Tensor;
      const axis = xs.rank - 1;
      if (tf.getKernel(DIFFLAB_KERNELS.layerNorm, tf.getBackend())) {
        // One fused kernel per pass where the backend has it (webgpu), the same formulas.
        const [xhat, rstd] = tf.engine().runKernel(DIFFLAB_KERNELS.layerNorm, { x: xs }, { eps }) as unknown as tf.Tensor[];
        (save as tf.GradSaveFunc)([xhat, rstd]);
        return {
          value: xhat,
          gradFunc: (dy: tf.Tensor, [sxhat, srstd]: tf.Tensor[]) => tf.engine().runKernel(DIFFLAB_KERNELS.layerNormGrad, { dy, xhat: sxhat, rstd: srstd }, {}) as tf.Tensor,
        };
      }
      const xc = tf.sub(xs, tf.mean(xs, axis, true));
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axis, true), eps));
      const xhat = tf.mul(xc, rstd);
      (save as tf.GradSaveFunc)([xhat, rstd]);
      return {
        value: xhat,
        gradFunc: (dy: tf.Tensor, [sxhat, srstd]: tf.Tensor[]) => {
          const mdy = tf.mean(dy, axis, true);
          const mdyx = tf.mean(tf.mul(dy, sxhat), axis, true);
          return tf.mul(tf.sub(tf.sub(dy, mdy), tf.mul(sxhat, mdyx)), srstd);
        },
      };
    }) as (x: tf.Tensor) => tf.Tensor;
    normalizeCache.set(eps, op);
  }
  return op(x);
}

/**
 * torch nn.LayerNorm over the last axis (biased variance, eps inside the sqrt), with affine weight
 * and bias. On WebGPU, where each program costs tens of microseconds of host time, as the group
 * norm of one group over each row ([rows, 1, C], the same statistics and affine): @difflab/runtime's
 * group-norm programs, 2 forward and 3 backward, where normalise + multiply + add and their
 * gradients are 9.
 */
export function layerNorm(x: tf.Tensor, p: NormParams, eps = 1e-5): tf.Tensor {
  if (gpuLike() && tf.getKernel(DIFFLAB_KERNELS.groupNorm, 'webgpu') && tf.getKernel(DIFFLAB_KERNELS.groupNormGrad, 'webgpu')) {
    return layerNormRowsOp(eps)(x, p.weight, p.bias);
  }
  const xhat = normalizeLast(x, eps);
  return tf.add(tf.mul(xhat, p.weight), p.bias);
}

const layerNormRowsCache = new Map<number, (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor>();

/**
 * A layer norm over x's last axis as `DifflabGroupNorm` with one group on x viewed as [rows, 1, C]
 * (WebGPU), one tape node: the views inside it cost no tape nodes, saved clones or reshape gradients.
 */
function layerNormRowsOp(eps: number): (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor {
  let op = layerNormRowsCache.get(eps);
  if (!op) {
    op = tf.customGrad((xi, gamma, beta, save) => {
      const x = xi as tf.Tensor;
      const c = x.shape[x.rank - 1] as number;
      const rows: [number, number, number] = [x.size / c, 1, c];
      const x3 = tf.reshape(x, rows);
      const [y, stats] = tf.engine().runKernel(DIFFLAB_KERNELS.groupNorm, { x: x3, gamma: gamma as tf.Tensor, beta: beta as tf.Tensor }, { groups: 1, eps }) as unknown as tf.Tensor[];
      (save as tf.GradSaveFunc)([x3, stats, gamma as tf.Tensor]);
      const shape = x.shape;
      return {
        value: tf.reshape(y, shape),
        gradFunc: (dy: tf.Tensor, [sx, sstats, sgamma]: tf.Tensor[]) => {
          const [dx, dgamma, dbeta] = tf.engine().runKernel(DIFFLAB_KERNELS.groupNormGrad, { dy: tf.reshape(dy, rows), x: sx, stats: sstats, gamma: sgamma }, { groups: 1 }) as unknown as tf.Tensor[];
          return [tf.reshape(dx, shape), dgamma, dbeta];
        },
      };
    }) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
    layerNormRowsCache.set(eps, op);
  }
  return op;
}

/**
 * Per-sample channel sums of x [B, M, C]: [B, 1, C]. A sum over axis 1 (on wasm @difflab/runtime's
 * Sum kernel does it as column sums in one pass, 7-12x faster than the batched matmul
 * ones[B, 1, M] @ x it replaces, which tfjs-backend-wasm runs one batch at a time); on WebGPU
 * that matmul, one dispatch like the sum's transpose.
 */
function channelSums(x: tf.Tensor3D): tf.Tensor3D {
  const [b, m] = x.shape;
  if (gpuLike()) return tf.matMul(tf.ones([b, 1, m]), x);
  return tf.sum(x, 1, true);
}

/** [B, 1, C] per-channel values -> per-group means [B, 1, C] (each channel gets its group's mean over channels, / n). */
function groupMeanPerChannel(s: tf.Tensor3D, groups: number, n: number): tf.Tensor3D {
  const [b, , c] = s.shape;
  const cg = c / groups;
  const g = tf.div(tf.sum(tf.reshape(s, [b, groups, cg]), 2, true), n);
  return tf.reshape(tf.mul(g, tf.ones([1, 1, cg])), [b, 1, c]);
}

const groupNormCache = new Map<string, (x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor3D>();

/**
 * silu(groupNorm(x)) on NHWC x (a ResBlock's norm-then-activation). Where the backend has
 * `DifflabGroupNormSilu` / `DifflabGroupNormSiluGrad` (@difflab/core's DIFFLAB_KERNELS;
 * @difflab/runtime registers them for wasm in Node with its native addon): one kernel each way, the
 * normalised values never written out; otherwise `silu(groupNorm(x))`, the same math.
 */
export function groupNormSilu(x: tf.Tensor4D, p: NormParams, groups: number, eps = 1e-5): tf.Tensor4D {
  const backend = tf.getBackend();
  if (!tf.getKernel(DIFFLAB_KERNELS.groupNormSilu, backend) || !tf.getKernel(DIFFLAB_KERNELS.groupNormSiluGrad, backend)) return silu(groupNorm(x, p, groups, eps)) as tf.Tensor4D;
  const [b, h, w, c] = x.shape;
  if (c % groups !== 0) throw new RangeError(`group norm: ${c} channels are not divisible into ${groups} groups`);
  const y = groupNormSiluOp(groups, eps)(tf.reshape(x, [b, h * w, c]), p.weight, p.bias);
  return tf.reshape(y, [b, h, w, c]);
}

const groupNormSiluCache = new Map<string, (x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor3D>();

function groupNormSiluOp(groups: number, eps: number): (x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor3D {
  const key = `${groups}/${eps}`;
  let op = groupNormSiluCache.get(key);
  if (!op) {
    op = tf.customGrad((x, gamma, beta, save) => {
      const [y, stats] = tf.engine().runKernel(DIFFLAB_KERNELS.groupNormSilu, { x: x as tf.Tensor, gamma: gamma as tf.Tensor, beta: beta as tf.Tensor }, { groups, eps }) as unknown as tf.Tensor[];
      (save as tf.GradSaveFunc)([x as tf.Tensor, stats, gamma as tf.Tensor, beta as tf.Tensor]);
      return {
        value: y as tf.Tensor3D,
        gradFunc: (dy: tf.Tensor, [sx, sstats, sgamma, sbeta]: tf.Tensor[]) =>
          tf.engine().runKernel(DIFFLAB_KERNELS.groupNormSiluGrad, { dy, x: sx, stats: sstats, gamma: sgamma, beta: sbeta }, { groups }) as unknown as tf.Tensor[],
      };
    }) as (x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor3D;
    groupNormSiluCache.set(key, op);
  }
  return op;
}

/**
 * GroupNorm on x [B, M, C] (M = H W) as one tape node. Statistics are per-sample channel sums,
 * pooled per group (biased variance E[x^2] - E[x]^2, as torch's biased estimate);
 * no transposes. Backward, with xhat = (x - mu) rstd, g = dy gamma, n = M C/groups:
 * dx = rstd (g - mean_group(g) - xhat mean_group(g xhat)), dgamma = sum dy xhat, dbeta = sum dy.
 * Where the backend registers `DifflabGroupNorm` / `DifflabGroupNormGrad` (@difflab/runtime does
 * for WebGPU) those kernels do both passes (two-pass mean and variance there).
 */
function groupNormOp(groups: number, eps: number): (x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor3D {
  const key = `${groups}/${eps}`;
  let op = groupNormCache.get(key);
  if (!op) {
    op = tf.customGrad((xi, gammaI, betaI, save) => {
      const x = xi as tf.Tensor3D;
      const gamma = gammaI as tf.Tensor1D;
      const beta = betaI as tf.Tensor1D;
      if (tf.getKernel(DIFFLAB_KERNELS.groupNorm, tf.getBackend())) {
        // WebGPU (@difflab/runtime): the forward in 1 program, the gradient in 2-3.
        const [y, stats] = tf.engine().runKernel(DIFFLAB_KERNELS.groupNorm, { x, gamma, beta }, { groups, eps }) as unknown as tf.Tensor[];
        (save as tf.GradSaveFunc)([x, stats, gamma]);
        return {
          value: y as tf.Tensor3D,
          gradFunc: (dy: tf.Tensor, [sx, sstats, sgamma]: tf.Tensor[]) =>
            tf.engine().runKernel(DIFFLAB_KERNELS.groupNormGrad, { dy, x: sx, stats: sstats, gamma: sgamma }, { groups }) as unknown as tf.Tensor[],
        };
      }
      const [, m, c] = x.shape;
      const n = (m * c) / groups;
      const mean = groupMeanPerChannel(channelSums(x), groups, n);
      const meanSq = groupMeanPerChannel(channelSums(tf.square(x)), groups, n);
      const rstd = tf.rsqrt(tf.add(tf.relu(tf.sub(meanSq, tf.square(mean))), eps));
      const scale = tf.mul(rstd, gamma);
      const y = tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(mean, scale))) as tf.Tensor3D;
      (save as tf.GradSaveFunc)([x, mean, rstd, gamma]);
      return {
        value: y,
        gradFunc: (dyT: tf.Tensor, [sx, smean, srstd, sgamma]: tf.Tensor[]) => {
          const dy = dyT as tf.Tensor3D;
          const xhat = tf.mul(tf.sub(sx as tf.Tensor, smean as tf.Tensor), srstd as tf.Tensor) as tf.Tensor3D;
          const sumDy = channelSums(dy);
          const sumDyXhat = channelSums(tf.mul(dy, xhat) as tf.Tensor3D);
          const m1 = groupMeanPerChannel(tf.mul(sumDy, sgamma as tf.Tensor) as tf.Tensor3D, groups, n);
          const m2 = groupMeanPerChannel(tf.mul(sumDyXhat, sgamma as tf.Tensor) as tf.Tensor3D, groups, n);
          const g = tf.mul(dy, sgamma as tf.Tensor);
          const dx = tf.mul(tf.sub(tf.sub(g, m1), tf.mul(xhat, m2)), srstd as tf.Tensor);
          return [dx, columnSums(sumDyXhat), columnSums(sumDy)];
        },
      };
    }) as (x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor3D;
    groupNormCache.set(key, op);
  }
  return op;
}

/**
 * torch nn.GroupNorm(groups, C, eps) on NHWC x [B, H, W, C]: statistics over (H, W, C/groups) per
 * sample and group, then a per-channel affine (weight, bias).
 */
export function groupNorm(x: tf.Tensor4D, p: NormParams, groups: number, eps = 1e-5): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (c % groups !== 0) throw new RangeError(`group norm: ${c} channels are not divisible into ${groups} groups`);
  const y = groupNormOp(groups, eps)(tf.reshape(x, [b, h * w, c]), p.weight, p.bias);
  return tf.reshape(y, [b, h, w, c]);
}

/**
 * concat([a, b], channels) for NHWC tensors, with a gradient that splits dy into its first ca and
 * last cb channels by two channel slices: one strided copy each on the wasm backend (difflab's
 * native Slice in Node, else its JavaScript slice kernel, which copies only the box). The 0/1
 * selection-matrix matmuls this used before cost ~3-4x as much with the native addon and ~6-14x
 * on WebAssembly (the UNet's [64, 32, 32, 64 + 32] and [64, 16, 16, 64 + 64] on a 2-core Xeon).
 */
export const concatChannels = tf.customGrad((a, b, save) => {
  const ca = (a as tf.Tensor).shape[3] as number;
  const cb = (b as tf.Tensor).shape[3] as number;
  (save as tf.GradSaveFunc)([]);
  return {
    value: tf.concat([a as tf.Tensor4D, b as tf.Tensor4D], 3),
    gradFunc: (dy: tf.Tensor) => [tf.slice(dy, [0, 0, 0, 0], [-1, -1, -1, ca]), tf.slice(dy, [0, 0, 0, ca], [-1, -1, -1, cb])],
  };
}) as (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D;

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/**
 * conv2d(x, f, stride 1, dilation) with zero padding top/bottom/left/right given explicitly (the
 * conv pads virtually; an explicit tf.pad would copy); negative amounts crop x first.
 */
function convPadded(x: tf.Tensor4D, f: tf.Tensor4D, top: number, bottom: number, left: number, right: number, dilation = 1): tf.Tensor4D {
  let y = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [b, h, w, c] = y.shape;
    const t0 = Math.max(0, -top);
    const l0 = Math.max(0, -left);
    y = tf.slice(y, [0, t0, l0, 0], [b, h - t0 - Math.max(0, -bottom), w - l0 - Math.max(0, -right), c]);
  }
  const pads: Pads = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return tf.conv2d(y, f, 1, pads, 'NHWC', dilation);
}

/** Zero-insertion: dy [B, Ho, Wo, C] -> [B, Ho*s, Wo*s, C] with dy at multiples of s (concat with zeros; 3-D only). */
function dilateSpatial(dy: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return dy;
  const [b, ho, wo, c] = dy.shape;
  const w1 = tf.concat([tf.reshape(dy, [b * ho * wo, 1, c]), tf.zeros([b * ho * wo, s - 1, c])], 1);
  const h1 = tf.concat([tf.reshape(w1, [b * ho, 1, wo * s * c]), tf.zeros([b * ho, s - 1, wo * s * c])], 1);
  return tf.reshape(h1, [b, ho * s, wo * s, c]);
}

/**
 * Gradients of y = conv2d(x, W, stride s, symmetric padding p) (NHWC, W [k, k, Cin, Cout]) as
 * forward convolutions:
 * - dx = conv2d(dilate_s(dy), rot180(W) with in/out swapped), padded k-1-p on top/left so that
 *   dx[i] = sum_k dy_dilated[i + p - k] W[k];
 * - dW = conv2d(x^T, dy^T, dilation s): x [B, H, W, Cin] as a batch of Cin images with B channels,
 *   dy [B, Ho, Wo, Cout] as a [Ho, Wo, B, Cout] filter, so out[ci, kh, kw, co] =
 *   sum_{b, oh, ow} x_pad[b, kh + s oh, kw + s ow, ci] dy[b, oh, ow, co] = dW[kh, kw, ci, co];
 *   or, where the backend registers `DifflabConv2DFilterGrad` (@difflab/runtime does for WebGPU,
 *   where the convolution above has too few workgroups for its long reduction, and for wasm in
 *   Node with its OpenBLAS addon: im2col(x)^T dy), that kernel.
 */
export function conv2dGrads(x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D, stride: number, padding: number): { dx: tf.Tensor4D; dw: tf.Tensor4D } {
  const [, h, wd] = x.shape;
  const k = w.shape[0];
  const [, ho, wo] = dy.shape;
  const s = stride;
  const p = padding;
  const dx = conv2dInputGrad(x.shape, w, dy, s, p);
  // A backend with difflab's filter-gradient kernel (WebGPU: a split-K GEMM; wasm + OpenBLAS) computes dW directly.
  if (tf.getKernel(DIFFLAB_KERNELS.conv2dFilterGrad, tf.getBackend())) {
    const attrs = { filterHeight: k, filterWidth: k, strideHeight: s, strideWidth: s, padTop: p, padLeft: p };
    return { dx, dw: tf.engine().runKernel(DIFFLAB_KERNELS.conv2dFilterGrad, { x, dy }, attrs) as tf.Tensor4D };
  }
  // dW: the padded x needs length (ho - 1) s + k so that the output is k x k.
  const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
  const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
  const dwT = convPadded(xt, f, p, (ho - 1) * s + k - h - p, p, (wo - 1) * s + k - wd - p, s); // [Cin, k, k, Cout]
  return { dx, dw: tf.transpose(dwT, [1, 2, 0, 3]) };
}

/**
 * dx of y = conv2d(x, W, stride s, symmetric padding p) for x of shape `xShape`. Where the backend
 * registers `DifflabConv2DInputGrad` (@difflab/runtime does for wasm in Node with its OpenBLAS
 * addon: col2im of dy W^T), that kernel; on WebGPU tfjs' Conv2DBackpropInput
 * (`tf.conv2dTranspose`), one program; elsewhere a forward convolution of the zero-dilated dy with
 * the flipped filter, padded to h + k - 1 (tfjs-backend-wasm's forward convolution is its fast
 * one). `viaBackpropInput` true / false forces the second / third form.
 */
export function conv2dInputGrad(xShape: [number, number, number, number], w: tf.Tensor4D, dy: tf.Tensor4D, stride: number, padding: number, viaBackpropInput?: boolean): tf.Tensor4D {
  if (viaBackpropInput === undefined && tf.getKernel(DIFFLAB_KERNELS.conv2dInputGrad, tf.getBackend())) {
    const attrs = { inputShape: xShape, strideHeight: stride, strideWidth: stride, padTop: padding, padLeft: padding };
    return tf.engine().runKernel(DIFFLAB_KERNELS.conv2dInputGrad, { dy, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  if (viaBackpropInput ?? gpuLike()) return tf.conv2dTranspose(dy, w, xShape, stride, padding);
  const [, h, wd] = xShape;
  const k = w.shape[0];
  const [, ho, wo] = dy.shape;
  const s = stride;
  const p = padding;
  // correlation of the dilated dy (length ho*s) with the flipped filter, padded to h + k - 1
  const wFlip = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
  return convPadded(dilateSpatial(dy, s), wFlip, k - 1 - p, h + p - ho * s, k - 1 - p, wd + p - wo * s);
}

/** [dx, dW, db] of a biased convolution from its saved x and filter. */
function convGrads(x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, stride: number, padding: number): tf.Tensor[] {
  const { dx, dw } = conv2dGrads(x as tf.Tensor4D, w as tf.Tensor4D, dy as tf.Tensor4D, stride, padding);
  return [dx, dw, columnSums(dy)];
}

const convCache = new Map<string, (x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor4D>();

function convOp(stride: number, padding: number): (x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor4D {
  const key = `${stride}/${padding}`;
  let op = convCache.get(key);
  if (!op) {
    op = tf.customGrad((x, w, b, save) => {
      (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
      return {
        value: tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: stride, pad: padding === 0 ? 'valid' : padding, bias: b as tf.Tensor }),
        gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => convGrads(sx, sw, dy, stride, padding),
      };
    }) as (x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor4D;
    convCache.set(key, op);
  }
  return op;
}

/** torch nn.Conv2d(in, out, k, stride, padding) on NHWC x, with bias. */
export function conv2d(x: tf.Tensor4D, p: Conv2dParams): tf.Tensor4D {
  return convOp(p.stride, p.padding)(x, p.weight, p.bias);
}

const convAddCache = new Map<string, (x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor, addend: tf.Tensor4D) => tf.Tensor4D>();

/**
 * conv2d(x, p) + addend, the addend [B, 1, 1, Cout] (per image, e.g. a time embedding) or the
 * output's shape (a residual). Where the backend registers `DifflabConv2DAdd` (@difflab/runtime
 * does for wasm with its native addon), one kernel that starts the output at bias + addend and
 * convolves onto it, instead of a convolution and an Add over the whole output; otherwise exactly
 * `tf.add(conv2d(x, p), addend)`.
 */
export function conv2dAdd(x: tf.Tensor4D, p: Conv2dParams, addend: tf.Tensor4D): tf.Tensor4D {
  if (!tf.getKernel(DIFFLAB_KERNELS.conv2dAdd, tf.getBackend())) return tf.add(conv2d(x, p), addend);
  const key = `${p.stride}/${p.padding}`;
  let op = convAddCache.get(key);
  if (!op) {
    const { stride: s, padding: pad } = p;
    op = tf.customGrad((x, w, b, addend, save) => {
      const [, h, wd] = (x as tf.Tensor4D).shape;
      const k = (w as tf.Tensor4D).shape[0];
      const outHeight = Math.floor((h + 2 * pad - k) / s) + 1;
      const outWidth = Math.floor((wd + 2 * pad - k) / s) + 1;
      (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
      const attrs = { strideHeight: s, strideWidth: s, padTop: pad, padLeft: pad, outHeight, outWidth };
      const perImage = (addend as tf.Tensor4D).shape[1] === 1 && (addend as tf.Tensor4D).shape[2] === 1 && outHeight * outWidth > 1;
      return {
        value: tf.engine().runKernel(DIFFLAB_KERNELS.conv2dAdd, { x: x as tf.Tensor, filter: w as tf.Tensor, bias: b as tf.Tensor, addend: addend as tf.Tensor }, attrs) as tf.Tensor4D,
        gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [...convGrads(sx, sw, dy, s, pad), perImage ? tf.sum(dy, [1, 2], true) : dy],
      };
    }) as (x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor, addend: tf.Tensor4D) => tf.Tensor4D;
    convAddCache.set(key, op);
  }
  return op(x, p.weight, p.bias, addend);
}

/**
 * Scaled dot-product attention on q [BH, N, d], k^T [BH, d, N], v [BH, N, d] (already split into
 * heads): softmax(q k^T / sqrt(d)) v as batched plain matmuls. Returns the output [BH, N, d] and
 * the attention weights [BH, N, N].
 */
export function attention(q: tf.Tensor3D, kT: tf.Tensor3D, v: tf.Tensor3D): { out: tf.Tensor3D; weights: tf.Tensor3D } {
  const d = q.shape[2];
  const scores = matmul(tf.mul(q, 1 / Math.sqrt(d)), kT);
  const weights = tf.softmax(scores) as tf.Tensor3D;
  return { out: matmul(weights, v) as tf.Tensor3D, weights };
}

/**
 * The q, k, v projections of a fused Linear(w, 3w) `qkv` (output columns ordered (3, heads, d),
 * as torch's `qkv(x).reshape(B, N, 3, heads, d)`) on x [B * N, w], split into heads:
 * q, v [B * heads, N, d] and k^T [B * heads, d, N]. The weight (not the activations) is split, so
 * no large slice is needed (slices copy their whole input on the wasm backend), and each head
 * split is one 4-D transpose.
 */
export function qkvHeads(x: tf.Tensor2D, p: LinearParams, batch: number, tokens: number, heads: number): { q: tf.Tensor3D; kT: tf.Tensor3D; v: tf.Tensor3D } {
  const width = p.weight.shape[0] as number;
  const d = width / heads;
  const ws = tf.split(p.weight, 3, 1);
  const bs = tf.split(p.bias, 3, 0);
  const proj = (i: number) => linearOp(x, ws[i] as tf.Tensor, bs[i] as tf.Tensor) as tf.Tensor2D;
  if (heads === 1) {
    return {
      q: tf.reshape(proj(0), [batch, tokens, d]),
      kT: tf.transpose(tf.reshape(proj(1), [batch, tokens, d]), [0, 2, 1]),
      v: tf.reshape(proj(2), [batch, tokens, d]),
    };
  }
  const split = (y: tf.Tensor2D, perm: number[], shape: [number, number, number]) => tf.reshape(tf.transpose(tf.reshape(y, [batch, tokens, heads, d]), perm), shape) as tf.Tensor3D;
  return {
    q: split(proj(0), [0, 2, 1, 3], [batch * heads, tokens, d]),
    kT: split(proj(1), [0, 2, 3, 1], [batch * heads, d, tokens]),
    v: split(proj(2), [0, 2, 1, 3], [batch * heads, tokens, d]),
  };
}

/**
 * Multi-head self-attention before its output projection: x [B N, w] -> the fused qkv projection
 * `p` (Linear(w, 3w), columns (3, heads, d)) -> per sample and head softmax(q k^T / sqrt(d)) v ->
 * heads side by side [B N, w]. With `weights`, also the attention weights [B heads, N, N] (for
 * inspection; not differentiated). Where the backend has `DifflabAttention` /
 * `DifflabAttentionGrad` (@difflab/core's DIFFLAB_KERNELS; @difflab/runtime registers them for wasm
 * in Node with its native addon): one projection matmul and one kernel each way, heads read in
 * place; otherwise `qkvHeads`, `attention` and `mergeHeads` (the same math).
 */
export function selfAttention(x: tf.Tensor2D, p: LinearParams, batch: number, tokens: number, heads: number, weights = false): { out: tf.Tensor2D; weights?: tf.Tensor3D } {
  const backend = tf.getBackend();
  if (tf.getKernel(DIFFLAB_KERNELS.attention, backend) && tf.getKernel(DIFFLAB_KERNELS.attentionGrad, backend)) {
    const qkv = linear(x, p) as tf.Tensor2D;
    if (weights) {
      const [out, w] = tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv }, { batch, heads }) as unknown as [tf.Tensor2D, tf.Tensor3D];
      return { out, weights: w };
    }
    return { out: fusedAttention(batch, heads)(qkv) as tf.Tensor2D };
  }
  const { q, kT, v } = qkvHeads(x, p, batch, tokens, heads);
  const att = attention(q, kT, v);
  return { out: mergeHeads(att.out, batch, heads), ...(weights ? { weights: att.weights } : {}) };
}

const fusedAttentionCache = new Map<string, (qkv: tf.Tensor) => tf.Tensor>();

/** `DifflabAttention` as one tape node with `DifflabAttentionGrad` as its gradient. */
function fusedAttention(batch: number, heads: number): (qkv: tf.Tensor) => tf.Tensor {
  const key = `${batch},${heads}`;
  let op = fusedAttentionCache.get(key);
  if (!op) {
    const attrs = { batch, heads };
    op = tf.customGrad((qkv, save) => {
      const [out, w] = tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv: qkv as tf.Tensor }, attrs) as unknown as tf.Tensor[];
      (save as tf.GradSaveFunc)([qkv as tf.Tensor, w]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, [sq, sw]: tf.Tensor[]) => [tf.engine().runKernel(DIFFLAB_KERNELS.attentionGrad, { dy, qkv: sq, weights: sw }, attrs) as tf.Tensor],
      };
    }) as (qkv: tf.Tensor) => tf.Tensor;
    fusedAttentionCache.set(key, op);
  }
  return op;
}

/** Inverse of the head split: [B * heads, N, d] -> [B * N, heads * d]. */
export function mergeHeads(o: tf.Tensor3D, batch: number, heads: number): tf.Tensor2D {
  const [, n, d] = o.shape;
  if (heads === 1) return tf.reshape(o, [batch * n, d]);
  return tf.reshape(tf.transpose(tf.reshape(o, [batch, heads, n, d]), [0, 2, 1, 3]), [batch * n, heads * d]);
}

/**
 * diffusers' `get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0)`:
 * freqs_i = exp(-ln(10000) i / (dim/2)), i < dim/2; emb = [cos(t freqs), sin(t freqs)].
 */
export function sinusoidalTimestepEmbedding(t: tf.Tensor, dim: number): tf.Tensor2D {
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
  return tf.tidy(() => {
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    return tf.concat([tf.cos(args), tf.sin(args)], 1) as tf.Tensor2D;
  });
}
