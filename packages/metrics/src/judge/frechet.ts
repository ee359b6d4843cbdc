/**
 * Fréchet distance between two sets of feature vectors, each summarised by a Gaussian (its mean
 * and covariance): the squared 2-Wasserstein distance between N(mu1, S1) and N(mu2, S2)
 * (Dowson & Landau 1982), the formula of FID (Heusel et al. 2017, Eq. 6; pytorch-fid's
 * `calculate_frechet_distance`):
 *
 *   d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1^(1/2) S2 S1^(1/2))^(1/2)).
 *
 * Unlike pytorch-fid (scipy's `sqrtm` of the non-symmetric S1 S2), both square roots here are of
 * symmetric positive semi-definite matrices, through Jacobi eigen-decompositions in float64:
 * Tr((S1^(1/2) S2 S1^(1/2))^(1/2)) = sum sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)), the same
 * number as Tr(sqrtm(S1 S2)) (the two products are similar), with no complex parts to discard.
 * Means and covariances (unbiased, n - 1) are float64 as well.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@difflab/core';
import { matMul64, meanAndCovariance, sqrtSymmetricPsd, symmetricEigen } from './linalg.js';

/** A set of feature vectors: a [n, d] tensor (not disposed) or n rows of d values. */
export type FeatureRows = tf.Tensor2D | readonly ArrayLike<number>[];

/** Rows as one float64 [n, d] row-major array. */
function toRows(x: FeatureRows, name: string): { data: Float64Array; n: number; d: number } {
  const path = 'frechetDistance';
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new ConfigError(path, `${name} must be features [n, d], got shape [${x.shape.join(', ')}]`);
    const [n, d] = x.shape as [number, number];
    return { data: Float64Array.from(x.dataSync() as ArrayLike<number>), n, d };
  }
  if (!Array.isArray(x)) throw new ConfigError(path, `${name} must be a Tensor2D [n, d] or an array of rows, got ${typeof x}`);
  const n = x.length;
  const d = n > 0 ? x[0].length : 0;
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    if (row.length !== d) throw new ConfigError(path, `${name} row ${i} has ${row.length} values, row 0 has ${d}; all rows must have the same length`);
    for (let j = 0; j < d; j++) data[i * d + j] = row[j];
  }
  return { data, n, d };
}

/** Mean and covariance of a Gaussian fitted to feature rows. */
export interface GaussianStats {
  mean: Float64Array;
  /** Row-major [d, d], unbiased (n - 1). */
  cov: Float64Array;
  d: number;
  n: number;
}

/** Mean and unbiased covariance of a set of feature vectors (float64). Needs at least 2 rows. */
export function gaussianStats(x: FeatureRows, name = 'features'): GaussianStats {
  const { data, n, d } = toRows(x, name);
  if (n < 2) throw new ConfigError('frechetDistance', `${name} needs at least 2 rows to estimate a covariance, got ${n}`);
  if (d < 1) throw new ConfigError('frechetDistance', `${name} has rows of 0 values`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new ConfigError('frechetDistance', `${name} holds a non-finite value (${data[i]}) at row ${Math.floor(i / d)}`);
  }
  const { mean, cov } = meanAndCovariance(data, n, d);
  return { mean, cov, d, n };
}

/**
 * The Fréchet distance between N(mu1, S1) and N(mu2, S2) (squared W2; what FID reports):
 * ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1^(1/2) S2 S1^(1/2))^(1/2)). Clamped at 0 (rounding
 * can make equal Gaussians give -1e-13).
 */
export function frechetDistanceOfGaussians(mu1: ArrayLike<number>, s1: ArrayLike<number>, mu2: ArrayLike<number>, s2: ArrayLike<number>): number {
  const d = mu1.length;
  if (mu2.length !== d || s1.length !== d * d || s2.length !== d * d) {
    throw new ConfigError('frechetDistance', `means must both have d values and covariances d*d values (d = ${d}); got ${mu2.length}, ${s1.length}, ${s2.length}`);
  }
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (mu1[j] - mu2[j]) ** 2;
  let tr = 0;
  for (let j = 0; j < d; j++) tr += s1[j * d + j] + s2[j * d + j];
  const r1 = sqrtSymmetricPsd(s1, d);
  const m = matMul64(matMul64(r1, s2, d), r1, d);
  const { values } = symmetricEigen(m, d, false);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  return Math.max(0, meanTerm + tr - 2 * trSqrt);
}

/**
 * Fréchet distance between two sets of feature vectors (e.g. a judge's `features` of generated
 * and of real images): each set is summarised by its mean and unbiased covariance (float64), then
 * `frechetDistanceOfGaussians`. Both sets need the same dimension d and at least 2 rows; with
 * fewer rows than d the covariances are singular, which the formula handles, but the estimate is
 * biased upwards (FID values are comparable only at equal set sizes).
 *
 * @throws ConfigError('frechetDistance', ...) for mismatched dimensions, too few rows or non-finite values
 */
export function frechetDistance(a: FeatureRows, b: FeatureRows): number {
  const sa = gaussianStats(a, 'a');
  const sb = gaussianStats(b, 'b');
  if (sa.d !== sb.d) throw new ConfigError('frechetDistance', `a has d = ${sa.d} features, b has d = ${sb.d}; both must be [n, d] with the same d`);
  return frechetDistanceOfGaussians(sa.mean, sa.cov, sb.mean, sb.cov);
}
