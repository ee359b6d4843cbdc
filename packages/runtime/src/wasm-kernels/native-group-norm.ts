/**
 * `DifflabGroupNorm` / `DifflabGroupNormGrad` (contracts in @difflab/core's DIFFLAB_KERNELS) for
 * tfjs-backend-wasm in Node on difflab-blas (native/norm.c): one pass for the statistics and one
 * for y, and two for the gradient, instead of the ~50 element-wise kernels of the composite.
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';

const off = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;

function geometry(name: string, x: TensorInfo, gamma: TensorInfo, groups: number): [number, number, number] {
  if (x.shape.length !== 3 || x.dtype !== 'float32') throw new Error(`${name}: x must be float32 [B, M, C], got ${x.dtype} [${x.shape}]`);
  const [B, M, C] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) throw new Error(`${name}: groups must divide the ${C} channels, got ${groups}`);
  if (gamma.shape.length !== 1 || gamma.shape[0] !== C) throw new Error(`${name}: gamma must be [${C}], got [${gamma.shape}]`);
  return [B, M, C];
}

export function makeNativeGroupNorm(blas: NativeBlas): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { groups, eps } = attrs as unknown as { groups: number; eps: number };
    const [B, M, C] = geometry(DIFFLAB_KERNELS.groupNorm, x, gamma, groups);
    const backend = b as WasmBackend;
    const y = backend.makeOutput(x.shape, 'float32');
    const stats = backend.makeOutput([B, groups, 2], 'float32');
    blas.groupNorm(heapF32(backend), off(backend, x), off(backend, gamma), off(backend, beta), B, M, C, groups, off(backend, y), off(backend, stats), eps);
    return [y, stats];
  };
  const backward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { dy, x, stats, gamma } = inputs as { dy: TensorInfo; x: TensorInfo; stats: TensorInfo; gamma: TensorInfo };
    const { groups } = attrs as unknown as { groups: number };
    const [B, M, C] = geometry(DIFFLAB_KERNELS.groupNormGrad, x, gamma, groups);
    const backend = b as WasmBackend;
    const dx = backend.makeOutput(x.shape, 'float32');
    const dgamma = backend.makeOutput([C], 'float32');
    const dbeta = backend.makeOutput([C], 'float32');
    blas.groupNormGrad(heapF32(backend), off(backend, dy), off(backend, x), off(backend, stats), off(backend, gamma), B, M, C, groups, off(backend, dx), off(backend, dgamma), off(backend, dbeta));
    return [dx, dgamma, dbeta];
  };
  return [
    { kernelName: DIFFLAB_KERNELS.groupNorm, backendName: 'wasm', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.groupNormGrad, backendName: 'wasm', kernelFunc: backward },
  ];
}
