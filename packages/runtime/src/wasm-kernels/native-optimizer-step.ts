/**
 * `DifflabOptimizerStep` (contract in @difflab/core's DIFFLAB_KERNELS) for tfjs-backend-wasm in
 * Node on difflab-blas (native/adam.c): a training step's gradient clip by global norm, AdamW
 * step and EMA update over the model's K variables in one kernel. Op by op that is ~25 kernels on
 * the spiral MLP (the gradients' concat, square, sum, 4 scalar ops and a multiply for the clip, the
 * Adam kernel, the split back into the variables, 3 ops for the EMA) and two extra copies of every
 * parameter; here the variables and gradients are read in place and each new variable is written
 * once. The Adam and EMA arithmetic is `DifflabAdam`'s and @difflab/training's, float32 operation
 * for operation; the norm is summed in float64 (16 fixed partial sums, so it does not depend on the
 * thread count).
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import type { AdamConstants } from './simd-math.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';

/** The attributes of a `DifflabOptimizerStep` call: `DifflabAdam`'s and these. */
export interface OptimizerStepAttrs extends AdamConstants {
  count: number;
  maxNorm: number;
  ema: 0 | 1 | 2;
  emaWeight: number;
}

const NAME = DIFFLAB_KERNELS.optimizerStep;
const describe = (t: TensorInfo | undefined) => (t ? `${t.dtype} [${t.shape}]` : 'none');

/** Checks the inputs and attributes against the contract (one-line errors naming what is wrong); returns K and N. */
export function optimizerStepArgs(inputs: Record<string, TensorInfo>, a: OptimizerStepAttrs): { K: number; N: number } {
  const K = a.count;
  if (!Number.isInteger(K) || K < 1) throw new Error(`${NAME}: count must be a whole number >= 1, got ${K}`);
  if (![0, 1, 2].includes(a.mode)) throw new Error(`${NAME}: mode must be 0, 1 or 2, got ${a.mode}`);
  if (![0, 1, 2].includes(a.ema)) throw new Error(`${NAME}: ema must be 0, 1 or 2, got ${a.ema}`);
  for (const k of ['beta1', 'beta2', 'eps', 'stepSize', 'invSqrtBc2', 'decay', 'maxNorm', 'emaWeight'] as const) {
    if (typeof a[k] !== 'number' || Number.isNaN(a[k])) throw new Error(`${NAME}: ${k} must be a number, got ${a[k]}`);
  }
  let N = 0;
  for (let k = 0; k < K; k++) {
    const p = inputs[`p${k}`];
    const g = inputs[`g${k}`];
    if (p?.dtype !== 'float32') throw new Error(`${NAME}: p${k} must be a float32 tensor, got ${describe(p)}`);
    if (g?.dtype !== 'float32' || g.shape.join() !== p.shape.join()) throw new Error(`${NAME}: g${k} must be float32 [${p.shape}] like p${k}, got ${describe(g)}`);
    const n = p.shape.reduce((x, y) => x * y, 1);
    if (n === 0) throw new Error(`${NAME}: p${k} is empty ([${p.shape}])`);
    N += n;
  }
  for (const k of a.ema === 0 ? ['m', 'v'] : ['m', 'v', 'shadow']) {
    const t = inputs[k];
    if (t?.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== N) throw new Error(`${NAME}: ${k} must be float32 [${N}] (the ${K} tensors' values), got ${describe(t)}`);
  }
  return { K, N };
}

export function makeNativeOptimizerStep(blas: NativeBlas): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const ins = inputs as Record<string, TensorInfo>;
    const a = attrs as unknown as OptimizerStepAttrs;
    const { K, N } = optimizerStepArgs(ins, a);
    const backend = b as WasmBackend;
    const outs: TensorInfo[] = [];
    for (let k = 0; k < K; k++) outs.push(backend.makeOutput(ins[`p${k}`].shape, 'float32'));
    const m2 = backend.makeOutput([N], 'float32');
    const v2 = backend.makeOutput([N], 'float32');
    const norm = backend.makeOutput([], 'float32');
    const s2 = a.ema === 0 ? null : backend.makeOutput([N], 'float32');
    const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
    const plan = new Float64Array(10 + 4 * K);
    plan.set([K, a.mode, a.ema, off(ins.m), off(ins.v), s2 ? off(ins.shadow) : -1, off(m2), off(v2), s2 ? off(s2) : -1, off(norm)]);
    for (let k = 0; k < K; k++) {
      const p = ins[`p${k}`];
      plan.set([p.shape.reduce((x, y) => x * y, 1), off(p), off(ins[`g${k}`]), off(outs[k])], 10 + 4 * k);
    }
    // 1 - beta in float64 and then rounded, as `DifflabAdam`'s
    const consts = new Float64Array([a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.eps, a.stepSize, a.invSqrtBc2, a.decay, a.maxNorm, a.emaWeight]);
    blas.optimizerStep(heapF32(backend), plan, consts);
    return s2 ? [...outs, m2, v2, norm, s2] : [...outs, m2, v2, norm];
  };
  return { kernelName: NAME, backendName: 'wasm', kernelFunc };
}
