/**
 * Concat, Sin and Cos for tfjs-backend-wasm.
 *
 * - Concat: tfjs-backend-wasm 4.22 copies each row of each input with `subarray` + `set` (two
 *   typed-array objects per row): concatenating [10000, 256] and [10000, 128] along axis 1 takes
 *   tens of ms. Here every row is one `copyWithin` inside the heap (a memmove, no allocation).
 * - Sin, Cos, Exp, Erf: the backend's kernels are scalar C loops (~15, 15, 7, 5 ns per value);
 *   difflab's SIMD module (`simd-math.ts`) takes ~2-3 ns with <= 1 ulp (erf <= 4 ulp) error.
 *   Where WebAssembly SIMD is unavailable the backend's kernels run.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type SimdMathFn, simdMath, simdMathAvailable } from './simd-math.js';
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

function makeUnaryMath(kernelName: string, fn: SimdMathFn, original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32' || !simdMathAvailable()) return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(x.shape, 'float32');
    if (tf.util.sizeFromShape(x.shape) === 0) return out;
    // views after makeOutput (an allocation may grow the heap)
    simdMath(fn, backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array);
    return out;
  };
  return { kernelName, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

export function makeSinKernel(original: KernelConfig): KernelConfig {
  return makeUnaryMath(tf.Sin, 'sin', original);
}

export function makeCosKernel(original: KernelConfig): KernelConfig {
  return makeUnaryMath(tf.Cos, 'cos', original);
}

export function makeExpKernel(original: KernelConfig): KernelConfig {
  return makeUnaryMath(tf.Exp, 'exp', original);
}

export function makeErfKernel(original: KernelConfig): KernelConfig {
  return makeUnaryMath(tf.Erf, 'erf', original);
}
