/**
 * difflab's fused GELU kernels for tfjs-backend-wasm (names in `DIFFLAB_KERNELS` of
 * @difflab/core), on the SIMD module: the exact GELU forward (y and Phi in one pass) and its
 * backward pass (one pass), instead of 5 and 7 separate element-wise kernels.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { simdGelu, simdGeluGrad } from './simd-math.js';
import type { WasmBackend } from './speed-heap.js';

const f32 = (backend: WasmBackend, t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;

function check(name: string, ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== 'float32') throw new Error(`${name}: float32 inputs only, got ${t.dtype}`);
    if (t.shape.length !== ts[0].shape.length || t.shape.some((d, i) => d !== ts[0].shape[i])) {
      throw new Error(`${name}: input shapes differ ([${ts[0].shape}] and [${t.shape}])`);
    }
  }
}

const geluFunc: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  check(DIFFLAB_KERNELS.gelu, [x]);
  const b = backend as WasmBackend;
  const y = b.makeOutput(x.shape, 'float32');
  const cdf = b.makeOutput(x.shape, 'float32');
  simdGelu(f32(b, x), f32(b, y), f32(b, cdf));
  return [y, cdf];
};

const geluGradFunc: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, cdf } = inputs as { dy: TensorInfo; x: TensorInfo; cdf: TensorInfo };
  check(DIFFLAB_KERNELS.geluGrad, [x, dy, cdf]);
  const b = backend as WasmBackend;
  const dx = b.makeOutput(x.shape, 'float32');
  simdGeluGrad(f32(b, dy), f32(b, x), f32(b, cdf), f32(b, dx));
  return dx;
};

/** The fused kernels for the 'wasm' backend. */
export function fusedGeluKernels(): KernelConfig[] {
  return [
    { kernelName: DIFFLAB_KERNELS.gelu, backendName: 'wasm', kernelFunc: geluFunc },
    { kernelName: DIFFLAB_KERNELS.geluGrad, backendName: 'wasm', kernelFunc: geluGradFunc },
  ];
}
