/**
 * Two concentric circles: scikit-learn's `make_circles` geometry
 * (sklearn/datasets/_samples_generator.py): outer radius 1, inner radius `factor`,
 * point = scale * ((r cos a, r sin a) + noise * N(0, I)). Defaults follow FFJORD's toy data
 * (rtqichen/ffjord lib/toy_data.py: factor 0.5, noise 0.08, times 3). Each point picks a circle
 * with probability 1/2 and a uniform angle (sklearn spaces the angles evenly, n/2 per circle).
 */
import { definePlugin, type Rng } from '@difflab/core';
import { z } from 'zod';
import { PointDataset2D, parseOptions, pointSetOptionFields } from './point-dataset.js';

export interface CirclesPointOptions {
  /** Radius of the inner circle relative to the outer one. Default 0.5. */
  factor?: number;
  /** Std of the Gaussian noise on each coordinate, before scaling. Default 0.08. */
  noise?: number;
  /** Multiplier of the points. Default 3. */
  scale?: number;
}

/** n two-circles points drawn from `rng`, interleaved. */
export function circlesPoints(n: number, rng: Rng, opts: CirclesPointOptions = {}): Float32Array {
  const factor = opts.factor ?? 0.5;
  const noise = opts.noise ?? 0.08;
  const scale = opts.scale ?? 3;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = 2 * Math.PI * rng.uniform();
    const r = rng.uniform() < 0.5 ? 1 : factor;
    let x = r * Math.cos(a);
    let y = r * Math.sin(a);
    if (noise > 0) {
      x += noise * rng.normal();
      y += noise * rng.normal();
    }
    out[2 * i] = scale * x;
    out[2 * i + 1] = scale * y;
  }
  return out;
}

export const circlesSchema = z
  .object({
    factor: z.number().gt(0).lt(1).default(0.5).describe('inner radius / outer radius'),
    noise: z.number().min(0).default(0.08).describe('std of the noise on each coordinate, before scaling'),
    scale: z.number().positive().default(3).describe('multiplier of the points'),
    ...pointSetOptionFields,
  })
  .strict();
export type CirclesOptions = z.output<typeof circlesSchema>;

/** Two concentric circles. */
export class CirclesDataset extends PointDataset2D {
  readonly options: CirclesOptions;

  constructor(options: z.input<typeof circlesSchema> = {}) {
    const o = parseOptions(circlesSchema, options, 'circles');
    super('circles', (n, rng) => circlesPoints(n, rng, o), o.size, o.seed);
    this.options = o;
  }
}

export const circlesPlugin = definePlugin({
  kind: 'dataset',
  id: 'circles',
  summary: 'Two concentric circles (sklearn make_circles), factor 0.5, noise 0.08, scaled 3',
  options: circlesSchema,
  create: (o) => new CirclesDataset(o),
});
