/**
 * Data-movement kernels for tfjs-backend-wasm in Node on difflab-blas's strided copies
 * (native/copy.c): Concat, Slice and ResizeNearestNeighbor are a memcpy per row (or per pixel) of
 * 32-bit values, split over the addon's threads from about a million values. They replace
 * difflab's JavaScript kernels (one `copyWithin` call per row, speed-elementwise.ts /
 * speed-slice.ts) and tfjs-backend-wasm's resize, and keep the kernel registered before them as
 * the fallback for what they do not cover (other dtypes, strings, unusual boxes, empty tensors).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';

const off = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** float32 and int32 are both 32-bit words in the heap; bool is bytes, string is not in the heap. */
const words = (dtype: string) => dtype === 'float32' || dtype === 'int32';

/**
 * Concat along any axis (tfjs' semantics: a negative axis counts from the end, empty inputs are
 * skipped) of float32 or int32 tensors of one dtype: outer = the sizes before the axis, and each
 * input's [outer, inner] block is one copy2d into its column offset of the [outer, sum of inners]
 * output. One non-empty input (tfjs returns it as an identity), none, scalars, other dtypes:
 * `fallback`.
 */
export function makeNativeConcat(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    if (inputs.length === 0 || inputs[0].shape.length === 0 || !words(inputs[0].dtype) || inputs.some((t) => t.dtype !== inputs[0].dtype)) return fallback.kernelFunc(args);
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
    const shapes = inputs.map((t) => t.shape);
    tf.backend_util.assertParamsConsistent(shapes, axis);
    const outShape = tf.backend_util.computeOutShape(shapes, axis);
    const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (parts.length <= 1) return fallback.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(outShape, inputs[0].dtype);
    const outer = prod(outShape.slice(0, axis));
    const inners = parts.map((t) => prod(t.shape.slice(axis)));
    const rowLen = inners.reduce((a, b) => a + b, 0);
    // the heap view after makeOutput (an allocation may grow the heap)
    const heap = heapF32(backend);
    const outOff = off(backend, out);
    let col = 0;
    parts.forEach((t, i) => {
      blas.copy2d(heap, off(backend, t), inners[i], outOff + col, rowLen, outer, inners[i]);
      col += inners[i];
    });
    return out;
  };
  return { kernelName: tf.Concat, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/**
 * [rows, cols, srcStride, srcStart] of the slice `begin` + `size` of `shape` as one copy2d, when
 * the box is the whole tensor in every axis but (at most) one, d: rows = the sizes before d, cols =
 * size[d] times the sizes after it, srcStride = shape[d] times those, srcStart = begin[d] times
 * those. Null when two or more axes are cut.
 */
export function slicePlan(shape: readonly number[], begin: readonly number[], size: readonly number[]): [number, number, number, number] | null {
  const cut: number[] = [];
  for (let i = 0; i < shape.length; i++) if (begin[i] !== 0 || size[i] !== shape[i]) cut.push(i);
  if (cut.length > 1) return null;
  const d = cut.length === 1 ? cut[0] : 0;
  if (shape.length === 0) return [1, 1, 1, 0];
  const after = prod(shape.slice(d + 1));
  return [prod(shape.slice(0, d)), size[d] * after, shape[d] * after, begin[d] * after];
}

/**
 * Slice of a float32 or int32 tensor whose box differs from the whole tensor in one axis only (a
 * channel slice of NHWC, a row range): one copy2d (`slicePlan`); `fallback` otherwise.
 */
export function makeNativeSlice(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (!words(x.dtype)) return fallback.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
    tf.slice_util.assertParamsValid(x, b, s);
    const plan = slicePlan(x.shape, b, s);
    if (!plan || tf.util.sizeFromShape(s) === 0) return fallback.kernelFunc(args);
    const [rows, cols, srcStride, srcStart] = plan;
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(s, x.dtype);
    blas.copy2d(heapF32(backend), off(backend, x) + srcStart, srcStride, off(backend, out), cols, rows, cols);
    return out;
  };
  return { kernelName: tf.Slice, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/**
 * ResizeNearestNeighbor of float32 NHWC images with tfjs-backend-cpu's index rule for every
 * alignCorners / halfPixelCenters (native/copy.c); each output pixel's channels one copied run.
 * Other dtypes (tfjs-backend-wasm casts them to float32), empty tensors: `fallback`.
 */
export function makeNativeResizeNearest(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { images } = args.inputs as { images: TensorInfo };
    const { alignCorners, halfPixelCenters, size } = args.attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean; size: [number, number] };
    if (images.dtype !== 'float32' || images.shape.length !== 4) return fallback.kernelFunc(args);
    const [batch, h, w, c] = images.shape;
    const [newH, newW] = size;
    if (batch * h * w * c === 0 || newH * newW === 0) return fallback.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput([batch, newH, newW, c], 'float32');
    blas.resizeNearest(heapF32(backend), off(backend, images), batch, h, w, c, newH, newW, alignCorners ? 1 : 0, halfPixelCenters ? 1 : 0, off(backend, out));
    return out;
  };
  return { kernelName: tf.ResizeNearestNeighbor, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}
