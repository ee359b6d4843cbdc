/**
 * `DifflabAdam` (contract in @difflab/core's DIFFLAB_KERNELS) for tfjs-backend-wasm in Node on
 * difflab-blas (native/adam.c): the same float32 operations as the tfjs ops and the WebAssembly
 * SIMD kernel it replaces (fused-adam.ts), bit for bit, 16 lanes wide.
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { AdamConstants } from './simd-math.js';
import type { WasmBackend } from './speed-heap.js';

export function makeNativeAdam(blas: NativeBlas): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const { p, g, m, v } = inputs as { p: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
    const c = attrs as unknown as AdamConstants;
    const n = p.shape.reduce((x, y) => x * y, 1);
    for (const [name, t] of Object.entries({ p, g, m, v })) {
      if (t.dtype !== 'float32') throw new Error(`${DIFFLAB_KERNELS.adam}: ${name} must be float32, got ${t.dtype}`);
      if (t.shape.length !== 1 || t.shape[0] !== n) throw new Error(`${DIFFLAB_KERNELS.adam}: ${name} must be a flat vector of ${n} values, got shape [${t.shape}]`);
    }
    if (![0, 1, 2].includes(c.mode)) throw new Error(`${DIFFLAB_KERNELS.adam}: mode must be 0, 1 or 2, got ${c.mode}`);
    const backend = b as WasmBackend;
    const outs = [backend.makeOutput([n], 'float32'), backend.makeOutput([n], 'float32'), backend.makeOutput([n], 'float32')];
    if (n === 0) return outs;
    const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
    // 1 - beta in float64 and then rounded, as the SIMD kernel's f32 parameters are
    blas.adam(heapF32(backend), off(p), off(g), off(m), off(v), n, c.mode, off(outs[0]), off(outs[1]), off(outs[2]), c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.eps, c.stepSize, c.invSqrtBc2, c.decay);
    return outs;
  };
  return { kernelName: DIFFLAB_KERNELS.adam, backendName: 'wasm', kernelFunc };
}
