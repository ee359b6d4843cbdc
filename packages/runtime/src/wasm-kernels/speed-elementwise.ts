/**
 * Concat, Sin and Cos for tfjs-backend-wasm.
 *
 * - Concat: tfjs-backend-wasm 4.22 copies each row of each input with `subarray` + `set` (two
 *   typed-array objects per row): concatenating [10000, 256] and [10000, 128] along axis 1 takes
 *   tens of ms. Here every row is one `copyWithin` inside the heap (a memmove, no allocation).
 * - Sin, Cos: the backend's kernels call the C library's single-precision sin/cos per element
 *   without SIMD (~30 ns per value); V8's Math.sin / Math.cos are ~3x faster and, computed in
 *   double precision and rounded once, at least as accurate (error <= 0.5 ulp of the float32
 *   result, against ~2e-7 absolute for the backend's).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { heapWords, type WasmBackend } from './speed-heap.js';

export function makeConcatKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    const backend = args.backend as WasmBackend;
    if (inputs.length === 0 || inputs[0].dtype === 'string') return original.kernelFunc(args);
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
    const shapes = inputs.map((t) => t.shape);
    tf.backend_util.assertParamsConsistent(shapes, axis);
    const outShape = tf.backend_util.computeOutShape(shapes, axis);
    const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (parts.length <= 1) return original.kernelFunc(args);
    const out = backend.makeOutput(outShape, inputs[0].dtype);
    if (tf.util.sizeFromShape(outShape) === 0) return out;
    const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
    const inners = parts.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)));
    const rowLen = inners.reduce((a, b) => a + b, 0);
    const { heap, offset: outOff } = heapWords(backend, out);
    let col = 0;
    parts.forEach((t, i) => {
      const inner = inners[i];
      let src = heapWords(backend, t).offset;
      let dst = outOff + col;
      if (outer === 1) {
        heap.copyWithin(dst, src, src + inner);
      } else if (inner < 16) {
        for (let r = 0; r < outer; r++, src += inner, dst += rowLen) for (let j = 0; j < inner; j++) heap[dst + j] = heap[src + j];
      } else {
        for (let r = 0; r < outer; r++, src += inner, dst += rowLen) heap.copyWithin(dst, src, src + inner);
      }
      col += inner;
    });
    return out;
  };
  return { kernelName: tf.Concat, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

function makeUnaryMath(kernelName: string, fn: (v: number) => number, original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(x.shape, 'float32');
    const xs = backend.typedArrayFromHeap(x) as Float32Array;
    const ys = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < xs.length; i++) ys[i] = fn(xs[i]);
    return out;
  };
  return { kernelName, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

export function makeSinKernel(original: KernelConfig): KernelConfig {
  return makeUnaryMath(tf.Sin, Math.sin, original);
}

export function makeCosKernel(original: KernelConfig): KernelConfig {
  return makeUnaryMath(tf.Cos, Math.cos, original);
}
