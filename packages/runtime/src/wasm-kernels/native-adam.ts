/**
 * `DifflabAdam` (contract in @difflab/core's DIFFLAB_KERNELS) for tfjs-backend-wasm in Node on
 * difflab-blas (native/adam.c): the same float32 operations as the tfjs ops and the WebAssembly
 * SIMD kernel it replaces (fused-adam.ts), bit for bit, 16 lanes wide.
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { adamArgs } from './fused-adam.js';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';

export function makeNativeAdam(blas: NativeBlas): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const {
      x: { p, g, m, v },
      c,
      n,
    } = adamArgs(inputs, attrs);
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
