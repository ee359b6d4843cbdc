/**
 * `registerWasmSpeedKernels()`: replaces a few tfjs-backend-wasm 4.22 kernels with faster
 * equivalents (same outputs):
 *
 * - Slice, SplitV, Unpack, StridedSlice: copy only the selected values between heap views,
 *   instead of first copying the whole input out of the heap (`speed-slice.ts`).
 * - BatchMatMul, _FusedMatMul with transposeA/transposeB (un-batched): explicit Transpose, then
 *   the XNNPACK path of the plain kernel, instead of the backend's naive loop (`speed-matmul.ts`).
 * - Concat: one memmove per row inside the heap; Sin, Cos, Exp, Erf: difflab's wasm SIMD math
 *   module, 3-7x faster than the backend's scalar C loops (`speed-elementwise.ts`, `simd-math.ts`).
 * - Adds UnsortedSegmentSum (missing in tfjs-backend-wasm: the gradient of gather, so embedding
 *   tables could not train on wasm), `segment-sum.ts`.
 * - Adds difflab's fused kernels `DifflabGelu` / `DifflabGeluGrad` (`fused-gelu.ts`) and
 *   `DifflabAdam` (`fused-adam.ts`) (names in `DIFFLAB_KERNELS` of @difflab/core), which
 *   @difflab/models and @difflab/training use when registered.
 * - Sum over leading axes (bias gradients) without the backend's transpose, and Transpose of two
 *   adjacent blocks of axes as a tiled copy, both in the SIMD module (`speed-reduce.ts`).
 * - Identity: shares the input's data (reference count), as tfjs-backend-cpu does, instead of
 *   copying it; tfjs clones every tensor a custom gradient saves through Identity.
 *
 * Call it after importing '@tensorflow/tfjs-backend-wasm', before or after `tf.setBackend('wasm')`;
 * calling it again does nothing. The original kernels' setup functions are kept, so it also works
 * before the backend is initialised.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { makeConcatKernel, makeCosKernel, makeErfKernel, makeExpKernel, makeSinKernel } from './speed-elementwise.js';
import { makeBatchMatMulKernel, makeFusedMatMulKernel } from './speed-matmul.js';
import { makeSumKernel, makeTransposeKernel } from './speed-reduce.js';
import { fusedAdamKernel } from './fused-adam.js';
import { fusedGeluKernels } from './fused-gelu.js';
import { segmentSumKernel } from './segment-sum.js';
import { simdMathAvailable } from './simd-math.js';
import { makeSliceKernel, makeSplitVKernel, makeStridedSliceKernel, makeUnpackKernel } from './speed-slice.js';
import { type WasmBackend, wasmKernel } from './speed-heap.js';
import { registerNativeKernels, unregisterNativeKernels } from './native-kernels.js';

/** The kernels replaced, by name. */
export const WASM_SPEED_KERNELS = [tf.Slice, tf.SplitV, tf.Unpack, tf.StridedSlice, tf.BatchMatMul, tf._FusedMatMul, tf.Identity, tf.Concat, tf.Sin, tf.Cos, tf.Exp, tf.Erf, tf.Sum, tf.Transpose] as const;

const MARK = Symbol.for('difflab.wasmSpeedKernel');
const originals = new Map<string, KernelConfig>();

function makeIdentityKernel(original: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype === 'string') return original.kernelFunc({ inputs, attrs, backend });
    (backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc };
}

function isOurs(k: KernelConfig | undefined): boolean {
  return !!k && (k.kernelFunc as unknown as Record<symbol, unknown>)[MARK] === true;
}

/**
 * Register the speed kernels for the 'wasm' backend (idempotent). Returns the names of the kernels
 * registered by this call (empty when they already were).
 * @throws Error when tfjs-backend-wasm's kernels are not registered (it was not imported).
 */
export function registerWasmSpeedKernels(): string[] {
  // the native kernels (native-kernels.ts) sit on top of these: lift them off, put them back
  const blas = unregisterNativeKernels();
  try {
    return registerSpeedKernels();
  } finally {
    if (blas) registerNativeKernels(blas);
  }
}

function registerSpeedKernels(): string[] {
  const orig = (name: string) => {
    const cur = wasmKernel(name);
    return isOurs(cur) ? originals.get(name)! : cur;
  };
  // the matmul kernels transpose with the fast Transpose below
  const transpose = makeTransposeKernel(orig(tf.Transpose));
  const made: KernelConfig[] = [
    makeSliceKernel(orig(tf.Slice)),
    makeSplitVKernel(orig(tf.SplitV)),
    makeUnpackKernel(orig(tf.Unpack)),
    makeStridedSliceKernel(orig(tf.StridedSlice)),
    makeBatchMatMulKernel(orig(tf.BatchMatMul), transpose),
    makeFusedMatMulKernel(orig(tf._FusedMatMul), transpose),
    makeIdentityKernel(orig(tf.Identity)),
    makeConcatKernel(orig(tf.Concat)),
    makeSinKernel(orig(tf.Sin)),
    makeCosKernel(orig(tf.Cos)),
    makeExpKernel(orig(tf.Exp)),
    makeErfKernel(orig(tf.Erf)),
    makeSumKernel(orig(tf.Sum)),
    transpose,
  ];
  const done: string[] = [];
  for (const k of made) {
    const cur = tf.getKernel(k.kernelName, 'wasm');
    if (isOurs(cur)) continue;
    originals.set(k.kernelName, cur);
    (k.kernelFunc as unknown as Record<symbol, unknown>)[MARK] = true;
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
    done.push(k.kernelName);
  }
  // a kernel tfjs-backend-wasm lacks (the gradient of gather)
  if (!tf.getKernel(tf.UnsortedSegmentSum, 'wasm')) {
    tf.registerKernel(segmentSumKernel());
    done.push(tf.UnsortedSegmentSum);
  }
  // difflab's own fused kernels (new names, nothing to replace), where SIMD runs
  if (simdMathAvailable()) {
    for (const k of [...fusedGeluKernels(), fusedAdamKernel()]) {
      if (tf.getKernel(k.kernelName, 'wasm')) continue;
      tf.registerKernel(k);
      done.push(k.kernelName);
    }
  }
  return done;
}

/** Put tfjs-backend-wasm's own kernels back (for comparisons and tests). */
export function unregisterWasmSpeedKernels(): void {
  unregisterNativeKernels();
  for (const [name, k] of originals) {
    if (!isOurs(tf.getKernel(name, 'wasm'))) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(k);
  }
  originals.clear();
  for (const k of [...fusedGeluKernels(), fusedAdamKernel(), segmentSumKernel()]) if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
}
