import type * as tf from '@tensorflow/tfjs-core';
import { definePlugin, formatZodIssue, type Metric, Rng } from '@difflab/core';
import { z } from 'zod';
import { checkPointClouds, preparePair } from './inputs.js';
import { nearestNeighbours } from './pairwise.js';

/**
 * Symmetric Chamfer distance (Barrow et al. 1977; as a point-set loss: Fan, Su & Guibas 2017,
 * "A Point Set Generation Network", Eq. 1, with means instead of sums):
 *
 *   CD(X, Y) = (1/n) sum_i min_j |x_i - y_j|^p + (1/m) sum_j min_i |y_j - x_i|^p
 *
 * the sum (not the average) of the two directed mean nearest-neighbour terms, with p = 2
 * (squared distances, the default, `squared: true`) or p = 1 (plain Euclidean distances).
 * Nearest neighbours are searched on tfjs in chunkSize x chunkSize blocks of squared distances;
 * the distance of each chosen pair is then recomputed in float64, so a set against itself gives
 * exactly 0. Sets larger than `maxPoints` are subsampled without replacement (seeded) first;
 * 0 keeps all. Subsampling both sets to k points raises nearest-neighbour distances (about as
 * k^(-2/d) for squared distances): compare values computed with the same maxPoints only.
 */
export const chamferOptions = z
  .object({
    /** Squared nearest-neighbour distances (true) or plain Euclidean distances (false). */
    squared: z.boolean().default(true),
    /** Subsample each set to at most this many rows (0: use all rows). */
    maxPoints: z.number().int().min(0).default(2000),
    /** Rows per block of the pairwise distance matrix. */
    chunkSize: z.number().int().min(1).max(8192).default(1024),
    /** Seed of the subsample when compute() gets no Rng. */
    seed: z.number().int().min(0).default(0),
  })
  .strict();
export type ChamferOptions = z.output<typeof chamferOptions>;

export class ChamferDistance implements Metric {
  readonly id = 'chamfer';
  readonly summary: string;
  readonly options: ChamferOptions;

  constructor(options: z.input<typeof chamferOptions> = {}) {
    const r = chamferOptions.safeParse(options);
    if (!r.success) throw formatZodIssue('metric.chamfer.options', r.error);
    this.options = r.data;
    this.summary = this.options.squared
      ? 'Chamfer: mean_x min_y |x-y|^2 + mean_y min_x |x-y|^2'
      : 'Chamfer: mean_x min_y |x-y| + mean_y min_x |x-y|';
  }

  /** Symmetric Chamfer distance; subsample from `rng`, else from options.seed. */
  compute(generated: tf.Tensor2D, reference: tf.Tensor2D, rng?: Rng): number {
    checkPointClouds(this.id, generated, reference);
    const r = rng ?? new Rng(this.options.seed);
    const { x, y } = preparePair(generated, reference, this.options.maxPoints, r);
    try {
      const { xToY, yToX } = nearestNeighbours(x, y, this.options.chunkSize);
      const xd = x.dataSync();
      const yd = y.dataSync();
      const d = x.shape[1];
      const dist = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
        let s = 0;
        for (let k = 0; k < d; k++) {
          const t = a[i * d + k] - b[j * d + k];
          s += t * t;
        }
        return this.options.squared ? s : Math.sqrt(s);
      };
      let sx = 0;
      for (let i = 0; i < xToY.length; i++) sx += dist(xd, i, yd, xToY[i]);
      let sy = 0;
      for (let j = 0; j < yToX.length; j++) sy += dist(yd, j, xd, yToX[j]);
      return sx / xToY.length + sy / yToX.length;
    } finally {
      x.dispose();
      y.dispose();
    }
  }
}

export const chamferPlugin = definePlugin({
  kind: 'metric',
  id: 'chamfer',
  summary: 'Symmetric Chamfer distance (mean nearest-neighbour squared or plain distance, both ways, summed); chunked, optional subsampling',
  options: chamferOptions,
  create: (options) => new ChamferDistance(options),
});
