import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ZeroTimestepEmbedding, zeroTimestepEmbedding } from './zero.js';

describe('zero timestep embedding', () => {
  it('returns zeros [B, dim]; default dim 1', () => {
    const emb = new ZeroTimestepEmbedding();
    expect(emb.dim).toBe(1);
    const t = tf.tensor1d([3, 7]);
    const before = tf.memory().numTensors;
    const out = emb.embed(t);
    expect(out.arraySync()).toEqual([[0], [0]]);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
    const wide = zeroTimestepEmbedding([1, 2, 3], 4);
    expect(wide.shape).toEqual([3, 4]);
    expect(Array.from(wide.dataSync()).every((v) => v === 0)).toBe(true);
    wide.dispose();
  });
});
