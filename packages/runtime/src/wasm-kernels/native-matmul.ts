/**
 * BatchMatMul and _FusedMatMul for tfjs-backend-wasm in Node on difflab-blas (OpenBLAS's sgemm,
 * native-blas.ts): the product is computed in place in the wasm heap, transposed operands and
 * broadcast batches included, with no copies and no explicit transposes. _FusedMatMul's bias
 * (one row of n values) and relu are applied in the same call.
 *
 * What it does not cover goes to the kernel registered before it (difflab's WebAssembly
 * speed kernels): non-float32 operands, batch shapes that broadcast other than "all or one",
 * other activations, a prelu weight, a bias that is not one row.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import type { WasmBackend } from './speed-heap.js';

let heapCache: Float32Array | null = null;

/** A Float32Array over the whole wasm heap (take it after any allocation: the heap may grow). */
export function heapF32(backend: WasmBackend): Float32Array {
  const buffer = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
  if (!heapCache || heapCache.buffer !== buffer) heapCache = new Float32Array(buffer);
  return heapCache;
}

interface Plan {
  outShape: number[];
  batch: number;
  m: number;
  n: number;
  k: number;
  aStride: number;
  bStride: number;
}

/** The product's geometry, or null when this kernel does not handle it. */
function plan(a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean): Plan | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) return null; // the original kernel reports the mismatch
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const batch = tf.util.sizeFromShape(outer);
  const ba = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const bb = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if ((ba !== batch && ba !== 1) || (bb !== batch && bb !== 1)) return null;
  return { outShape: [...outer, m, n], batch, m, n, k, aStride: ba === 1 ? 0 : m * k, bStride: bb === 1 ? 0 : k * n };
}

function run(blas: NativeBlas, backend: WasmBackend, a: TensorInfo, b: TensorInfo, p: Plan, flags: number, bias?: TensorInfo): TensorInfo {
  const out = backend.makeOutput(p.outShape, 'float32');
  if (p.batch === 0 || p.m === 0 || p.n === 0) return out;
  const heap = heapF32(backend);
  const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
  try {
    blas.gemm(heap, flags, p.batch, p.m, p.n, p.k, off(a), p.aStride, off(b), p.bStride, off(out), bias ? off(bias) : -1, 0);
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return out;
}

/** BatchMatMul on OpenBLAS; `fallback` (the kernel registered before) for what it does not cover. */
export function makeNativeBatchMatMul(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const p = plan(a, b, transposeA, transposeB);
    if (!p) return fallback.kernelFunc(args);
    return run(blas, args.backend as WasmBackend, a, b, p, (transposeA ? 1 : 0) | (transposeB ? 2 : 0));
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/** _FusedMatMul (bias row, linear or relu) on OpenBLAS; `fallback` for the rest. */
export function makeNativeFusedMatMul(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const { transposeA, transposeB, activation } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string };
    const act = activation ?? 'linear';
    const p = preluActivationWeights || (act !== 'linear' && act !== 'relu') ? null : plan(a, b, transposeA, transposeB);
    const rowBias = !bias || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === p?.n && bias.shape[bias.shape.length - 1] === p.n);
    if (!p || !rowBias) return fallback.kernelFunc(args);
    return run(blas, args.backend as WasmBackend, a, b, p, (transposeA ? 1 : 0) | (transposeB ? 2 : 0) | (act === 'relu' ? 4 : 0), bias);
  };
  return { kernelName: tf._FusedMatMul, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}
