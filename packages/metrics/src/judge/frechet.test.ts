import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { frechetDistance, frechetDistanceOfGaussians, gaussianStats } from './frechet.js';
import { matMul64 } from './linalg.js';

function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const col = Float64Array.from({ length: n }, () => rng.normal());
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += col[k] * q[k * n + p];
      for (let k = 0; k < n; k++) col[k] -= dot * q[k * n + p];
    }
    const norm = Math.hypot(...col);
    for (let k = 0; k < n; k++) q[k * n + j] = col[k] / norm;
  }
  return q;
}

/** Q diag(d) Q^T. */
function fromSpectrum(q: Float64Array, d: ArrayLike<number>, n: number): Float64Array {
  const qd = new Float64Array(n * n);
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      qd[i * n + j] = q[i * n + j] * d[j];
      qt[j * n + i] = q[i * n + j];
    }
  }
  return matMul64(qd, qt, n);
}

/** Lower Cholesky factor of an SPD matrix. */
function cholesky(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j];
    }
  }
  return l;
}

/**
 * n rows whose sample mean is exactly `mu` and sample (unbiased) covariance exactly `cov` (up to
 * rounding): Gaussian rows, centred, whitened by the inverse Cholesky factor of their own sample
 * covariance, then coloured by the Cholesky factor of `cov`.
 */
function rowsWithMoments(n: number, mu: number[], cov: ArrayLike<number>, rng: Rng): Float64Array[] {
  const d = mu.length;
  const z = Array.from({ length: n }, () => Float64Array.from({ length: d }, () => rng.normal()));
  const m = new Float64Array(d);
  for (const r of z) for (let j = 0; j < d; j++) m[j] += r[j] / n;
  for (const r of z) for (let j = 0; j < d; j++) r[j] -= m[j];
  const c = new Float64Array(d * d);
  for (const r of z) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) c[a * d + b] += (r[a] * r[b]) / (n - 1);
  const lz = cholesky(c, d);
  const lt = cholesky(cov, d);
  return z.map((r) => {
    // w = Lz^{-1} r (forward substitution), then y = Lt w + mu
    const w = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = r[i];
      for (let k = 0; k < i; k++) s -= lz[i * d + k] * w[k];
      w[i] = s / lz[i * d + i];
    }
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = mu[i];
      for (let k = 0; k <= i; k++) s += lt[i * d + k] * w[k];
      y[i] = s;
    }
    return y;
  });
}

describe('frechetDistanceOfGaussians', () => {
  it('is (m1 - m2)^2 + (s1 - s2)^2 in one dimension', () => {
    expect(frechetDistanceOfGaussians([1], [4], [-2], [0.25])).toBeCloseTo(9 + (2 - 0.5) ** 2, 13);
  });

  it('is |mu1 - mu2|^2 + sum (sqrt a_i - sqrt b_i)^2 for diagonal covariances', () => {
    const a = [1, 4, 0.09, 2];
    const b = [0.25, 4, 1, 0];
    const diag = (v: number[]) => Float64Array.from({ length: 16 }, (_, k) => (k % 5 === 0 ? v[k / 5] : 0));
    const want = 1 + 4 + (1 - 0.5) ** 2 + 0 + (0.3 - 1) ** 2 + 2;
    expect(frechetDistanceOfGaussians([1, 0, 0, 0], diag(a), [0, 2, 0, 0], diag(b))).toBeCloseTo(want, 12);
  });

  it('matches the 2x2 closed form for non-commuting covariances: Tr sqrt = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2))', () => {
    const s1 = [2, 0.8, 0.8, 1];
    const s2 = [0.5, -0.3, -0.3, 3];
    const p = matMul64(s1, s2, 2);
    const det = (s: number[]) => s[0] * s[3] - s[1] * s[2];
    const trSqrt = Math.sqrt(p[0] + p[3] + 2 * Math.sqrt(det(s1) * det(s2)));
    const want = 0.5 ** 2 + 1 + (2 + 1 + 0.5 + 3) - 2 * trSqrt;
    expect(frechetDistanceOfGaussians([0.5, 0], s1, [0, 1], s2)).toBeCloseTo(want, 12);
  });

  it('is sum (sqrt a_i - sqrt b_i)^2 for commuting non-diagonal covariances at 64 dimensions, and symmetric and within the alignment bounds for non-commuting ones', () => {
    const d = 64;
    const rng = new Rng(11);
    const q = randomOrthogonal(d, rng);
    const a = Array.from({ length: d }, () => rng.uniformRange(0.01, 3));
    const b = Array.from({ length: d }, () => rng.uniformRange(0.01, 3));
    const zero = new Array(d).fill(0);
    const want = a.reduce((s, ai, i) => s + (Math.sqrt(ai) - Math.sqrt(b[i])) ** 2, 0);
    expect(frechetDistanceOfGaussians(zero, fromSpectrum(q, a, d), zero, fromSpectrum(q, b, d))).toBeCloseTo(want, 10);
    // another basis for the second: the two matrix square roots take different paths
    const q2 = randomOrthogonal(d, rng);
    const s1 = fromSpectrum(q, a, d);
    const s2 = fromSpectrum(q2, b, d);
    const ab = frechetDistanceOfGaussians(zero, s1, zero, s2);
    const ba = frechetDistanceOfGaussians(zero, s2, zero, s1);
    // between the two alignments of the eigenbases: co-sorted spectra (the closest) and anti-sorted (the farthest)
    const ra = a.map(Math.sqrt).sort((x, y) => x - y);
    const rb = b.map(Math.sqrt).sort((x, y) => x - y);
    const closest = ra.reduce((s, x, i) => s + (x - rb[i]) ** 2, 0);
    const farthest = ra.reduce((s, x, i) => s + (x - rb[d - 1 - i]) ** 2, 0);
    expect(ab).toBeGreaterThan(closest);
    expect(ab).toBeLessThan(farthest);
    expect(Math.abs(ab - ba)).toBeLessThan(1e-10 * ab);
  });
});

describe('frechetDistance on feature sets', () => {
  it('gives the closed form on sets with exactly known sample moments (non-diagonal, d = 3)', () => {
    const rng = new Rng(2);
    const s1 = [1, 0.5, 0.2, 0.5, 2, -0.3, 0.2, -0.3, 0.7];
    const s2 = [1.5, -0.4, 0, -0.4, 0.6, 0.1, 0, 0.1, 1.2];
    const a = rowsWithMoments(500, [0, 1, 2], s1, rng);
    const b = rowsWithMoments(300, [1, 1, 0], s2, rng);
    const sa = gaussianStats(a);
    for (let k = 0; k < 9; k++) expect(sa.cov[k]).toBeCloseTo(s1[k], 12);
    const want = frechetDistanceOfGaussians([0, 1, 2], s1, [1, 1, 0], s2);
    expect(frechetDistance(a, b)).toBeCloseTo(want, 10);
    expect(want).toBeGreaterThan(5);
  });

  it('gives ~0 for identical sets, is translation-covariant, and reads tensors and Float32Array rows alike', () => {
    const rng = new Rng(4);
    const n = 400;
    const d = 96;
    const data = rng.normalArray(n * d);
    // correlate the columns a little
    for (let i = 0; i < n; i++) for (let j = 1; j < d; j++) data[i * d + j] += 0.5 * data[i * d + j - 1];
    const rows = Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
    const t = tf.tensor2d(data, [n, d]);
    const before = tf.memory().numTensors;
    expect(frechetDistance(t, t)).toBeLessThan(1e-9);
    expect(frechetDistance(rows, rows)).toBeLessThan(1e-9);
    const shifted = rows.map((r) => r.map((v, j) => v + (j === 0 ? 3 : 0)));
    expect(frechetDistance(rows, shifted)).toBeCloseTo(9, 3); // only the mean term: 3^2
    const half = tf.tensor2d(data.subarray(0, (n / 2) * d), [n / 2, d]);
    expect(frechetDistance(t, half)).toBeCloseTo(frechetDistance(rows, rows.slice(0, n / 2)), 9);
    half.dispose();
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });

  it('grows with the distance between two sampled Gaussians (at 128 dimensions, 2000 rows)', () => {
    const rng = new Rng(9);
    const n = 2000;
    const d = 128;
    const set = (mean: number, std: number) => Array.from({ length: n }, () => rng.normalArray(d, mean, std));
    const ref = set(0, 1);
    const t0 = performance.now();
    const same = frechetDistance(set(0, 1), ref);
    const ms = performance.now() - t0;
    const shifted = frechetDistance(set(0.2, 1), ref);
    const wider = frechetDistance(set(0, 1.5), ref);
    // the estimate's bias for equal Gaussians is about d^2 / n-ish; the true distances are 0, 5.12, 32
    expect(same).toBeLessThan(shifted);
    expect(shifted).toBeGreaterThan(5.12);
    expect(wider).toBeGreaterThan(32);
    expect(ms).toBeLessThan(5000);
  });

  it('rejects mismatched dimensions, too few rows and non-finite values with one-line ConfigErrors', () => {
    const a = [Float32Array.of(1, 2), Float32Array.of(3, 4)];
    expect(() => frechetDistance(a, [Float32Array.of(1, 2, 3), Float32Array.of(1, 2, 3)])).toThrow(ConfigError);
    expect(() => frechetDistance(a, [Float32Array.of(1, 2, 3), Float32Array.of(1, 2, 3)])).toThrow(
      'frechetDistance: a has d = 2 features, b has d = 3; both must be [n, d] with the same d',
    );
    expect(() => frechetDistance(a, [Float32Array.of(1, 2)])).toThrow('frechetDistance: b needs at least 2 rows to estimate a covariance, got 1');
    expect(() => frechetDistance(a, [Float32Array.of(1, 2), Float32Array.of(Number.NaN, 2)])).toThrow('frechetDistance: b holds a non-finite value (NaN) at row 1');
    expect(() => frechetDistance(a, [Float32Array.of(1, 2), Float32Array.of(1)])).toThrow('frechetDistance: b row 1 has 1 values, row 0 has 2; all rows must have the same length');
    const t3 = tf.zeros([2, 2, 2]);
    expect(() => frechetDistance(t3 as tf.Tensor2D, a)).toThrow('frechetDistance: a must be features [n, d], got shape [2, 2, 2]');
    t3.dispose();
  });
});
