import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { ChamferDistance } from './chamfer.js';

function gaussian(n: number, mean: number[], rng: Rng, std = 1): tf.Tensor2D {
  const d = mean.length;
  const v = rng.normalArray(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) v[i * d + k] = mean[k] + std * v[i * d + k];
  return tf.tensor2d(v, [n, d]);
}

function naiveChamfer(x: ArrayLike<number>, y: ArrayLike<number>, d: number, squared: boolean): number {
  const dir = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    const na = a.length / d;
    const nb = b.length / d;
    let s = 0;
    for (let i = 0; i < na; i++) {
      let best = Number.POSITIVE_INFINITY;
      for (let j = 0; j < nb; j++) {
        let q = 0;
        for (let k = 0; k < d; k++) q += (a[i * d + k] - b[j * d + k]) ** 2;
        best = Math.min(best, q);
      }
      s += squared ? best : Math.sqrt(best);
    }
    return s / na;
  };
  return dir(x, y) + dir(y, x);
}

describe('ChamferDistance', () => {
  it('matches a hand-computed example', () => {
    // X = {(0,0), (1,0)}, Y = {(0,1)}: X->Y squared 1 and 2 (mean 1.5), Y->X 1: total 2.5.
    const x = tf.tensor2d([0, 0, 1, 0], [2, 2]);
    const y = tf.tensor2d([0, 1], [1, 2]);
    expect(new ChamferDistance().compute(x, y)).toBeCloseTo(2.5, 6);
    expect(new ChamferDistance({ squared: false }).compute(x, y)).toBeCloseTo((1 + Math.SQRT2) / 2 + 1, 6);
    tf.dispose([x, y]);
  });

  it('is exactly 0 for a set against itself', () => {
    const x = gaussian(700, [5, -3], new Rng(1), 0.01);
    expect(new ChamferDistance({ chunkSize: 128 }).compute(x, x)).toBe(0);
    expect(new ChamferDistance({ squared: false, chunkSize: 128 }).compute(x, x)).toBe(0);
    tf.dispose(x);
  });

  it('matches a naive nearest-neighbour search (chunked, n != m)', () => {
    const rng = new Rng(2);
    const x = gaussian(123, [0, 0, 0], rng);
    const y = gaussian(77, [0.5, 0, 0], rng);
    for (const squared of [true, false]) {
      const ref = naiveChamfer(x.dataSync(), y.dataSync(), 3, squared);
      const got = new ChamferDistance({ squared, chunkSize: 10, maxPoints: 0 }).compute(x, y);
      expect(Math.abs(got - ref) / ref).toBeLessThan(1e-5);
    }
    tf.dispose([x, y]);
  });

  it('is deterministic under a seed, leaks no tensors', () => {
    const rng = new Rng(3);
    const x = gaussian(300, [0, 0], rng);
    const y = gaussian(250, [0.5, 0], rng);
    const m = new ChamferDistance({ maxPoints: 64, seed: 3, chunkSize: 32 });
    const before = tf.memory().numTensors;
    const v = m.compute(x, y);
    expect(tf.memory().numTensors).toBe(before);
    expect(m.compute(x, y)).toBe(v);
    expect(new ChamferDistance({ maxPoints: 64, seed: 4 }).compute(x, y)).not.toBe(v);
    tf.dispose([x, y]);
  });
});
