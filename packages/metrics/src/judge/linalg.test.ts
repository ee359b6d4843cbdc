import { Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { matMul64, meanAndCovariance, sqrtSymmetricPsd, symmetricEigen } from './linalg.js';

/** A random orthogonal n x n matrix (Gram-Schmidt of Gaussian columns), row-major. */
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

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

/** Q diag(d) Q^T. */
function fromSpectrum(q: Float64Array, d: ArrayLike<number>, n: number): Float64Array {
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = q[i * n + j] * d[j];
  return matMul64(qd, transpose(q, n), n);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('symmetricEigen (cyclic Jacobi)', () => {
  it('finds the eigenvalues of a 2x2 matrix in closed form', () => {
    // [[2, 1], [1, 2]]: eigenvalues 1 and 3, vectors (1, -1)/sqrt 2 and (1, 1)/sqrt 2
    const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
    expect(values[0]).toBeCloseTo(1, 14);
    expect(values[1]).toBeCloseTo(3, 14);
    const v = vectors as Float64Array;
    expect(Math.abs(v[0 * 2 + 1])).toBeCloseTo(Math.SQRT1_2, 14);
    expect(v[0 * 2 + 1] * v[1 * 2 + 1]).toBeCloseTo(0.5, 14); // (1, 1) direction for 3
    expect(v[0 * 2 + 0] * v[1 * 2 + 0]).toBeCloseTo(-0.5, 14); // (1, -1) direction for 1
  });

  it('recovers a known spectrum at 128 dimensions, with orthonormal vectors and A = V L V^T', () => {
    const n = 128;
    const rng = new Rng(3);
    const q = randomOrthogonal(n, rng);
    const spectrum = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : 10 ** rng.uniformRange(-4, 2)));
    const a = fromSpectrum(q, spectrum, n);
    const t0 = performance.now();
    const { values, vectors } = symmetricEigen(a, n);
    const ms = performance.now() - t0;
    const sorted = [...spectrum].sort((x, y) => x - y);
    expect(maxAbsDiff(values, sorted)).toBeLessThan(1e-11);
    const v = vectors as Float64Array;
    const vtv = matMul64(transpose(v, n), v, n);
    const eye = Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0));
    expect(maxAbsDiff(vtv, eye)).toBeLessThan(1e-12);
    expect(maxAbsDiff(fromSpectrum(v, values, n), a)).toBeLessThan(1e-11);
    expect(ms).toBeLessThan(2000);
  });

  it('leaves its input alone and handles a diagonal matrix without rotating', () => {
    const a = [3, 0, 0, 0, -1, 0, 0, 0, 2];
    const copy = [...a];
    const { values } = symmetricEigen(a, 3, false);
    expect(Array.from(values)).toEqual([-1, 2, 3]);
    expect(a).toEqual(copy);
    expect(() => symmetricEigen([1, 2, 3], 2)).toThrow(/expected 4 values for a 2x2 matrix, got 3/);
  });
});

describe('sqrtSymmetricPsd', () => {
  it('squares back to the matrix and clips rounding negatives of a singular matrix to 0', () => {
    const n = 64;
    const rng = new Rng(5);
    const q = randomOrthogonal(n, rng);
    const spectrum = Array.from({ length: n }, (_, i) => (i < 8 ? -1e-14 : rng.uniformRange(0.01, 4)));
    const a = fromSpectrum(q, spectrum, n);
    const r = sqrtSymmetricPsd(a, n);
    const clipped = fromSpectrum(
      q,
      spectrum.map((l) => Math.max(l, 0)),
      n,
    );
    expect(maxAbsDiff(matMul64(r, r, n), clipped)).toBeLessThan(1e-12);
    expect(maxAbsDiff(r, transpose(r, n))).toBe(0);
  });
});

describe('meanAndCovariance', () => {
  it('gives numpy np.cov (unbiased) on a small example', () => {
    // rows (1, 2), (3, 6), (5, 4): mean (3, 4); cov [[4, 2], [2, 4]]
    const { mean, cov } = meanAndCovariance(Float64Array.from([1, 2, 3, 6, 5, 4]), 3, 2);
    expect(Array.from(mean)).toEqual([3, 4]);
    expect(Array.from(cov)).toEqual([4, 2, 2, 4]);
  });
});
