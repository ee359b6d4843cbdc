import { DIFFLAB_KERNELS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { NATIVE, NATIVE_SKIP_REASON, useNativeKernels, values } from '../testing/native.js';
import type { NativeBlas } from './native-blas.js';

// DifflabAttention / DifflabAttentionGrad on difflab-blas (native/attention.c) against a float64
// multi-head attention written from the definition (q, k, v read from qkv's (3, heads, d)
// columns; softmax(q k^T / sqrt(d)) v per sample and head), and the gradient against central
// finite differences of that float64 pass for the loss sum(out * r).

function refAttention(qkv: ArrayLike<number>, B: number, N: number, heads: number, d: number): { out: Float64Array; weights: Float64Array } {
  const W = heads * d;
  const out = new Float64Array(B * N * W);
  const weights = new Float64Array(B * heads * N * N);
  const at = (b: number, n: number, which: number, h: number, j: number) => qkv[(b * N + n) * 3 * W + which * W + h * d + j];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < N; i++) {
        const s = new Float64Array(N);
        for (let k = 0; k < N; k++) {
          let dot = 0;
          for (let j = 0; j < d; j++) dot += at(b, i, 0, h, j) * at(b, k, 1, h, j);
          s[k] = dot / Math.sqrt(d);
        }
        const mx = Math.max(...s);
        let sum = 0;
        for (let k = 0; k < N; k++) sum += Math.exp(s[k] - mx);
        for (let k = 0; k < N; k++) {
          const p = Math.exp(s[k] - mx) / sum;
          weights[((b * heads + h) * N + i) * N + k] = p;
          for (let j = 0; j < d; j++) out[(b * N + i) * W + h * d + j] += p * at(b, k, 2, h, j);
        }
      }
  return { out, weights };
}

function run(qkv: Float32Array, B: number, N: number, heads: number, d: number, r: Float32Array) {
  const outs = tf.tidy(() => {
    const q = tf.tensor2d(qkv, [B * N, 3 * heads * d]);
    const [out, weights] = tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv: q }, { batch: B, heads }) as unknown as tf.Tensor[];
    const dqkv = tf.engine().runKernel(DIFFLAB_KERNELS.attentionGrad, { dy: tf.tensor2d(r, [B * N, heads * d]), qkv: q, weights }, { batch: B, heads }) as unknown as tf.Tensor;
    return [out, weights, dqkv];
  });
  // read back outside tidy (tidy walks a returned typed array's every index)
  const data = outs.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  tf.dispose(outs);
  return data;
}

describe.skipIf(NATIVE_SKIP_REASON)('native attention kernels on wasm', () => {
  useNativeKernels();

  for (const [B, N, heads, d] of [
    [2, 5, 1, 3],
    [3, 4, 4, 2],
    [1, 7, 2, 5],
  ]) {
    it(`B ${B}, ${N} tokens, ${heads} head(s) of ${d}: out and weights equal the float64 definition; dqkv equals finite differences`, () => {
      const W = heads * d;
      const qkv = values(B * N * 3 * W, 3, 1.5);
      const r = values(B * N * W, 4);
      const before = tf.memory().numTensors;
      const [out, weights, dqkv] = run(qkv, B, N, heads, d, r);
      expect(tf.memory().numTensors).toBe(before);
      expect(out.shape).toEqual([B * N, W]);
      expect(weights.shape).toEqual([B * heads, N, N]);
      expect(dqkv.shape).toEqual([B * N, 3 * W]);
      const want = refAttention(qkv, B, N, heads, d);
      for (let i = 0; i < want.out.length; i++) expect(Math.abs(out.data[i] - want.out[i])).toBeLessThan(1e-5);
      for (let i = 0; i < want.weights.length; i++) expect(Math.abs(weights.data[i] - want.weights[i])).toBeLessThan(1e-6);
      const loss = (q: ArrayLike<number>) => refAttention(q, B, N, heads, d).out.reduce((s, v, i) => s + v * r[i], 0);
      const v = Float64Array.from(qkv);
      const h = 1e-5;
      for (let i = 0; i < v.length; i++) {
        v[i] = qkv[i] + h;
        const up = loss(v);
        v[i] = qkv[i] - h;
        const down = loss(v);
        v[i] = qkv[i];
        const fd = (up - down) / (2 * h);
        expect(Math.abs(dqkv.data[i] - fd), `dqkv[${i}]`).toBeLessThan(2e-4 * Math.max(1, Math.abs(fd)));
      }
    });
  }

  it('splits (sample, head) pairs over two threads with one thread\'s bits', () => {
    const blas = NATIVE.blas as NativeBlas;
    const threads = blas.info().threads;
    const [B, N, heads, d] = [16, 49, 4, 32];
    const qkv = values(B * N * 3 * heads * d, 5);
    const r = values(B * N * heads * d, 6);
    const withThreads = (t: number) => {
      blas.setThreads(t);
      try {
        return run(qkv, B, N, heads, d, r);
      } finally {
        blas.setThreads(threads);
      }
    };
    const one = withThreads(1);
    const two = withThreads(2);
    one.forEach((o, i) => {
      let differ = 0;
      for (let j = 0; j < o.data.length; j++) if (!Object.is(o.data[j], two[i].data[j])) differ++;
      expect(differ, ['out', 'weights', 'dqkv'][i]).toBe(0);
    });
    const want = refAttention(qkv, B, N, heads, d);
    let worst = 0;
    for (let i = 0; i < want.out.length; i++) worst = Math.max(worst, Math.abs(two[0].data[i] - want.out[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  it('rejects qkv that is not 3 x heads x d wide and a batch that does not divide its rows, in one line', () => {
    const qkv = tf.zeros([6, 12]);
    const call = (batch: number, heads: number) => () => tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv }, { batch, heads });
    expect(call(4, 1)).toThrow(/^DifflabAttention: batch must be a whole number dividing the 6 rows of qkv, got 4$/);
    expect(call(2, 5)).toThrow(/^DifflabAttention: qkv's 12 columns must be 3 x heads x d, got heads 5$/);
    qkv.dispose();
  });
});
