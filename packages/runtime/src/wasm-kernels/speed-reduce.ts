/**
 * Sum over leading axes and Transpose for tfjs-backend-wasm, on difflab's SIMD module.
 *
 * - Sum: tfjs-backend-wasm 4.22 reduces only innermost axes, so a sum over axis 0 (every bias
 *   gradient: dL/db = sum over the batch) first transposes the whole tensor. Here a sum over
 *   the leading axes [0 .. k-1] is one pass of column sums (float32, rows in order), and a sum
 *   over a contiguous block of middle axes (GroupNorm's per-sample channel sums of [B, HW, C])
 *   is that pass for each leading block.
 * - Transpose: the backend's generic loop costs ~7 ns per value on a [256, 128] matrix. Every
 *   permutation that swaps two adjacent blocks of axes, [batch.., A.., B.., inner..] ->
 *   [batch.., B.., A.., inner..] (2-D transposes, the last-two-axes swap of backprop, attention's
 *   [B, L, H, d] <-> [B, H, L, d]), runs as a tiled copy of 32-bit words.
 * Other cases (int sums, other axes, other permutations, bool data) use the backend's kernels.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { simdColumnSum, simdMathAvailable, simdTranspose } from './simd-math.js';
import type { WasmBackend } from './speed-heap.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * [outer, rows, cols] when `axes` (sorted, distinct) are one contiguous block [a, e) of x's axes
 * that leaves at least one axis after it: the sum is then, for each of the `outer` leading
 * blocks, the column sums of a [rows, cols] matrix. Null otherwise (e.g. only trailing axes,
 * which tfjs-backend-wasm reduces fast itself).
 */
export function sumPlan(shape: readonly number[], axes: readonly number[]): [number, number, number] | null {
  return axes.length > 0 && axes[axes.length - 1] < shape.length - 1 ? blockSumPlan(shape, axes) : null;
}

/**
 * [outer, rows, cols] when `axes` (sorted, distinct) are one contiguous block [a, e) of the
 * shape's axes: outer = the sizes before it, rows = the block's, cols = the sizes after it (1 when
 * the block is trailing: row sums, or the full reduction). Null for other axis sets.
 */
export function blockSumPlan(shape: readonly number[], axes: readonly number[]): [number, number, number] | null {
  if (axes.length === 0) return null;
  const a = axes[0];
  const e = a + axes.length;
  if (axes.some((ax, i) => ax !== a + i) || e > shape.length) return null;
  return [prod(shape.slice(0, a)), prod(shape.slice(a, e)), prod(shape.slice(e))];
}

/** The axes (sorted, distinct) and output shape of a Sum kernel call on x. */
export function sumAxes(x: TensorInfo, attrs: unknown): { axes: number[]; outShape: number[] } {
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  return { axes, outShape };
}

export function makeSumKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32' || !simdMathAvailable()) return original.kernelFunc(args);
    const { axes, outShape } = sumAxes(x, args.attrs);
    const plan = sumPlan(x.shape, axes);
    if (!plan || plan[0] * plan[1] * plan[2] === 0) return original.kernelFunc(args);
    const [outer, rows, cols] = plan;
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(outShape, 'float32');
    simdColumnSum(backend.typedArrayFromHeap(x) as Float32Array, rows, cols, backend.typedArrayFromHeap(out) as Float32Array, outer);
    return out;
  };
  return { kernelName: tf.Sum, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

/**
 * [batch, rows, cols, inner] sizes when `perm` swaps two adjacent blocks of axes and keeps the
 * axes before and after in place; null otherwise.
 */
export function blockSwap(shape: readonly number[], perm: readonly number[]): [number, number, number, number] | null {
  const r = perm.length;
  let a = 0;
  while (a < r && perm[a] === a) a++;
  let e = r;
  while (e > a && perm[e - 1] === e - 1) e--;
  if (e - a < 2) return null;
  // perm[a..e) must be [m..e) then [a..m) for some a < m < e
  const m = perm[a];
  const lenB = e - m;
  for (let i = 0; i < lenB; i++) if (perm[a + i] !== m + i) return null;
  for (let i = 0; i < m - a; i++) if (perm[a + lenB + i] !== a + i) return null;
  return [prod(shape.slice(0, a)), prod(shape.slice(a, m)), prod(shape.slice(m, e)), prod(shape.slice(e))];
}

export function makeTransposeKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !simdMathAvailable()) return original.kernelFunc(args);
    const plan = blockSwap(x.shape, perm);
    if (!plan || prod(x.shape) === 0) return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(
      perm.map((p) => x.shape[p]),
      x.dtype,
    );
    const words = (t: TensorInfo) => {
      const v = backend.typedArrayFromHeap(t);
      return new Uint32Array(v.buffer, v.byteOffset, v.length);
    };
    simdTranspose(words(x), ...plan, words(out));
    return out;
  };
  return { kernelName: tf.Transpose, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}
