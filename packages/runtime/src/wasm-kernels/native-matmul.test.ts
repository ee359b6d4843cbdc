import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxDiff, NATIVE, NATIVE_SKIP_REASON, values } from '../testing/native.js';
import type { NativeBlas } from './native-blas.js';
import { nativeKernelsActive, registerNativeKernels, unregisterNativeKernels } from './native-kernels.js';
import { registerWasmSpeedKernels, unregisterWasmSpeedKernels } from './speed-kernels.js';

// difflab-blas (native/blas.c) is built by `npm run build` where gcc and libopenblas-dev exist;
// without it these tests say why and skip (the WebAssembly kernels are tested in speed-kernels).
const blas = NATIVE.blas;

/** float64 reference of op(A) op(B) (+ bias) (relu) for [batch, ., .] arrays (batch 1 broadcasts). */
function reference(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], ta: boolean, tb: boolean, bias?: Float32Array, relu = false): number[] {
  const ba = aShape.length > 2 ? aShape[0] : 1;
  const bb = bShape.length > 2 ? bShape[0] : 1;
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  const batch = Math.max(ba, bb);
  const out: number[] = [];
  for (let i = 0; i < batch; i++) {
    const ao = ba === 1 ? 0 : i * m * k;
    const bo = bb === 1 ? 0 : i * k * n;
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let s = bias ? bias[c] : 0;
        for (let p = 0; p < k; p++) s += a[ao + (ta ? p * m + r : r * k + p)] * b[bo + (tb ? c * k + p : p * n + c)];
        out.push(relu ? Math.max(0, s) : s);
      }
    }
  }
  return out;
}

describe.skipIf(NATIVE_SKIP_REASON)('native OpenBLAS matmul kernels on wasm', () => {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('wasm');
    registerWasmSpeedKernels();
    registerNativeKernels(blas as NativeBlas);
  });
  afterAll(async () => {
    unregisterWasmSpeedKernels();
    await tf.setBackend(previous);
  });

  it('is the active BatchMatMul, and survives re-registering the speed kernels', () => {
    expect(nativeKernelsActive()).toBe(true);
    registerWasmSpeedKernels();
    expect(nativeKernelsActive()).toBe(true);
    expect(blas?.info().corename.length).toBeGreaterThan(0);
  });

  const cases: [string, number[], number[], boolean, boolean][] = [
    ['plain 2-D', [37, 53], [53, 29], false, false],
    ['transposeA', [53, 37], [53, 29], true, false],
    ['transposeB', [37, 53], [29, 53], false, true],
    ['both transposed', [53, 37], [29, 53], true, true],
    ['batched', [3, 17, 11], [3, 11, 13], false, false],
    ['batched, B broadcast', [4, 11, 17], [1, 11, 9], true, false],
    ['batched, A broadcast, transposeB', [1, 9, 11], [5, 7, 11], false, true],
    ['k = 1 (outer product)', [64, 1], [1, 48], false, false],
  ];
  for (const [name, aShape, bShape, ta, tb] of cases) {
    it(`BatchMatMul ${name} ${JSON.stringify(aShape)} x ${JSON.stringify(bShape)} equals the float64 product`, () => {
      const av = values(aShape.reduce((x, y) => x * y), 1);
      const bv = values(bShape.reduce((x, y) => x * y), 2);
      const before = tf.memory().numTensors;
      const y = tf.tidy(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
      const want = reference(av, aShape, bv, bShape, ta, tb);
      expect(maxDiff(y.dataSync(), want)).toBeLessThan(1e-4);
      const m = ta ? aShape[aShape.length - 1] : aShape[aShape.length - 2];
      const n = tb ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
      expect(y.shape.slice(-2)).toEqual([m, n]);
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('_FusedMatMul applies a bias row and relu in the same call', () => {
    const av = values(40 * 24, 3);
    const bv = values(24 * 16, 4);
    const bias = values(16, 5);
    const y = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(av, [40, 24]), b: tf.tensor2d(bv, [16, 24]), transposeB: true, bias: tf.tensor1d(bias), activation: 'relu' }));
    const want = reference(av, [40, 24], bv, [16, 24], false, true, bias, true);
    expect(maxDiff(y.dataSync(), want)).toBeLessThan(1e-4);
    expect(Math.min(...y.dataSync())).toBe(0);
    y.dispose();
  });

  it('_FusedMatMul with another activation falls back to the WebAssembly kernel (same values)', () => {
    const av = values(12 * 8, 6);
    const bv = values(8 * 5, 7);
    const y = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(av, [12, 8]), b: tf.tensor2d(bv, [8, 5]), activation: 'elu' }));
    const lin = reference(av, [12, 8], bv, [8, 5], false, false);
    expect(maxDiff(y.dataSync(), lin.map((v) => (v > 0 ? v : Math.exp(v) - 1)))).toBeLessThan(1e-4);
    y.dispose();
  });

  it('keeps the tensor count flat over many products, and matches its own result exactly (deterministic)', () => {
    const a = tf.tensor2d(values(128 * 256, 8), [128, 256]);
    const b = tf.tensor2d(values(128 * 128, 9), [128, 128]);
    const first = tf.tidy(() => tf.matMul(a, b, true, false).dataSync().slice());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) tf.tidy(() => {
      tf.matMul(a, b, true, false);
    });
    expect(tf.memory().numTensors).toBe(before);
    const again = tf.tidy(() => tf.matMul(a, b, true, false).dataSync().slice());
    expect(maxDiff(again, first)).toBe(0);
    tf.dispose([a, b]);
  });

  it('refuses an operand outside the heap with a one-line RangeError (nothing written)', () => {
    const heap = new Float32Array(100);
    expect(() => blas?.gemm(heap, 0, 1, 8, 8, 8, 0, 0, 64, 0, 0, -1, 0)).toThrow(/difflab-blas gemm: an operand lies outside the heap/);
    expect(() => blas?.gemm(heap, 0, 2, 4, 4, 4, 0, 16, 32, 0, 90, -1, 0)).toThrow(RangeError);
    expect(heap.every((v) => v === 0)).toBe(true);
    expect(() => blas?.gemm(new Float64Array(10) as unknown as Float32Array, 0, 1, 1, 1, 1, 0, 0, 1, 0, 2, -1, 0)).toThrow(/must be a Float32Array/);
  });

  it('unregisters back to the WebAssembly kernel', () => {
    expect(unregisterNativeKernels()).toBe(blas);
    expect(nativeKernelsActive()).toBe(false);
    const y = tf.tidy(() => tf.matMul(tf.tensor2d(values(6, 1), [2, 3]), tf.tensor2d(values(6, 2), [3, 2])));
    expect(maxDiff(y.dataSync(), reference(values(6, 1), [2, 3], values(6, 2), [3, 2], false, false))).toBeLessThan(1e-5);
    y.dispose();
    registerNativeKernels(blas as NativeBlas);
    expect(nativeKernelsActive()).toBe(true);
  });
});
