import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { randomDirections, SlicedW2, w2SquaredSorted1D } from './sliced-w2.js';

function gaussian(n: number, mean: number[], rng: Rng): tf.Tensor2D {
  const d = mean.length;
  const v = rng.normalArray(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) v[i * d + k] += mean[k];
  return tf.tensor2d(v, [n, d]);
}

describe('w2SquaredSorted1D', () => {
  it('matches hand-computed quantile integrals', () => {
    expect(w2SquaredSorted1D([0, 1], [0, 1])).toBe(0);
    // (F^-1 - 0.5)^2 = 0.25 on both halves.
    expect(w2SquaredSorted1D([0, 1], [0.5])).toBeCloseTo(0.25, 12);
    // Levels (0,1/3] 0-0, (1/3,1/2] 1-0, (1/2,2/3] 1-3, (2/3,1] 2-3: 1/6 + 4/6 + 2/6.
    expect(w2SquaredSorted1D([0, 1, 2], [0, 3])).toBeCloseTo(7 / 6, 12);
    // Equal sizes: mean squared difference of sorted values.
    expect(w2SquaredSorted1D([1, 2, 4], [0, 2, 7])).toBeCloseTo((1 + 0 + 9) / 3, 12);
  });

  it('equals the equal-size formula after replicating each atom (n != m)', () => {
    const rng = new Rng(3);
    const a = Float64Array.from(rng.normalArray(7)).sort();
    const b = Float64Array.from(rng.normalArray(5, 0.4, 2)).sort();
    // Replicate a's atoms 5 times and b's 7 times: both become 35 equal-weight atoms.
    const ar = Float64Array.from({ length: 35 }, (_, k) => a[Math.floor(k / 5)]);
    const br = Float64Array.from({ length: 35 }, (_, k) => b[Math.floor(k / 7)]);
    let ref = 0;
    for (let k = 0; k < 35; k++) ref += (ar[k] - br[k]) ** 2;
    expect(w2SquaredSorted1D(a, b)).toBeCloseTo(ref / 35, 10);
  });
});

describe('randomDirections', () => {
  it('draws unit vectors, deterministically from the rng', () => {
    const a = randomDirections(10, 3, new Rng(1));
    const b = randomDirections(10, 3, new Rng(1));
    expect(Array.from(a)).toEqual(Array.from(b));
    for (let p = 0; p < 10; p++) expect(Math.hypot(a[3 * p], a[3 * p + 1], a[3 * p + 2])).toBeCloseTo(1, 6);
  });
});

describe('SlicedW2', () => {
  it('computeAsync gives the same value as compute (same directions) and leaks no tensors', async () => {
    const a = tf.randomNormal([300, 2], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([200, 2], 0.5, 1, 'float32', 2) as tf.Tensor2D;
    const sw = new SlicedW2({ projections: 64 });
    const sync = sw.compute(a, b, new Rng(3));
    const before = tf.memory().numTensors;
    const async_ = await sw.computeAsync(a, b, new Rng(3));
    expect(tf.memory().numTensors).toBe(before);
    expect(async_).toBe(sync);
    expect(sync).toBeGreaterThan(0.2);
    tf.dispose([a, b]);
  });

  it('is exactly 0 for the same array', () => {
    const x = gaussian(500, [0.3, -1, 2], new Rng(1));
    expect(new SlicedW2().compute(x, x)).toBe(0);
    x.dispose();
  });

  it('approaches |mu| / sqrt(2) for N(0, I) vs N(mu, I) in 2-D', () => {
    const rng = new Rng(11);
    const mu = [1.5, -0.8];
    const x = gaussian(4000, [0, 0], rng);
    const y = gaussian(4000, mu, rng);
    const sw = new SlicedW2({ projections: 1000 }).compute(x, y, rng);
    const expected = Math.hypot(mu[0], mu[1]) / Math.SQRT2;
    expect(Math.abs(sw - expected) / expected).toBeLessThan(0.05);
    tf.dispose([x, y]);
  });

  it('in 1-D equals W2 of the sorted sets, also for different sizes', () => {
    const rng = new Rng(5);
    const x = gaussian(301, [0], rng);
    const y = gaussian(200, [0.7], rng);
    const a = Float64Array.from(x.dataSync()).sort();
    const b = Float64Array.from(y.dataSync()).sort();
    // Directions are +-1 in 1-D and W2 is invariant under reflecting both sets.
    expect(new SlicedW2({ projections: 8 }).compute(x, y)).toBeCloseTo(Math.sqrt(w2SquaredSorted1D(a, b)), 5);
    tf.dispose([x, y]);
  });

  it('is deterministic under a seed and varies with it', () => {
    const rng = new Rng(2);
    const x = gaussian(300, [0, 0, 0], rng);
    const y = gaussian(200, [0.5, 0, 0], rng);
    const m = new SlicedW2({ projections: 16, seed: 4 });
    const v1 = m.compute(x, y);
    expect(m.compute(x, y)).toBe(v1);
    expect(m.compute(x, y, new Rng(9))).toBe(m.compute(x, y, new Rng(9)));
    expect(new SlicedW2({ projections: 16, seed: 5 }).compute(x, y)).not.toBe(v1);
    tf.dispose([x, y]);
  });

  it('rejects mismatched shapes and bad options', () => {
    const a = tf.zeros([4, 2]) as tf.Tensor2D;
    const b = tf.zeros([4, 3]) as tf.Tensor2D;
    const c = tf.zeros([4]) as unknown as tf.Tensor2D;
    const m = new SlicedW2();
    expect(() => m.compute(a, b)).toThrow(ConfigError);
    expect(() => m.compute(a, b)).toThrow(/d = 2 columns, reference has d = 3/);
    expect(() => m.compute(c, a)).toThrow(/point cloud \[n, d\]/);
    expect(() => new SlicedW2({ projections: 0 })).toThrow(/metric\.sliced-w2\.options\.projections/);
    expect(() => new SlicedW2({ nope: 1 } as never)).toThrow(/unknown option\(s\) 'nope'/);
    tf.dispose([a, b, c]);
  });

  it('leaks no tensors', () => {
    const rng = new Rng(0);
    const x = gaussian(100, [0, 0], rng);
    const y = gaussian(80, [1, 0], rng);
    const before = tf.memory().numTensors;
    new SlicedW2({ projections: 32 }).compute(x, y, rng);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});
