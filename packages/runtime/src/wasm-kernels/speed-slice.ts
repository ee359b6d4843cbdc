/**
 * Slice, SplitV, Unpack and StridedSlice for tfjs-backend-wasm that copy only the selected
 * values, straight between heap views.
 *
 * tfjs-backend-wasm 4.22's Slice (which its SplitV, Unpack and StridedSlice call directly) starts
 * with `backend.readSync(x)`, a copy of the WHOLE input out of the heap, for every slice: taking
 * 2 values of a 100k vector costs a 400 KB copy, and `tf.split` of a flat parameter vector into
 * k parts copies it k times. These kernels compute the same outputs (same shapes, same values,
 * same dtypes) with one `makeOutput` and a strided copy of the box (`copyBox`).
 * String tensors go to the original kernels.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { copyBox, type WasmBackend } from './speed-heap.js';

/** Slice of x at (already parsed) begin/size. */
export function sliceHeap(backend: WasmBackend, x: TensorInfo, begin: readonly number[], size: readonly number[]): TensorInfo {
  const out = backend.makeOutput([...size], x.dtype);
  if (tf.util.sizeFromShape(size as number[]) === 0) return out;
  copyBox(backend, x, begin, size, out);
  return out;
}

export function makeSliceKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype === 'string') return original.kernelFunc({ inputs, attrs, backend });
    const { begin, size } = attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
    tf.slice_util.assertParamsValid(x, b, s);
    return sliceHeap(backend as WasmBackend, x, b, s);
  };
  return { kernelName: tf.Slice, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

export function makeSplitVKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype === 'string') return original.kernelFunc({ inputs, attrs, backend });
    const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    const size = [...x.shape];
    return sizes.map((s) => {
      size[ax] = s;
      const out = sliceHeap(backend as WasmBackend, x, begin, size);
      begin[ax] += s;
      return out;
    });
  };
  return { kernelName: tf.SplitV, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

export function makeUnpackKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { value } = inputs as { value: TensorInfo };
    if (value.dtype === 'string') return original.kernelFunc({ inputs, attrs, backend });
    const rank = value.shape.length;
    let { axis } = attrs as unknown as { axis: number };
    if (axis < 0) axis += rank;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(rank).fill(0);
    const size = [...value.shape];
    size[axis] = 1;
    const outs: TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      begin[axis] = i;
      const o = sliceHeap(backend as WasmBackend, value, begin, size);
      outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
    }
    return outs;
  };
  return { kernelName: tf.Unpack, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

/** StridedSlice: the unit-stride cases become one heap slice; the rest go to the original. */
export function makeStridedSliceKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype === 'string') return original.kernelFunc({ inputs, attrs, backend });
    const a = attrs as unknown as {
      begin: number[];
      end: number[];
      strides: number[];
      beginMask: number;
      endMask: number;
      ellipsisMask: number;
      newAxisMask: number;
      shrinkAxisMask: number;
    };
    const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
    if (info.isIdentity || !(info.sliceDim0 || info.isSimpleSlice)) return original.kernelFunc({ inputs, attrs: attrs as NamedAttrMap, backend });
    const size = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
    const out = sliceHeap(backend as WasmBackend, x, info.begin, size);
    return { dataId: out.dataId, dtype: out.dtype, shape: info.finalShape };
  };
  return { kernelName: tf.StridedSlice, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}
