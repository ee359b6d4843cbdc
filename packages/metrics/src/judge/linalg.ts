/**
 * Small dense float64 linear algebra for the Fréchet distance: means and covariances of feature
 * rows, and the eigen-decomposition of a symmetric matrix by the cyclic Jacobi method
 * (Golub & Van Loan, "Matrix Computations", 4th ed., §8.5; Numerical Recipes §11.1). Jacobi is
 * slower than tridiagonal QR, but at the 64-128 dimensions of a judge's features a
 * decomposition takes a few milliseconds, and it is accurate to working precision for small
 * eigenvalues too (Demmel & Veselić 1992), which the matrix square roots need.
 *
 * Matrices are row-major `Float64Array`s of n * n values.
 */

/** Eigenvalues (ascending) and, when asked, eigenvectors (column j of `vectors` belongs to `values[j]`). */
export interface SymmetricEigen {
  values: Float64Array;
  /** Row-major n x n, orthonormal columns; null when vectors were not requested. */
  vectors: Float64Array | null;
}

/**
 * Eigen-decomposition A = V diag(values) V^T of the symmetric n x n matrix `a` (only its values
 * are read; it is not modified). Cyclic Jacobi sweeps: each rotation in the (p, q) plane sets
 * a_pq to 0 with tan(phi) = sign(theta) / (|theta| + sqrt(theta^2 + 1)),
 * theta = (a_qq - a_pp) / (2 a_pq) (the smaller rotation, which keeps the method convergent),
 * until the off-diagonal mass is below 1e-15 of the Frobenius norm (quadratic convergence: 6-10
 * sweeps in practice; at most 100).
 */
export function symmetricEigen(a: ArrayLike<number>, n: number, wantVectors = true): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} values for a ${n}x${n} matrix, got ${a.length}`);
  const m = Float64Array.from(a);
  // symmetrise (the caller's matrix may carry rounding asymmetry)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = s;
      m[j * n + i] = s;
    }
  }
  const v = wantVectors ? new Float64Array(n * n) : null;
  if (v) for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let frob = 0;
  for (let i = 0; i < n * n; i++) frob += m[i] * m[i];
  const tol = (1e-15 * 1e-15 * frob) / 2;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
    if (off <= tol || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const app = m[p * n + p];
        const aqq = m[q * n + q];
        // skip rotations that would not change the diagonal in float64 (after the first sweeps)
        if (sweep > 3 && Math.abs(apq) * 1e17 < Math.abs(app) && Math.abs(apq) * 1e17 < Math.abs(aqq)) {
          m[p * n + q] = 0;
          m[q * n + p] = 0;
          continue;
        }
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // columns p and q: A J
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p];
          const akq = m[k * n + q];
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        // rows p and q: J^T (A J)
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k];
          const aqk = m[q * n + k];
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        if (v) {
          for (let k = 0; k < n; k++) {
            const vkp = v[k * n + p];
            const vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
          }
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i] - m[j * n + j]);
  const values = Float64Array.from(order, (i) => m[i * n + i]);
  let vectors: Float64Array | null = null;
  if (v) {
    vectors = new Float64Array(n * n);
    for (let j = 0; j < n; j++) {
      const src = order[j];
      for (let k = 0; k < n; k++) vectors[k * n + j] = v[k * n + src];
    }
  }
  return { values, vectors };
}

/**
 * The principal square root of a symmetric positive semi-definite matrix, V diag(sqrt(max(l, 0))) V^T.
 * Eigenvalues below 0 (rounding of a singular covariance) are taken as 0.
 */
export function sqrtSymmetricPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n, true);
  const vecs = vectors as Float64Array;
  const r = Math.sqrt;
  const out = new Float64Array(n * n);
  const w = new Float64Array(n * n); // V diag(sqrt l)
  for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) w[k * n + j] = vecs[k * n + j] * r(Math.max(values[j], 0));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += w[i * n + k] * vecs[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** C = A B for row-major n x n matrices. */
export function matMul64(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c;
}

/** Mean [d] and unbiased covariance [d x d] (divided by n - 1, as numpy's `np.cov`) of n rows of d values. */
export function meanAndCovariance(rows: Float64Array, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += rows[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = rows[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ca = centred[a];
      if (ca === 0) continue;
      const o = a * d;
      for (let b = a; b < d; b++) cov[o + b] += ca * centred[b];
    }
  }
  const scale = n > 1 ? 1 / (n - 1) : 0;
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const s = cov[a * d + b] * scale;
      cov[a * d + b] = s;
      cov[b * d + a] = s;
    }
  }
  return { mean, cov };
}
