import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { startBackend } from './start-backend.js';
import { countPrograms, hasSwiftShader, lcgValues, SWIFTSHADER_SKIP_REASON } from './testing/swiftshader.js';

// DifflabAttention / DifflabAttentionGrad on webgpu (Dawn + SwiftShader) against the op-by-op
// composite (split, head transposes, softmax(q s k^T) v, merge) and its tfjs gradient on cpu.

/** The composite on qkv [B N, 3 W]: out [B N, W] and the weights [B heads, N, N]. */
function composite(qkv: tf.Tensor2D, B: number, heads: number): { out: tf.Tensor2D; weights: tf.Tensor3D } {
  const [rows, cols] = qkv.shape;
  const N = rows / B;
  const W = cols / 3;
  const d = W / heads;
  const toHeads = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [B, N, heads, d]), [0, 2, 1, 3]), [B * heads, N, d]) as tf.Tensor3D;
  const [q, k, v] = tf.split(qkv, 3, 1).map(toHeads);
  const weights = tf.softmax(tf.matMul(tf.mul(q, 1 / Math.sqrt(d)), k, false, true)) as tf.Tensor3D;
  const o = tf.matMul(weights, v);
  return { out: tf.reshape(tf.transpose(tf.reshape(o, [B, heads, N, d]), [0, 2, 1, 3]), [B * N, W]) as tf.Tensor2D, weights };
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let scale = 1e-12;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / scale;
}

afterAll(async () => {
  await startBackend('wasm');
});

describe('DifflabAttention / DifflabAttentionGrad on webgpu (Dawn + SwiftShader)', () => {
  const cases = [
    { name: 'tiny', B: 2, N: 7, heads: 2, d: 4 },
    { name: "the patch transformer's block (49 tokens, 4 heads of 32)", B: 2, N: 49, heads: 4, d: 32 },
    { name: 'one head', B: 3, N: 5, heads: 1, d: 8 },
  ];
  for (const c of cases) {
    it(`${c.name}: out, weights and dqkv equal the composite and its cpu gradient within 1e-5; 2 programs each way, no leaks`, async (ctx) => {
      ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
      const W = c.heads * c.d;
      const rows = c.B * c.N;
      // scores of a few units: a softmax that is neither flat nor one-hot
      const qkvv = lcgValues(rows * 3 * W, 3).map((v) => 1.5 * v);
      const dyv = lcgValues(rows * W, 4);
      await startBackend('cpu');
      const ref = tf.tidy(() => {
        const qkv = tf.tensor2d(qkvv, [rows, 3 * W]);
        const dy = tf.tensor2d(dyv, [rows, W]);
        const { out, weights } = composite(qkv, c.B, c.heads);
        const dqkv = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(composite(x as tf.Tensor2D, c.B, c.heads).out, dy)))(qkv);
        return [out, weights, dqkv].map((t) => Array.from(t.dataSync()));
      });
      await startBackend('webgpu');
      const before = tf.memory().numTensors;
      const qkv = tf.tensor2d(qkvv, [rows, 3 * W]);
      const dy = tf.tensor2d(dyv, [rows, W]);
      const attrs = { batch: c.B, heads: c.heads };
      const fwd = countPrograms(() => tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv }, attrs) as unknown as tf.Tensor[]);
      const [out, weights] = fwd.result;
      const bwd = countPrograms(() => tf.engine().runKernel(DIFFLAB_KERNELS.attentionGrad, { dy, qkv, weights }, attrs) as unknown as tf.Tensor);
      const dqkv = bwd.result;
      expect([fwd.programs, bwd.programs]).toEqual([1, 2]);
      expect(out.shape).toEqual([rows, W]);
      expect(weights.shape).toEqual([c.B * c.heads, c.N, c.N]);
      expect(dqkv.shape).toEqual([rows, 3 * W]);
      const got = [await out.data(), await weights.data(), await dqkv.data()];
      for (const [i, what] of ['out', 'weights', 'dqkv'].entries()) expect(relErr(got[i], ref[i]), what).toBeLessThan(1e-5);
      tf.dispose([out, weights, dqkv, qkv, dy]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('refuses a batch or head count that does not fit qkv with one line', async (ctx) => {
    ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
    await startBackend('webgpu');
    const qkv = tf.zeros([6, 24]);
    expect(() => tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv }, { batch: 4, heads: 2 })).toThrow("DifflabAttention: batch must divide qkv's 6 rows, got 4");
    expect(() => tf.engine().runKernel(DIFFLAB_KERNELS.attention, { qkv }, { batch: 2, heads: 5 })).toThrow("DifflabAttention: qkv's 24 columns must be 3 heads d, got heads 5");
    const w = tf.zeros([4, 3, 3]);
    expect(() => tf.engine().runKernel(DIFFLAB_KERNELS.attentionGrad, { dy: tf.zeros([6, 7]), qkv, weights: w }, { batch: 2, heads: 2 })).toThrow('DifflabAttentionGrad: dy must be [6, 8], got [6,7]');
    tf.dispose([qkv, w]);
  });
});
