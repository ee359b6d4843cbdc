import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { IdentityInputEmbedding } from './input-identity.js';

describe('identity input embedding', () => {
  it('returns a copy of x with outDim = inDim', () => {
    const emb = new IdentityInputEmbedding();
    expect(emb.inDim).toBe(2);
    expect(emb.outDim).toBe(2);
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const before = tf.memory().numTensors;
    const out = emb.embed(x);
    expect(out).not.toBe(x);
    out.dispose();
    expect(x.isDisposed).toBe(false);
    expect(x.arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(tf.memory().numTensors).toBe(before);
    const bad = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => emb.embed(bad)).toThrow(/\[B, 2\]/);
    tf.dispose([x, bad]);
  });
});
