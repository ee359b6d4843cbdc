/**
 * difflab's fused kernels (`DIFFLAB_KERNELS` of @difflab/core) for tfjs-backend-webgpu, as WGSL
 * programs run through the backend's `runWebGPUProgram`.
 *
 * On WebGPU each op is one dispatch, and a dispatch costs ~50 µs of host time on an H100 through
 * Dawn (tools/bench/RESULTS.md), far more than its arithmetic at these sizes. So the composites
 * that @difflab/models and @difflab/training run op by op become one or a few programs each:
 *
 * - `DifflabGelu` {x} -> [y, cdf]: 1 program writing both (was 5 ops; `webgpu-multi.ts`).
 * - `DifflabGeluGrad` {dy, x, cdf} -> dx: 1 program (was 8).
 * - `DifflabSilu` {x} -> y and `DifflabSiluGrad` {dy, x} -> dx: 1 program each (was 2 and 5).
 * - `DifflabAdam` {p, g, m, v} -> [p', m', v']: 1 program writing the three (was ~14).
 * - `DifflabLayerNorm` {x} attrs {eps} -> [xhat, rstd] over the last axis: 2 programs, one
 *   invocation per row (was 7); `DifflabLayerNormGrad` {dy, xhat, rstd} -> dx: 1 program (was 7).
 * - `DifflabConv2DFilterGrad` {x, dy} -> dW: a split-K implicit GEMM and the sum of its partials
 *   (`webgpu-conv-filter-grad.ts`), in place of a forward convolution with a B Ho Wo-long loop.
 * - `DifflabGroupNorm` {x, gamma, beta} -> [y, stats] and `DifflabGroupNormGrad` -> [dx, dgamma,
 *   dbeta]: 2 and 5 programs (was ~24 and ~25; `webgpu-group-norm.ts`).
 * - `DifflabAttention` {qkv} -> [out, weights] and `DifflabAttentionGrad` {dy, qkv, weights} -> dqkv:
 *   2 programs each (was ~17 and ~25 a block; `webgpu-attention.ts`).
 * - `SplitV` and `Concat` of contiguous pieces (a flat vector, rows): buffer copies, no program
 *   (`webgpu-copies.ts`; the optimizer's concat of the gradients and split into the variables).
 * - `Sum` over a float32 tensor's leading axes ([rows, C] -> [C], rows <= 8192: the bias and
 *   layer-norm parameter gradients): 1 program (16 columns a workgroup, 16 invocations a column
 *   and a tree sum), where tfjs-webgpu transposes and then reduces (2). Other sums go to
 *   tfjs-webgpu's kernel.
 *
 * Same formulas, in float32, as the composites (DIFFLAB_KERNELS documents them). WGSL has no
 * erf: it is the rational approximation x P(x^2) / Q(x^2) on [-4, 4] of XLA's float32 ErfImpl
 * (coefficients published in XLA's math.cc; max error ~1e-7), checked against erf64 in tests.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { attentionKernels } from './webgpu-attention.js';
import { conv2dFilterGradKernel } from './webgpu-conv-filter-grad.js';
import { copyKernels, hasCopyInternals } from './webgpu-copies.js';
import { groupNormKernels } from './webgpu-group-norm.js';
import { hasMultiOutputInternals, MultiOutputProgram, workgroupsFor } from './webgpu-multi.js';
import { COLUMN_SUM_MAX_ROWS, columnSumProgram, RowProgram, type WebGpuBackendLike } from './webgpu-program.js';


/** `webgpu_util` of tfjs-backend-webgpu: dispatch sizes for a flat layout. */
export interface WebGpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, shape: number[], workgroupSize: [number, number, number]): [number, number, number];
}

const WORKGROUP: [number, number, number] = [64, 1, 1];

/** A flat program: one invocation per output element (per row: `RowProgram` of webgpu-program.ts). */
class FlatProgram {
  readonly size = true;
  readonly workgroupSize = WORKGROUP;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly uniforms?: string;
  constructor(
    util: WebGpuUtil,
    readonly outputShape: number[],
    /** Invocations: the output size. */
    invocations: number,
    readonly variableNames: string[],
    readonly shaderKey: string,
    private readonly body: string,
    uniforms = '',
  ) {
    this.dispatchLayout = util.flatDispatchLayout([invocations]);
    this.dispatch = util.computeDispatch(this.dispatchLayout, [invocations], WORKGROUP);
    if (uniforms.trim()) this.uniforms = uniforms;
  }
  getUserCode(): string {
    return `${ERF_WGSL}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${this.body}
        }
      }`;
  }
}

/**
 * erf for f32 (Cody-style rational approximations as in XLA's ErfImpl32: erf(x) = x P(x^2) / Q(x^2)
 * on |x| < 4, clamped outside; max error ~1e-7).
 */
const ERF_WGSL = `
  fn difflabErf(x0 : f32) -> f32 {
    let x = clamp(x0, -4.0, 4.0);
    let x2 = x * x;
    var p = -2.72614225801306e-10;
    p = p * x2 + 2.77068142495902e-08;
    p = p * x2 + -2.10102402082508e-06;
    p = p * x2 + -5.69250639462346e-05;
    p = p * x2 + -7.34990630326855e-04;
    p = p * x2 + -2.95459980854025e-03;
    p = p * x2 + -1.60960333262415e-02;
    var q = -1.45660718464996e-05;
    q = q * x2 + -2.13374055278905e-04;
    q = q * x2 + -1.68282697438203e-03;
    q = q * x2 + -7.37332916720468e-03;
    q = q * x2 + -1.42647390514189e-02;
    return x * p / q;
  }`;

const INV_SQRT2 = 'f32(0.70710678118654752)';
const INV_SQRT_2PI = 'f32(0.39894228040143268)';

function kernel(name: string, kernelFunc: KernelFunc): KernelConfig {
  return { kernelName: name, backendName: 'webgpu', kernelFunc };
}

function flat(util: WebGpuUtil, shape: number[], names: string[], key: string, body: string, uniforms?: string): FlatProgram {
  const n = shape.reduce((a, b) => a * b, 1);
  return new FlatProgram(util, shape, n, names, key, body, uniforms);
}

/** `DifflabGelu` forward: y and cdf in one program. */
const GELU = new MultiOutputProgram(
  'difflab_gelu',
  ['Y', 'CDF'],
  ['X'],
  'size : i32,',
  64,
  `if (index < uniforms.size) {
    let v = X[index];
    let c = 0.5 + 0.5 * difflabErf(v * ${INV_SQRT2});
    Y[index] = v * c;
    CDF[index] = c;
  }`,
  ERF_WGSL,
);

function geluKernels(util: WebGpuUtil): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    const n = x.shape.reduce((a, b) => a * b, 1);
    return GELU.run(backend, [x.shape, x.shape], [x], [{ type: 'int32', data: [n] }], workgroupsFor(n, 64));
  };
  const backward: KernelFunc = ({ inputs, backend }) => {
    const { dy, x, cdf } = inputs as { dy: TensorInfo; x: TensorInfo; cdf: TensorInfo };
    const body = `let z = X[index]; setOutputAtIndex(index, DY[index] * (CDF[index] + z * ${INV_SQRT_2PI} * exp(-0.5 * z * z)));`;
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(flat(util, x.shape, ['DY', 'X', 'CDF'], 'difflab_gelu_grad', body), [dy, x, cdf], 'float32');
  };
  return [kernel(DIFFLAB_KERNELS.gelu, forward), kernel(DIFFLAB_KERNELS.geluGrad, backward)];
}

function siluKernels(util: WebGpuUtil): KernelConfig[] {
  const sig = (v: string) => `(1.0 / (1.0 + exp(-${v})))`;
  const forward: KernelFunc = ({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    const body = `let v = X[index]; setOutputAtIndex(index, v * ${sig('v')});`;
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(flat(util, x.shape, ['X'], 'difflab_silu', body), [x], 'float32');
  };
  const backward: KernelFunc = ({ inputs, backend }) => {
    const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
    const body = `let v = X[index]; let s = ${sig('v')}; setOutputAtIndex(index, DY[index] * (s * (v * (1.0 - s) + 1.0)));`;
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(flat(util, x.shape, ['DY', 'X'], 'difflab_silu_grad', body), [dy, x], 'float32');
  };
  return [kernel(DIFFLAB_KERNELS.silu, forward), kernel(DIFFLAB_KERNELS.siluGrad, backward)];
}

/**
 * `DifflabAdam`: p', m' and v' in one program, the same float32 operations, in the same order, as
 * @difflab/training's op-by-op Adam.
 */
const ADAM = new MultiOutputProgram(
  'difflab_adam',
  ['PO', 'MO', 'VO'],
  ['P', 'G', 'M', 'V'],
  'size : i32, beta1 : f32, beta2 : f32, eps : f32, stepSize : f32, invSqrtBc2 : f32, mode : i32, decay : f32,',
  64,
  `if (index < uniforms.size) {
    var pv = P[index];
    var gv = G[index];
    if (uniforms.mode == 2) { pv = pv * uniforms.decay; }
    if (uniforms.mode == 1) { gv = gv + pv * uniforms.decay; }
    let mv = M[index] * uniforms.beta1 + gv * (1.0 - uniforms.beta1);
    let vv = V[index] * uniforms.beta2 + (gv * gv) * (1.0 - uniforms.beta2);
    let denom = sqrt(vv) * uniforms.invSqrtBc2 + uniforms.eps;
    PO[index] = pv - (mv / denom) * uniforms.stepSize;
    MO[index] = mv;
    VO[index] = vv;
  }`,
);

function adamKernel(): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const { p, g, m, v } = inputs as { p: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
    const a = attrs as unknown as { beta1: number; beta2: number; eps: number; stepSize: number; invSqrtBc2: number; mode: number; decay: number };
    const n = p.shape.reduce((x, y) => x * y, 1);
    const f = (x: number) => ({ type: 'float32' as const, data: [x] });
    const data = [{ type: 'int32' as const, data: [n] }, f(a.beta1), f(a.beta2), f(a.eps), f(a.stepSize), f(a.invSqrtBc2), { type: 'int32' as const, data: [a.mode] }, f(a.decay)];
    return ADAM.run(backend, [p.shape, p.shape, p.shape], [p, g, m, v], data, workgroupsFor(n, 64));
  };
  return kernel(DIFFLAB_KERNELS.adam, kernelFunc);
}

function layerNormKernels(util: WebGpuUtil): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const { eps } = attrs as unknown as { eps: number };
    const b = backend as unknown as WebGpuBackendLike;
    const c = x.shape[x.shape.length - 1] as number;
    const rows = x.shape.reduce((s, d) => s * d, 1) / c;
    // Two passes over the row (mean, then the centred variance), as the composite computes them.
    const stats = `
      let base = index * uniforms.cols;
      var s = 0.0;
      for (var j = 0; j < uniforms.cols; j++) { s = s + X[base + j]; }
      let mean = s / f32(uniforms.cols);
      var q = 0.0;
      for (var j = 0; j < uniforms.cols; j++) { let d = X[base + j] - mean; q = q + d * d; }
      let rstd = inverseSqrt(q / f32(uniforms.cols) + uniforms.eps);`;
    const u = 'cols : i32, eps : f32,';
    const data = [
      { type: 'int32' as const, data: [c] },
      { type: 'float32' as const, data: [eps] },
    ];
    const xhatProg = new RowProgram(['X'], 'difflab_layernorm_xhat', u, x.shape, rows, `${stats}\nfor (var j = 0; j < uniforms.cols; j++) { setOutputAtIndex(base + j, (X[base + j] - mean) * rstd); }`);
    const xhat = b.runWebGPUProgram(xhatProg, [x], 'float32', [...data, { type: 'int32', data: [rows] }]);
    const rstdShape = [...x.shape.slice(0, -1), 1];
    const rstdProg = new FlatProgram(util, rstdShape, rows, ['X'], 'difflab_layernorm_rstd', `${stats}\nsetOutputAtIndex(index, rstd);`, u);
    const rstd = b.runWebGPUProgram(rstdProg, [x], 'float32', data);
    return [xhat, rstd];
  };
  const backward: KernelFunc = ({ inputs, backend }) => {
    const { dy, xhat, rstd } = inputs as { dy: TensorInfo; xhat: TensorInfo; rstd: TensorInfo };
    const c = dy.shape[dy.shape.length - 1] as number;
    const rows = dy.shape.reduce((s, d) => s * d, 1) / c;
    // dx = rstd (dy - mean(dy) - xhat mean(dy xhat)) over the row
    const body = `
      let base = index * uniforms.cols;
      var a = 0.0;
      var bq = 0.0;
      for (var j = 0; j < uniforms.cols; j++) { let d = DY[base + j]; a = a + d; bq = bq + d * XHAT[base + j]; }
      let mdy = a / f32(uniforms.cols);
      let mdyx = bq / f32(uniforms.cols);
      let r = RSTD[index];
      for (var j = 0; j < uniforms.cols; j++) { setOutputAtIndex(base + j, ((DY[base + j] - mdy) - XHAT[base + j] * mdyx) * r); }`;
    const prog = new RowProgram(['DY', 'XHAT', 'RSTD'], 'difflab_layernorm_grad', 'cols : i32,', dy.shape, rows, body);
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(prog, [dy, xhat, rstd], 'float32', [
      { type: 'int32', data: [c] },
      { type: 'int32', data: [rows] },
    ]);
  };
  return [kernel(DIFFLAB_KERNELS.layerNorm, forward), kernel(DIFFLAB_KERNELS.layerNormGrad, backward)];
}

const LEADING_SUM = columnSumProgram('difflab_leading_sum', [{ name: 'Y', value: 'X[i]' }], ['X']);

/**
 * `Sum` for 'webgpu': over the leading axes of a float32 tensor (rows = their product <= 8192)
 * `columnSumProgram`'s one program; otherwise `fallback` (tfjs-webgpu's).
 */
function leadingSumKernel(fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const k = axes.length;
    const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const leading = axes.every((a, i) => a === i) && k < x.shape.length;
    if (x.dtype !== 'float32' || !leading || rows > COLUMN_SUM_MAX_ROWS || rows < 1) return fallback.kernelFunc(args);
    const rest = x.shape.slice(k);
    const cols = rest.reduce((a, b) => a * b, 1);
    if (cols < 1) return fallback.kernelFunc(args);
    const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...rest] : rest;
    return LEADING_SUM.run(args.backend, [outShape], [x], [
      { type: 'int32', data: [rows] },
      { type: 'int32', data: [cols] },
    ], workgroupsFor(cols, 16))[0];
  };
  return kernel(tf.Sum, kernelFunc);
}

const MARK = Symbol.for('difflab.webgpuKernel');

/**
 * Register difflab's fused kernels for the 'webgpu' backend (idempotent); `util` is
 * tfjs-backend-webgpu's `webgpu_util`. Returns the names registered by this call.
 */
/** The tfjs-webgpu kernels `registerWebGpuKernels` replaced, by name. */
const replaced = new Map<string, KernelConfig>();

/**
 * The tfjs-webgpu kernel that difflab's `name` replaced (today `Sum`, which falls back to it), for
 * an ablation that runs without ours: `tf.unregisterKernel(name, 'webgpu')`, then register it.
 */
export function replacedWebGpuKernel(name: string): KernelConfig | undefined {
  return replaced.get(name);
}

export function registerWebGpuKernels(util: WebGpuUtil): string[] {
  const added: string[] = [];
  // tfjs-webgpu's kernels of these names stay the fallbacks of ours (registered once: a second
  // call finds ours marked)
  const tfjsKernel = (name: string) => {
    const k = tf.getKernel(name, 'webgpu');
    return k && !(k.kernelFunc as unknown as Record<symbol, unknown>)[MARK] ? k : undefined;
  };
  const sum = tfjsKernel(tf.Sum);
  const copies = hasCopyInternals(tf.findBackend('webgpu')) ? copyKernels(tfjsKernel) : [];
  // the kernels that write several outputs in one program (webgpu-multi.ts)
  const multi = hasMultiOutputInternals(tf.findBackend('webgpu')) ? [...geluKernels(util), adamKernel(), ...groupNormKernels(), ...attentionKernels(), ...(sum ? [leadingSumKernel(sum)] : [])] : [];
  for (const k of [...multi, ...siluKernels(util), ...layerNormKernels(util), conv2dFilterGradKernel(), ...copies]) {
    const existing = tf.getKernel(k.kernelName, 'webgpu');
    if (existing && (existing.kernelFunc as unknown as Record<symbol, unknown>)[MARK]) continue;
    if (existing) {
      tf.unregisterKernel(k.kernelName, 'webgpu');
      replaced.set(k.kernelName, existing);
    }
    (k.kernelFunc as unknown as Record<symbol, unknown>)[MARK] = true;
    tf.registerKernel(k);
    added.push(k.kernelName);
  }
  return added;
}
