/**
 * difflab's fused Adam / AdamW kernel for tfjs-backend-wasm (`DIFFLAB_KERNELS.adam`): one pass
 * over the flat parameter, gradient and moment vectors in the SIMD module instead of ~12
 * element-wise kernels, with the same float32 operations (so the same results).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { type AdamConstants, simdAdam } from './simd-math.js';
import type { WasmBackend } from './speed-heap.js';

export interface AdamInputs {
  p: TensorInfo;
  g: TensorInfo;
  m: TensorInfo;
  v: TensorInfo;
}

/** The inputs, constants and length of a `DifflabAdam` call, checked (one-line errors naming the input). */
export function adamArgs(inputs: unknown, attrs: unknown): { x: AdamInputs; c: AdamConstants; n: number } {
  const x = inputs as AdamInputs;
  const c = attrs as AdamConstants;
  const n = x.p.shape.reduce((a, b) => a * b, 1);
  for (const [name, t] of Object.entries(x)) {
    if (t.dtype !== 'float32') throw new Error(`${DIFFLAB_KERNELS.adam}: ${name} must be float32, got ${t.dtype}`);
    if (t.shape.length !== 1 || t.shape[0] !== n) throw new Error(`${DIFFLAB_KERNELS.adam}: ${name} must be a flat vector of ${n} values, got shape [${t.shape}]`);
  }
  if (![0, 1, 2].includes(c.mode)) throw new Error(`${DIFFLAB_KERNELS.adam}: mode must be 0, 1 or 2, got ${c.mode}`);
  return { x, c, n };
}

const adamFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const {
    x: { p, g, m, v },
    c,
    n,
  } = adamArgs(inputs, attrs);
  const b = backend as WasmBackend;
  const outs = [b.makeOutput([n], 'float32'), b.makeOutput([n], 'float32'), b.makeOutput([n], 'float32')];
  const f = (t: TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;
  simdAdam(f(p), f(g), f(m), f(v), c, f(outs[0]), f(outs[1]), f(outs[2]));
  return outs;
};

/** The fused Adam kernel for the 'wasm' backend. */
export function fusedAdamKernel(): KernelConfig {
  return { kernelName: DIFFLAB_KERNELS.adam, backendName: 'wasm', kernelFunc: adamFunc };
}
