import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SinusoidalInputEmbedding, sinusoidalInputEmbedding } from './input-sinusoidal.js';

describe('sinusoidal input embedding (tiny-diffusion)', () => {
  it('defaults: inDim 2, 128 per coordinate -> outDim 256', () => {
    const emb = new SinusoidalInputEmbedding();
    expect(emb.inDim).toBe(2);
    expect(emb.outDim).toBe(256);
    const x = tf.tensor2d([[0, 0], [0.1, -0.2]]);
    const before = tf.memory().numTensors;
    const out = emb.embed(x);
    expect(out.shape).toEqual([2, 256]);
    const [r0] = out.arraySync();
    // origin: each coordinate block is [0 x64, 1 x64]
    const block = [...new Array(64).fill(0), ...new Array(64).fill(1)];
    expect(r0).toEqual([...block, ...block]);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('each coordinate block is sin/cos of 25 x freq, in coordinate order', () => {
    // dim 4: freqs [1, 1e-4]; scale 25
    const x = tf.tensor2d([[0.1, -0.2]]);
    const out = sinusoidalInputEmbedding(x, 4);
    const [r] = out.arraySync();
    const f = (v: number) => [Math.sin(25 * v), Math.sin(25e-4 * v), Math.cos(25 * v), Math.cos(25e-4 * v)];
    const want = [...f(0.1), ...f(-0.2)];
    for (let k = 0; k < 8; k++) expect(r[k]).toBeCloseTo(want[k], 5);
    out.dispose();
    x.dispose();
  });

  it('rejects the wrong number of coordinates', () => {
    const emb = new SinusoidalInputEmbedding({ inDim: 3, dim: 4 });
    expect(emb.outDim).toBe(12);
    const x = tf.zeros([2, 2]) as tf.Tensor2D;
    expect(() => emb.embed(x)).toThrow(/\[B, 3\]/);
    x.dispose();
  });
});
