import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradient functions; training code loads them once at its entry.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { describe, expect, it } from 'vitest';
import { LearnableTimestepEmbedding, learnableTimestepEmbedding } from './learnable.js';

describe('learnable timestep embedding', () => {
  it('has a [T, dim] table as its only variable, seeded', () => {
    const before = tf.memory().numTensors;
    const a = new LearnableTimestepEmbedding(10, { dim: 4, seed: 3 });
    const b = new LearnableTimestepEmbedding(10, { dim: 4, seed: 3 });
    const c = new LearnableTimestepEmbedding(10, { dim: 4, seed: 4 });
    expect(a.trainableVariables).toHaveLength(1);
    expect(a.table.shape).toEqual([10, 4]);
    expect(a.table.trainable).toBe(true);
    expect(Array.from(a.table.dataSync())).toEqual(Array.from(b.table.dataSync()));
    expect(Array.from(a.table.dataSync())).not.toEqual(Array.from(c.table.dataSync()));
    // small init: std 0.02
    const vals = a.table.dataSync();
    expect(Math.max(...Array.from(vals, Math.abs))).toBeLessThan(0.1);
    a.dispose();
    b.dispose();
    c.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('looks up rows; fractional t rounds to nearest; out-of-range t clamps', () => {
    const table = tf.tensor2d([[0, 0], [1, 10], [2, 20], [3, 30]]);
    const out = learnableTimestepEmbedding(table, [2, 0.4, 0.6, 2.5, -3, 9]);
    expect(out.arraySync()).toEqual([[2, 20], [0, 0], [1, 10], [3, 30], [0, 0], [3, 30]]);
    out.dispose();
    table.dispose();
  });

  it('gradient flows into the rows that were used', () => {
    const emb = new LearnableTimestepEmbedding(5, { dim: 3, seed: 1 });
    const t = tf.tensor1d([1, 3, 3]);
    const { value, grads } = tf.variableGrads(() => tf.sum(emb.embed(t)) as tf.Scalar, emb.trainableVariables);
    const g = grads[emb.table.name];
    expect(g.arraySync()).toEqual([[0, 0, 0], [1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 0, 0]]);
    value.dispose();
    g.dispose();
    t.dispose();
    emb.dispose();
  });

  it('embed does not leak', () => {
    const emb = new LearnableTimestepEmbedding(50, { dim: 8 });
    const t = tf.tensor1d([0, 49, 12.3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) emb.embed(t).dispose();
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
    emb.dispose();
  });

  it('rejects a bad T', () => {
    expect(() => new LearnableTimestepEmbedding(0)).toThrow(/numTrainTimesteps/);
  });
});
