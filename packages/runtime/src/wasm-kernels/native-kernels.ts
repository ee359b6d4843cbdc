/**
 * `registerNativeKernels(blas)`: the wasm backend's kernels that run on difflab-blas (the native
 * OpenBLAS + vector-math addon, Node only) instead of WebAssembly:
 *
 * - BatchMatMul, _FusedMatMul (`native-matmul.ts`);
 * - Conv2D, FusedConv2D, and the new `DifflabConv2DFilterGrad` / `DifflabConv2DInputGrad` /
 *   `DifflabConv2DAdd` (a convolution plus a per-image or per-pixel addend; `native-conv.ts`);
 * - Add, Multiply, Sub (same shapes, a bias row, a per-sample vector, a scalar), Sin, Cos, Sum
 *   (over one block of axes), Transpose (of two adjacent axis blocks), `DifflabGelu`, `DifflabGeluGrad`, and the new
 *   `DifflabSilu`, `DifflabSiluGrad` (`native-elementwise.ts`);
 * - the new `DifflabGroupNorm`, `DifflabGroupNormGrad`, `DifflabGroupNormSilu`,
 *   `DifflabGroupNormSiluGrad`, `DifflabLayerNorm`, `DifflabLayerNormGrad`
 *   (`native-group-norm.ts`);
 * - the new `DifflabSinusoidal` (sinusoidal features, `native-elementwise.ts`);
 * - `DifflabAdam` (`native-adam.ts`, bit for bit the WebAssembly SIMD kernel's results) and the
 *   new `DifflabOptimizerStep` (clip, Adam and EMA over all variables; `native-optimizer-step.ts`);
 * - the new `DifflabResidualMlp`, `DifflabResidualMlpGrad` (`native-mlp.ts`): tiny-diffusion's
 *   residual MLP in one kernel each way;
 * - the new `DifflabAttention`, `DifflabAttentionGrad` (`native-attention.ts`): multi-head attention
 *   on the fused qkv projection, heads read in place;
 * - Concat (any axis), Slice (a box cut in one axis only), both float32 / int32, and
 *   ResizeNearestNeighbor (float32 NHWC, tfjs-backend-cpu's index rule) as strided copies
 *   (`native-copy.ts`, native/copy.c).
 *
 * Each replaces the kernel registered before it (difflab's WebAssembly kernels, or
 * tfjs-backend-wasm's), which it keeps as the fallback for what it does not cover and which
 * `unregisterNativeKernels()` puts back.
 */
import { DIFFLAB_KERNELS, isNativeKernel, NATIVE_KERNEL_MARK } from '@difflab/core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { makeNativeAdam } from './native-adam.js';
import { makeNativeAttention } from './native-attention.js';
import { makeNativeConv, makeNativeConvAdd, makeNativeFilterGrad, makeNativeInputGrad } from './native-conv.js';
import { makeNativeConcat, makeNativeResizeNearest, makeNativeSlice } from './native-copy.js';
import { makeNativeBinary, makeNativeGelu, makeNativeSilu, makeNativeSinusoidal, makeNativeSum, makeNativeTranspose, makeNativeUnary } from './native-elementwise.js';
import { makeNativeGroupNorm, makeNativeLayerNorm } from './native-group-norm.js';
import { makeNativeBatchMatMul, makeNativeFusedMatMul } from './native-matmul.js';
import { makeNativeResidualMlp } from './native-mlp.js';
import { makeNativeOptimizerStep } from './native-optimizer-step.js';

type Maker = (blas: NativeBlas, previous: KernelConfig | undefined) => KernelConfig;

const need = (name: string, k: KernelConfig | undefined): KernelConfig => {
  if (!k) throw new Error(`native kernels: no wasm kernel '${name}' is registered (import '@tensorflow/tfjs-backend-wasm' first)`);
  return k;
};

/** The kernels, by name: how to make each from the addon and the kernel it replaces. */
const MAKERS: Record<string, Maker> = {
  [tf.BatchMatMul]: (blas, prev) => makeNativeBatchMatMul(blas, need(tf.BatchMatMul, prev)),
  [tf._FusedMatMul]: (blas, prev) => makeNativeFusedMatMul(blas, need(tf._FusedMatMul, prev)),
  [tf.Conv2D]: (blas, prev) => makeNativeConv(tf.Conv2D, blas, need(tf.Conv2D, prev)),
  [tf.FusedConv2D]: (blas, prev) => makeNativeConv(tf.FusedConv2D, blas, need(tf.FusedConv2D, prev)),
  [DIFFLAB_KERNELS.conv2dFilterGrad]: (blas) => makeNativeFilterGrad(blas),
  [DIFFLAB_KERNELS.conv2dInputGrad]: (blas) => makeNativeInputGrad(blas),
  [DIFFLAB_KERNELS.conv2dAdd]: (blas) => makeNativeConvAdd(blas),
  [tf.Sin]: (blas, prev) => makeNativeUnary(tf.Sin, blas, need(tf.Sin, prev)),
  [tf.Cos]: (blas, prev) => makeNativeUnary(tf.Cos, blas, need(tf.Cos, prev)),
  [tf.Sum]: (blas, prev) => makeNativeSum(blas, need(tf.Sum, prev)),
  [tf.Add]: (blas, prev) => makeNativeBinary(tf.Add, blas, need(tf.Add, prev)),
  [tf.Multiply]: (blas, prev) => makeNativeBinary(tf.Multiply, blas, need(tf.Multiply, prev)),
  [tf.Sub]: (blas, prev) => makeNativeBinary(tf.Sub, blas, need(tf.Sub, prev)),
  [tf.Transpose]: (blas, prev) => makeNativeTranspose(blas, need(tf.Transpose, prev)),
  [tf.Concat]: (blas, prev) => makeNativeConcat(blas, need(tf.Concat, prev)),
  [tf.Slice]: (blas, prev) => makeNativeSlice(blas, need(tf.Slice, prev)),
  [tf.ResizeNearestNeighbor]: (blas, prev) => makeNativeResizeNearest(blas, need(tf.ResizeNearestNeighbor, prev)),
  [DIFFLAB_KERNELS.gelu]: (blas) => makeNativeGelu(blas)[0],
  [DIFFLAB_KERNELS.geluGrad]: (blas) => makeNativeGelu(blas)[1],
  [DIFFLAB_KERNELS.silu]: (blas) => makeNativeSilu(blas)[0],
  [DIFFLAB_KERNELS.siluGrad]: (blas) => makeNativeSilu(blas)[1],
  [DIFFLAB_KERNELS.groupNorm]: (blas) => makeNativeGroupNorm(blas)[0],
  [DIFFLAB_KERNELS.groupNormGrad]: (blas) => makeNativeGroupNorm(blas)[1],
  [DIFFLAB_KERNELS.groupNormSilu]: (blas) => makeNativeGroupNorm(blas, true)[0],
  [DIFFLAB_KERNELS.groupNormSiluGrad]: (blas) => makeNativeGroupNorm(blas, true)[1],
  [DIFFLAB_KERNELS.layerNorm]: (blas) => makeNativeLayerNorm(blas)[0],
  [DIFFLAB_KERNELS.layerNormGrad]: (blas) => makeNativeLayerNorm(blas)[1],
  [DIFFLAB_KERNELS.sinusoidal]: (blas) => makeNativeSinusoidal(blas),
  [DIFFLAB_KERNELS.adam]: (blas) => makeNativeAdam(blas),
  [DIFFLAB_KERNELS.optimizerStep]: (blas) => makeNativeOptimizerStep(blas),
  [DIFFLAB_KERNELS.residualMlp]: (blas) => makeNativeResidualMlp(blas)[0],
  [DIFFLAB_KERNELS.residualMlpGrad]: (blas) => makeNativeResidualMlp(blas)[1],
  [DIFFLAB_KERNELS.attention]: (blas) => makeNativeAttention(blas)[0],
  [DIFFLAB_KERNELS.attentionGrad]: (blas) => makeNativeAttention(blas)[1],
};

/** The kernel names `registerNativeKernels` registers. */
export const NATIVE_KERNELS = Object.keys(MAKERS);

const replaced = new Map<string, KernelConfig | undefined>();
let active: NativeBlas | null = null;

const isOurs = isNativeKernel;

/**
 * Register the native kernels for 'wasm' (idempotent; call after `registerWasmSpeedKernels`,
 * whose kernels become the fallbacks). Returns the names registered by this call.
 */
export function registerNativeKernels(blas: NativeBlas): string[] {
  const done: string[] = [];
  for (const [name, make] of Object.entries(MAKERS)) {
    const cur = tf.getKernel(name, 'wasm');
    if (isOurs(cur)) continue;
    const k = make(blas, cur);
    (k.kernelFunc as unknown as Record<symbol, unknown>)[NATIVE_KERNEL_MARK] = true;
    replaced.set(name, cur);
    if (cur) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, setupFunc: k.setupFunc ?? cur?.setupFunc });
    done.push(name);
  }
  active = blas;
  return done;
}

/** Put back the kernels `registerNativeKernels` replaced; returns the addon that was in use, if any. */
export function unregisterNativeKernels(): NativeBlas | null {
  const was = active;
  active = null;
  for (const [name, prev] of replaced) {
    if (!isOurs(tf.getKernel(name, 'wasm'))) continue;
    tf.unregisterKernel(name, 'wasm');
    if (prev) tf.registerKernel(prev);
  }
  replaced.clear();
  return was;
}

/** Whether the wasm backend's matmuls run on the native addon now. */
export function nativeKernelsActive(): boolean {
  return isOurs(tf.getKernel(tf.BatchMatMul, 'wasm'));
}
