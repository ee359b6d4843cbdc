import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { EnergyDistance } from './energy.js';

function gaussian(n: number, mean: number[], rng: Rng, std = 1): tf.Tensor2D {
  const d = mean.length;
  const v = rng.normalArray(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) v[i * d + k] = mean[k] + std * v[i * d + k];
  return tf.tensor2d(v, [n, d]);
}

/** erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/** 2 * integral (F_n - G_m)^2 dt for two 1-D samples, in float64 (Cramer form of the V-statistic). */
function cramer2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const pts = [...Array.from(a, (v) => ({ v, w: 1 / a.length, s: 0 })), ...Array.from(b, (v) => ({ v, w: 1 / b.length, s: 1 }))].sort((p, q) => p.v - q.v);
  let F = 0;
  let G = 0;
  let acc = 0;
  for (let k = 0; k < pts.length - 1; k++) {
    if (pts[k].s === 0) F += pts[k].w;
    else G += pts[k].w;
    acc += (F - G) ** 2 * (pts[k + 1].v - pts[k].v);
  }
  return 2 * acc;
}

describe('EnergyDistance', () => {
  it('in 1-D equals twice the integrated squared CDF difference (V-statistic), chunked, n != m', () => {
    const rng = new Rng(1);
    const x = gaussian(300, [0], rng);
    const y = gaussian(217, [0.6], rng, 1.5);
    const got = new EnergyDistance({ maxPoints: 0, chunkSize: 64 }).compute(x, y);
    const ref = cramer2(x.dataSync(), y.dataSync());
    expect(Math.abs(got - ref) / ref).toBeLessThan(1e-4);
    tf.dispose([x, y]);
  });

  it('matches the closed form for N(0, 1) vs N(1, 1)', () => {
    // E|Z| for Z ~ N(m, s^2) is s sqrt(2/pi) exp(-m^2 / (2 s^2)) + m erf(m / (s sqrt 2)).
    const eAbs = (m: number, s: number) => s * Math.sqrt(2 / Math.PI) * Math.exp((-m * m) / (2 * s * s)) + m * erf(m / (s * Math.SQRT2));
    const exact = 2 * eAbs(1, Math.SQRT2) - 2 * eAbs(0, Math.SQRT2);
    expect(exact).toBeCloseTo(0.5418, 3);
    const rng = new Rng(2);
    const x = gaussian(2000, [0], rng);
    const y = gaussian(2000, [1], rng);
    const got = new EnergyDistance().compute(x, y);
    // Sampling sd of the estimator at n = m = 2000 is about 0.028 (40 seeds): allow 3 sd.
    expect(Math.abs(got - exact)).toBeLessThan(0.085);
    tf.dispose([x, y]);
  });

  it('is ~0 for a set against itself and matches a naive U-statistic', () => {
    const rng = new Rng(3);
    const x = gaussian(200, [1, 2, 3], rng);
    const y = gaussian(150, [1.2, 2, 3], rng);
    expect(Math.abs(new EnergyDistance({ maxPoints: 0, chunkSize: 32 }).compute(x, x))).toBeLessThan(1e-5);
    const xd = x.dataSync();
    const yd = y.dataSync();
    const dist = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => Math.hypot(a[3 * i] - b[3 * j], a[3 * i + 1] - b[3 * j + 1], a[3 * i + 2] - b[3 * j + 2]);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < 200; i++) for (let j = 0; j < 150; j++) sxy += dist(xd, i, yd, j);
    for (let i = 0; i < 200; i++) for (let j = 0; j < 200; j++) sxx += dist(xd, i, xd, j);
    for (let i = 0; i < 150; i++) for (let j = 0; j < 150; j++) syy += dist(yd, i, yd, j);
    const ref = (2 * sxy) / (200 * 150) - sxx / (200 * 199) - syy / (150 * 149);
    const got = new EnergyDistance({ unbiased: true, maxPoints: 0, chunkSize: 32 }).compute(x, y);
    expect(Math.abs(got - ref)).toBeLessThan(2e-4);
    tf.dispose([x, y]);
  });

  it('is deterministic under a seed, leaks no tensors', () => {
    const rng = new Rng(4);
    const x = gaussian(300, [0, 0], rng);
    const y = gaussian(300, [0.5, 0], rng);
    const m = new EnergyDistance({ maxPoints: 64, seed: 3 });
    const before = tf.memory().numTensors;
    const v = m.compute(x, y);
    expect(tf.memory().numTensors).toBe(before);
    expect(m.compute(x, y)).toBe(v);
    expect(new EnergyDistance({ maxPoints: 64, seed: 4 }).compute(x, y)).not.toBe(v);
    tf.dispose([x, y]);
  });
});
