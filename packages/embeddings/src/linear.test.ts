import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LinearTimestepEmbedding, linearTimestepEmbedding } from './linear.js';

describe('linear timestep embedding', () => {
  it('is t / T * scale as [B, 1]', () => {
    const out = linearTimestepEmbedding([0, 25, 49], 50, 2);
    expect(out.shape).toEqual([3, 1]);
    const v = out.dataSync();
    expect(v[0]).toBe(0);
    expect(v[1]).toBeCloseTo(1, 6);
    expect(v[2]).toBeCloseTo(1.96, 6);
    out.dispose();
  });

  it('class has dim 1, no variables, no leaks', () => {
    const emb = new LinearTimestepEmbedding(1000);
    expect(emb.dim).toBe(1);
    expect(emb.trainableVariables).toEqual([]);
    const t = tf.tensor1d([500]);
    const before = tf.memory().numTensors;
    const out = emb.embed(t);
    expect(out.dataSync()[0]).toBeCloseTo(0.5, 6);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });
});
