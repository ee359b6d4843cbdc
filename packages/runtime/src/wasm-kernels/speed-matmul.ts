/**
 * BatchMatMul and _FusedMatMul for tfjs-backend-wasm with transposed operands: transpose
 * explicitly (the backend's Transpose kernel), then run the backend's plain kernel.
 *
 * tfjs-backend-wasm 4.22 sends a matmul with transposeA or transposeB to its naive loop instead of
 * XNNPACK's fully-connected operator: on a 256x384 @ 384x128 product the transposed forms take
 * ~10x the plain one, and a transpose costs a fraction of the product. The backward pass of every
 * matmul (tfjs' MatMul gradient: dA = dy B^T, dB = A^T dy) uses these forms.
 *
 * A batched BatchMatMul (batch > 1, as attention's [B*heads, L, d] products) takes the naive loop
 * in every form; here it runs as one XNNPACK product per batch entry on zero-copy views of the
 * operands and output (tensors registered at an offset inside the inputs' heap memory, and
 * unregistered without freeing). Same values up to float32 summation order.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { callOne, type WasmBackend } from './speed-heap.js';

function transposeLast2(transpose: KernelFunc, backend: WasmBackend, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return callOne(transpose, { x }, backend, { perm });
}

function unbatched(t: TensorInfo): boolean {
  for (let i = 0; i < t.shape.length - 2; i++) if (t.shape[i] !== 1) return false;
  return true;
}

type CBatchMatMul = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, ta: boolean, tb: boolean, outId: number) => void;
let cBatchMatMul: CBatchMatMul | null = null;
let cModule: unknown = null;

function batchMatMulC(backend: WasmBackend): CBatchMatMul {
  if (cModule !== backend.wasm || !cBatchMatMul) {
    const wasm = backend.wasm as unknown as { cwrap: (name: string, ret: null, args: string[]) => CBatchMatMul };
    cBatchMatMul = wasm.cwrap(tf.BatchMatMul, null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    cModule = backend.wasm;
  }
  return cBatchMatMul;
}

/** A float32 tensor id registered over `shape` elements of `base`'s memory from element `at` (no copy). */
function heapViewId(backend: WasmBackend, base: TensorInfo, at: number, shape: number[]): TensorInfo {
  const offset = backend.dataIdMap.get(base.dataId).memoryOffset + at * 4;
  return backend.makeOutput(shape, 'float32', offset);
}

/** Unregister a view made by `heapViewId` without freeing the memory it points into. */
function dropView(backend: WasmBackend, t: TensorInfo): void {
  const d = backend.dataIdMap.get(t.dataId);
  (backend.wasm as unknown as { tfjs: { disposeData(id: number): void } }).tfjs.disposeData(d.id);
  backend.dataIdMap.delete(t.dataId);
}

/** Batch sizes of a and b when each is either the full broadcast batch or 1; null otherwise. */
function batchPlan(a: TensorInfo, b: TensorInfo): { outer: number[]; batch: number; ba: number; bb: number } | null {
  const ao = a.shape.slice(0, -2);
  const bo = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(ao, bo);
  const batch = tf.util.sizeFromShape(outer);
  const ba = tf.util.sizeFromShape(ao);
  const bb = tf.util.sizeFromShape(bo);
  if ((ba !== batch && ba !== 1) || (bb !== batch && bb !== 1)) return null;
  return { outer, batch, ba, bb };
}

/** Plain (untransposed) batched product, one XNNPACK call per batch entry on heap views. */
function batchedPlain(backend: WasmBackend, a: TensorInfo, b: TensorInfo, plan: { outer: number[]; batch: number; ba: number; bb: number }): TensorInfo {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const out = backend.makeOutput([...plan.outer, m, n], 'float32');
  const fn = batchMatMulC(backend);
  const aShape = new Uint8Array(new Int32Array([1, m, k]).buffer);
  const bShape = new Uint8Array(new Int32Array([1, k, n]).buffer);
  for (let i = 0; i < plan.batch; i++) {
    const av = heapViewId(backend, a, plan.ba === 1 ? 0 : i * m * k, [1, m, k]);
    const bv = heapViewId(backend, b, plan.bb === 1 ? 0 : i * k * n, [1, k, n]);
    const ov = heapViewId(backend, out, i * m * n, [1, m, n]);
    const id = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).id;
    try {
      fn(id(av), aShape, 3, id(bv), bShape, 3, false, false, id(ov));
    } finally {
      dropView(backend, av);
      dropView(backend, bv);
      dropView(backend, ov);
    }
  }
  return out;
}

/** Batch entries from which the per-entry XNNPACK path beats the backend's batched loop. */
export const BATCHED_MIN_MACS = 4096;

function makeBatchedMatMul(original: KernelConfig, transpose: KernelConfig): KernelConfig {
  const unbatchedKernel = makeTransposingMatMul(tf.BatchMatMul, original, transpose);
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 3 || b.shape.length < 3 || (unbatched(a) && unbatched(b))) {
      return unbatchedKernel.kernelFunc(args);
    }
    const plan = batchPlan(a, b);
    const m = attrs.transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
    const k = attrs.transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
    const n = attrs.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    if (!plan || m * k * n < BATCHED_MIN_MACS || m * k * n === 0) return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const temps: TensorInfo[] = [];
    try {
      let a2 = a;
      let b2 = b;
      if (attrs.transposeA) temps.push((a2 = transposeLast2(transpose.kernelFunc, backend, a)));
      if (attrs.transposeB) temps.push((b2 = transposeLast2(transpose.kernelFunc, backend, b)));
      return batchedPlain(backend, a2, b2, plan);
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

function makeTransposingMatMul(kernelName: string, original: KernelConfig, transpose: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const inputs = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { a, b } = inputs;
    if ((!attrs.transposeA && !attrs.transposeB) || a.shape.length < 2 || b.shape.length < 2 || !unbatched(a) || !unbatched(b)) {
      return original.kernelFunc(args);
    }
    const backend = args.backend as WasmBackend;
    const temps: TensorInfo[] = [];
    let a2 = a;
    let b2 = b;
    try {
      if (attrs.transposeA) temps.push((a2 = transposeLast2(transpose.kernelFunc, backend, a)));
      if (attrs.transposeB) temps.push((b2 = transposeLast2(transpose.kernelFunc, backend, b)));
      return original.kernelFunc({
        inputs: { ...args.inputs, a: a2, b: b2 },
        backend,
        attrs: { ...(args.attrs as NamedAttrMap), transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return { kernelName, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

export function makeBatchMatMulKernel(original: KernelConfig, transpose: KernelConfig): KernelConfig {
  return makeBatchedMatMul(original, transpose);
}

export function makeFusedMatMulKernel(original: KernelConfig, transpose: KernelConfig): KernelConfig {
  return makeTransposingMatMul(tf._FusedMatMul, original, transpose);
}
