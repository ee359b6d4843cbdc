/**
 * `DifflabGroupNorm` / `DifflabGroupNormGrad`, `DifflabGroupNormSilu` / `DifflabGroupNormSiluGrad` and `DifflabLayerNorm` / `DifflabLayerNormGrad`
 * (contracts in @difflab/core's DIFFLAB_KERNELS) for tfjs-backend-wasm in Node on difflab-blas
 * (native/norm.c): a pass or two per kernel instead of the ~50 (group) or ~14 (layer) element-wise
 * kernels of the composites.
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

/**
 * `DifflabGroupNorm` / `DifflabGroupNormGrad`, or with `silu` `DifflabGroupNormSilu` /
 * `DifflabGroupNormSiluGrad` (y = silu(group norm); the gradient recomputes the normalised values
 * per sample instead of reading a saved tensor).
 */
export function makeNativeGroupNorm(blas: NativeBlas, silu = false): KernelConfig[] {
  const names = silu ? [DIFFLAB_KERNELS.groupNormSilu, DIFFLAB_KERNELS.groupNormSiluGrad] : [DIFFLAB_KERNELS.groupNorm, DIFFLAB_KERNELS.groupNormGrad];
  const forward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { groups, eps } = attrs as unknown as { groups: number; eps: number };
    const [B, M, C] = geometry(names[0], x, gamma, groups);
    const backend = b as WasmBackend;
    const y = backend.makeOutput(x.shape, 'float32');
    const stats = backend.makeOutput([B, groups, 2], 'float32');
    blas.groupNorm(heapF32(backend), off(backend, x), off(backend, gamma), off(backend, beta), B, M, C, groups, off(backend, y), off(backend, stats), eps, silu ? 1 : 0);
    return [y, stats];
  };
  const backward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { dy, x, stats, gamma, beta } = inputs as { dy: TensorInfo; x: TensorInfo; stats: TensorInfo; gamma: TensorInfo; beta?: TensorInfo };
    const { groups } = attrs as unknown as { groups: number };
    const [B, M, C] = geometry(names[1], x, gamma, groups);
    if (silu && beta?.shape.join() !== String(C)) throw new Error(`${names[1]}: beta must be [${C}], got ${beta ? `[${beta.shape}]` : 'none'}`);
    const backend = b as WasmBackend;
    const dx = backend.makeOutput(x.shape, 'float32');
    const dgamma = backend.makeOutput([C], 'float32');
    const dbeta = backend.makeOutput([C], 'float32');
    const betaOff = silu && beta ? off(backend, beta) : -1;
    blas.groupNormGrad(heapF32(backend), off(backend, dy), off(backend, x), off(backend, stats), off(backend, gamma), B, M, C, groups, off(backend, dx), off(backend, dgamma), off(backend, dbeta), betaOff);
    return [dx, dgamma, dbeta];
  };
  return [
    { kernelName: names[0], backendName: 'wasm', kernelFunc: forward },
    { kernelName: names[1], backendName: 'wasm', kernelFunc: backward },
  ];
}

/** `DifflabLayerNorm` {x} attrs {eps} -> [xhat, rstd [..., 1]] over the last axis, and its gradient. */
export function makeNativeLayerNorm(blas: NativeBlas): KernelConfig[] {
  const rowsOf = (name: string, x: TensorInfo): [number, number] => {
    if (x.dtype !== 'float32' || x.shape.length < 1) throw new Error(`${name}: x must be float32 with at least one axis, got ${x.dtype} [${x.shape}]`);
    const C = x.shape[x.shape.length - 1];
    return [C === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / C, C];
  };
  const forward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { x } = inputs as { x: TensorInfo };
    const { eps } = attrs as unknown as { eps: number };
    const [rows, C] = rowsOf(DIFFLAB_KERNELS.layerNorm, x);
    const backend = b as WasmBackend;
    const xhat = backend.makeOutput(x.shape, 'float32');
    const rstd = backend.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
    if (rows > 0 && C > 0) blas.layerNorm(heapF32(backend), off(backend, x), rows, C, off(backend, xhat), off(backend, rstd), eps);
    return [xhat, rstd];
  };
  const backward: KernelFunc = ({ inputs, backend: b }) => {
    const { dy, xhat, rstd } = inputs as { dy: TensorInfo; xhat: TensorInfo; rstd: TensorInfo };
    const [rows, C] = rowsOf(DIFFLAB_KERNELS.layerNormGrad, xhat);
    if (dy.shape.join() !== xhat.shape.join()) throw new Error(`${DIFFLAB_KERNELS.layerNormGrad}: dy [${dy.shape}] and xhat [${xhat.shape}] differ`);
    const backend = b as WasmBackend;
    const dx = backend.makeOutput(xhat.shape, 'float32');
    if (rows > 0 && C > 0) blas.layerNormGrad(heapF32(backend), off(backend, dy), off(backend, xhat), off(backend, rstd), rows, C, off(backend, dx));
    return dx;
  };
  return [
    { kernelName: DIFFLAB_KERNELS.layerNorm, backendName: 'wasm', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.layerNormGrad, backendName: 'wasm', kernelFunc: backward },
  ];
}
