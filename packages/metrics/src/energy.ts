import * as tf from '@tensorflow/tfjs-core';
import { definePlugin, formatZodIssue, type Metric, Rng } from '@difflab/core';
import { z } from 'zod';
import { checkPointClouds, preparePair } from './inputs.js';
import { pairwiseSum } from './pairwise.js';

/**
 * Energy distance (Szekely & Rizzo 2004, 2013, "Energy statistics", Eq. 2.1):
 *
 *   E(X, Y) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|
 *
 * with |.| the Euclidean norm. Default estimator: the V-statistic (every mean over all n^2,
 * m^2, n m pairs, diagonals included), which is >= 0 and exactly 0 for identical sets; in 1-D
 * it equals 2 * integral (F_n(t) - G_m(t))^2 dt of the empirical CDFs (Cramer's distance).
 * With `unbiased: true` the within-set means use the n(n-1) and m(m-1) off-diagonal pairs
 * (U-statistic): unbiased, may be slightly negative. The reported value is E itself (the energy
 * distance, not its square root). Sets larger than `maxPoints` are subsampled without
 * replacement (seeded) first; 0 keeps all. Pairwise distances are formed in chunkSize x
 * chunkSize blocks on tfjs and accumulated in float64.
 */
export const energyOptions = z
  .object({
    /** U-statistic (off-diagonal within-set pairs) instead of the V-statistic. */
    unbiased: z.boolean().default(false),
    /** Subsample each set to at most this many rows (0: use all rows). */
    maxPoints: z.number().int().min(0).default(2000),
    /** Rows per block of the pairwise distance matrix. */
    chunkSize: z.number().int().min(1).max(8192).default(1024),
    /** Seed of the subsample when compute() gets no Rng. */
    seed: z.number().int().min(0).default(0),
  })
  .strict();
export type EnergyOptions = z.output<typeof energyOptions>;

export class EnergyDistance implements Metric {
  readonly id = 'energy';
  readonly summary = 'energy distance 2E|X-Y| - E|X-X\'| - E|Y-Y\'|';
  readonly options: EnergyOptions;

  constructor(options: z.input<typeof energyOptions> = {}) {
    const r = energyOptions.safeParse(options);
    if (!r.success) throw formatZodIssue('metric.energy.options', r.error);
    this.options = r.data;
  }

  /** Energy distance; subsample from `rng`, else from options.seed. */
  compute(generated: tf.Tensor2D, reference: tf.Tensor2D, rng?: Rng): number {
    const { unbiased, chunkSize } = this.options;
    checkPointClouds(this.id, generated, reference, unbiased ? 2 : 1);
    const r = rng ?? new Rng(this.options.seed);
    const { x, y } = preparePair(generated, reference, this.options.maxPoints, r);
    try {
      const n = x.shape[0];
      const m = y.shape[0];
      const sxx = pairwiseSum(x, x, chunkSize, tf.sqrt, true);
      const syy = pairwiseSum(y, y, chunkSize, tf.sqrt, true);
      const sxy = pairwiseSum(x, y, chunkSize, tf.sqrt);
      const exx = unbiased ? sxx / (n * (n - 1)) : sxx / (n * n);
      const eyy = unbiased ? syy / (m * (m - 1)) : syy / (m * m);
      return (2 * sxy) / (n * m) - exx - eyy;
    } finally {
      x.dispose();
      y.dispose();
    }
  }
}

export const energyPlugin = definePlugin({
  kind: 'metric',
  id: 'energy',
  summary: "Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (V-statistic by default); chunked, optional subsampling",
  options: energyOptions,
  create: (options) => new EnergyDistance(options),
});
