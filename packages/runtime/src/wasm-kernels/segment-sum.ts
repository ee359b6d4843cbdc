/**
 * UnsortedSegmentSum for tfjs-backend-wasm, which 4.22 lacks: it is the gradient of `tf.gather`
 * (embedding lookups: a text conditioner's token table, a class-label table), so without it
 * nothing with an embedding table trains on wasm.
 *
 *   out[s, ...] = sum over i with segmentIds[i] = s of x[i, ...]    (s in [0, numSegments))
 *
 * segmentIds has the shape of x's leading axes; ids outside [0, numSegments) are dropped (as
 * tfjs-backend-cpu does). float32 and int32 values (the output is float32, as tfjs-backend-cpu's);
 * rows are added in order.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from './speed-heap.js';

const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: float32 or int32 values only, got ${x.dtype}`);
  if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  const k = segmentIds.shape.length;
  if (segmentIds.shape.some((d, i) => d !== x.shape[i])) throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] is not a prefix of x's [${x.shape}]`);
  if (!Number.isInteger(numSegments) || numSegments < 0) throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  const inner = tf.util.sizeFromShape(x.shape.slice(k));
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const b = backend as WasmBackend;
  // float32 out for int32 values too, as tfjs-backend-cpu
  const out = b.makeOutput([numSegments, ...x.shape.slice(k)], 'float32');
  // views after the allocation
  const xs = b.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = b.typedArrayFromHeap(segmentIds) as Int32Array;
  const ys = b.typedArrayFromHeap(out) as Float32Array;
  ys.fill(0);
  for (let i = 0; i < rows; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) ys[dst + j] += xs[src + j];
  }
  return out;
};

/** The kernel for the 'wasm' backend (registered by `registerWasmSpeedKernels`). */
export function segmentSumKernel(): KernelConfig {
  return { kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc };
}
