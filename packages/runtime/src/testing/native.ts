// Test helpers shared by the native-kernel tests (wasm-kernels/native-*.test.ts); not built.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { loadNativeBlas, type NativeBlas } from '../wasm-kernels/native-blas.js';
import { registerNativeKernels, unregisterNativeKernels } from '../wasm-kernels/native-kernels.js';

/** The addon where `npm run build` built it; otherwise the reason, for `describe.skipIf`. */
export const NATIVE = await loadNativeBlas();
export const NATIVE_SKIP_REASON: string | false = NATIVE.blas ? false : NATIVE.note;

/** In the calling describe block: the wasm backend with the native kernels, restored afterwards. */
export function useNativeKernels(): void {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('wasm');
    registerNativeKernels(NATIVE.blas as NativeBlas);
  });
  afterAll(async () => {
    unregisterNativeKernels();
    await tf.setBackend(previous);
  });
}

/** A deterministic float32 sequence in [-scale + shift, scale + shift). */
export function values(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale + shift;
  }
  return out;
}

/** The largest |got - want| (lengths must agree). */
export function maxDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  return d;
}

/** |got - want| (want exact, float64) in units in the last place of the float32 value nearest `want`. */
export function ulps(got: number, want: number): number {
  const w = Math.fround(want);
  if (got === w || (Number.isNaN(got) && Number.isNaN(w))) return 0;
  if (!Number.isFinite(w) || !Number.isFinite(got)) return Number.POSITIVE_INFINITY;
  const e = w === 0 ? -149 : Math.max(-149, Math.floor(Math.log2(Math.abs(w))) - 23);
  return Math.abs(got - want) / 2 ** e;
}

/**
 * The tensors `outputs` makes (in a tidy), read back as float32 copies, with the addon on `threads`
 * threads (its thread count restored after): for "one thread's bits on two" tests.
 */
export function onThreads(threads: number, outputs: () => tf.Tensor[]): Float32Array[] {
  const blas = NATIVE.blas as NativeBlas;
  const was = blas.info().threads;
  blas.setThreads(threads);
  try {
    const outs = tf.tidy(outputs);
    // read back outside tidy (tidy walks a returned typed array's every index)
    const data = outs.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(outs);
    return data;
  } finally {
    blas.setThreads(was);
  }
}
