// Test helpers for the models' fused-kernel paths (DIFFLAB_KERNELS registered by @difflab/runtime); not built.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Whether every named kernel is registered for the current backend. */
export function hasKernels(names: readonly string[]): boolean {
  return names.every((k) => tf.getKernel(k, tf.getBackend()) !== undefined);
}

/** fn() with the named kernels unregistered for the current backend (the op-by-op path), registered again after. */
export function withoutKernels<T>(names: readonly string[], fn: () => T): T {
  const backend = tf.getBackend();
  const configs = names.map((k) => tf.getKernel(k, backend) as tf.KernelConfig);
  for (const k of names) tf.unregisterKernel(k, backend);
  try {
    return fn();
  } finally {
    for (const c of configs) tf.registerKernel(c);
  }
}

/**
 * Runs `outputs` (tensors: outputs, losses, gradients) with the named kernels and without them and
 * expects the same numbers: |fused - ops| < tol * max(1, max |ops|) per output tensor.
 */
export function expectSameWithoutKernels(names: readonly string[], outputs: () => tf.Tensor[], tol: number, label = ''): void {
  const read = () => {
    const ts = tf.tidy(outputs);
    // read back outside tidy (tidy walks a returned typed array's every index)
    const data = ts.map((t) => Array.from(t.dataSync()));
    tf.dispose(ts);
    return data;
  };
  const fused = read();
  const ops = withoutKernels(names, read);
  expect(fused.length).toBe(ops.length);
  for (let i = 0; i < fused.length; i++) {
    expect(fused[i].length).toBe(ops[i].length);
    let scale = 1;
    for (const v of ops[i]) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    for (let j = 0; j < fused[i].length; j++) worst = Math.max(worst, Math.abs(fused[i][j] - ops[i][j]));
    expect(worst, `${label} output ${i}`).toBeLessThan(tol * scale);
  }
}
