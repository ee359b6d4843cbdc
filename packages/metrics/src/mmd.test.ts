import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { RbfMmd } from './mmd.js';

function gaussian(n: number, mean: number[], rng: Rng, std = 1): tf.Tensor2D {
  const d = mean.length;
  const v = rng.normalArray(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) v[i * d + k] = mean[k] + std * v[i * d + k];
  return tf.tensor2d(v, [n, d]);
}

/** Gretton et al. 2012, Eq. 3, in float64 straight from the definition. */
function naiveMmd2(x: Float32Array, y: Float32Array, d: number, sigmas: number[]): number {
  const n = x.length / d;
  const m = y.length / d;
  const k = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s2 = 0;
    for (let c = 0; c < d; c++) s2 += (a[i * d + c] - b[j * d + c]) ** 2;
    return sigmas.reduce((acc, s) => acc + Math.exp(-s2 / (2 * s * s)), 0);
  };
  let sxx = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) sxx += k(x, i, x, j);
  let syy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) syy += k(y, i, y, j);
  let sxy = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) sxy += k(x, i, y, j);
  return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - (2 * sxy) / (n * m);
}

describe('RbfMmd', () => {
  it('matches the unbiased estimator computed naively in float64 (chunked, n != m)', () => {
    const rng = new Rng(1);
    const x = gaussian(40, [0, 0, 0], rng, 0.3);
    const y = gaussian(55, [0.1, 0, 0.2], rng, 0.3);
    const sigmas = [0.05, 0.1, 0.2, 0.5, 1];
    const ref = naiveMmd2(x.dataSync() as Float32Array, y.dataSync() as Float32Array, 3, sigmas);
    const got = new RbfMmd({ maxPoints: 0, chunkSize: 16 }).compute(x, y);
    expect(Math.abs(got - ref)).toBeLessThan(1e-5 + 1e-4 * Math.abs(ref));
    const one = new RbfMmd({ sigmas: [0.7], maxPoints: 0, chunkSize: 7 }).compute(x, y);
    const refOne = naiveMmd2(x.dataSync() as Float32Array, y.dataSync() as Float32Array, 3, [0.7]);
    expect(Math.abs(one - refOne)).toBeLessThan(1e-6 + 1e-4 * Math.abs(refOne));
    tf.dispose([x, y]);
  });

  it('does not depend on the chunk size', () => {
    const rng = new Rng(2);
    const x = gaussian(300, [0, 0], rng, 0.5);
    const y = gaussian(257, [0.2, 0], rng, 0.5);
    const a = new RbfMmd({ maxPoints: 0, chunkSize: 4096 }).compute(x, y);
    const b = new RbfMmd({ maxPoints: 0, chunkSize: 33 }).compute(x, y);
    expect(Math.abs(a - b)).toBeLessThan(1e-6);
    tf.dispose([x, y]);
  });

  it('is ~0 for samples of one distribution and clearly positive for a shift', () => {
    const rng = new Rng(3);
    const x = gaussian(1500, [0, 0], rng, 0.5);
    const y = gaussian(1500, [0, 0], rng, 0.5);
    const z = gaussian(1500, [0.5, 0], rng, 0.5);
    const m = new RbfMmd();
    const same = m.compute(x, y);
    const self = m.compute(x, x);
    const shifted = m.compute(x, z);
    expect(Math.abs(same)).toBeLessThan(2e-3);
    // X against itself: 2 S_off / (n(n-1)) - 2 (S_off + n K) / n^2 = 2 (mean off-diagonal k - K) / n,
    // in [-2K/n, 0] for K = 5 bandwidths (each kernel is in (0, 1]).
    expect(self).toBeLessThanOrEqual(0);
    expect(self).toBeGreaterThan((-2 * 5) / 1500);
    expect(shifted).toBeGreaterThan(0.1);
    tf.dispose([x, y, z]);
  });

  it('subsamples deterministically under a seed', () => {
    const rng = new Rng(4);
    const x = gaussian(500, [0, 0], rng);
    const y = gaussian(400, [0.3, 0], rng);
    const m = new RbfMmd({ maxPoints: 100, seed: 7 });
    const v = m.compute(x, y);
    expect(m.compute(x, y)).toBe(v);
    expect(m.compute(x, y, new Rng(1))).toBe(m.compute(x, y, new Rng(1)));
    expect(new RbfMmd({ maxPoints: 100, seed: 8 }).compute(x, y)).not.toBe(v);
    // No subsampling when maxPoints >= n: the seed is irrelevant.
    expect(new RbfMmd({ maxPoints: 500, seed: 1 }).compute(x, y)).toBeCloseTo(new RbfMmd({ maxPoints: 0, seed: 2 }).compute(x, y), 10);
    tf.dispose([x, y]);
  });

  it('rejects bad input and options, leaks no tensors', () => {
    const a = tf.zeros([1, 2]) as tf.Tensor2D;
    const b = tf.zeros([5, 2]) as tf.Tensor2D;
    expect(() => new RbfMmd().compute(a, b)).toThrow(/metric\.mmd: generated needs at least 2 row/);
    expect(() => new RbfMmd({ sigmas: [] })).toThrow(/metric\.mmd\.options\.sigmas/);
    expect(() => new RbfMmd({ sigmas: [-1] })).toThrow(/metric\.mmd\.options\.sigmas\.0/);
    const rng = new Rng(5);
    const x = gaussian(70, [0, 0], rng);
    const before = tf.memory().numTensors;
    new RbfMmd({ maxPoints: 50, chunkSize: 16 }).compute(x, b, rng);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, x]);
  });
});
