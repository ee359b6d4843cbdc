import * as tf from '@tensorflow/tfjs-core';

/**
 * Read a tensor back and dispose it. Never return typed arrays from `tf.tidy`: tidy walks every
 * element of its result looking for tensors, which is very slow for large arrays.
 * Synchronous: only for CPU backends (wasm, cpu); jobs use `readAsync`.
 */
export function readAndDispose(t: tf.Tensor): Float32Array {
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}

/**
 * Read a tensor back asynchronously and dispose it. On WebGPU in Node a synchronous read is
 * impossible (tfjs' readSync needs an OffscreenCanvas), so every job reads with this.
 */
export async function readAsync(t: tf.Tensor): Promise<Float32Array> {
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
}

/**
 * Fetch the values of tensors to the CPU side, so that later synchronous reads of the same
 * tensors (dataSync inside a library) work on every backend (WebGPU caches what it read).
 */
export async function settle(ts: readonly tf.Tensor[]): Promise<void> {
  await Promise.all(ts.map((t) => t.data()));
}

/** Backends that cannot read synchronously: work that reads a lot is moved to wasm for them. */
const ASYNC_ONLY = new Set(['webgpu', 'webgl']);

/**
 * Run CPU-side work (metrics, statistics) on the wasm backend when the current backend is a GPU
 * one, then switch back. Tensors made inside `fn` must be disposed inside it; pass data in as
 * typed arrays.
 */
export async function onCpuBackend<T>(fn: () => T | Promise<T>): Promise<T> {
  const prev = tf.getBackend();
  if (!ASYNC_ONLY.has(prev)) return fn();
  if (!tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  try {
    return await fn();
  } finally {
    await tf.setBackend(prev);
  }
}
