/**
 * Swiss roll spiral in 2-D: scikit-learn's `make_swiss_roll` (sklearn/datasets/_samples_generator.py;
 * Marsland 2009) keeping the (x, z) plane:
 *
 *   t = 1.5 pi (1 + 2u), u ~ U(0, 1)
 *   x = t cos t + noise * N(0, 1),  z = t sin t + noise * N(0, 1)      (y = 21 v is dropped)
 *   point = scale * (x, z)
 *
 * The lab's default: noise 0.5, scaled by 1/10, so the spiral spans about [-1.4, 1.3] and the
 * noise is 0.05 in final units. Noise-free points lie at radius t * scale in [1.5 pi, 4.5 pi] * scale.
 */
import { definePlugin, type Rng } from '@difflab/core';
import { z } from 'zod';
import { PointDataset2D, parseOptions, pointSetOptionFields } from './point-dataset.js';

export interface SwissRollPointOptions {
  /** Standard deviation of the Gaussian noise added to each coordinate (before scaling). Default 0.5. */
  noise?: number;
  /** Multiplier of the final points. Default 0.1. */
  scale?: number;
}

/** n swiss-roll points drawn from `rng`, interleaved [x0, z0, x1, z1, ...]. */
export function swissRollPoints(n: number, rng: Rng, opts: SwissRollPointOptions = {}): Float32Array {
  const noise = opts.noise ?? 0.5;
  const scale = opts.scale ?? 0.1;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const t = 1.5 * Math.PI * (1 + 2 * rng.uniform());
    const x = t * Math.cos(t) + (noise > 0 ? noise * rng.normal() : 0);
    const z = t * Math.sin(t) + (noise > 0 ? noise * rng.normal() : 0);
    out[2 * i] = scale * x;
    out[2 * i + 1] = scale * z;
  }
  return out;
}

export const swissRollSchema = z
  .object({
    noise: z.number().min(0).default(0.5).describe('std of the noise on each coordinate, before scaling'),
    scale: z.number().positive().default(0.1).describe('multiplier of the points'),
    ...pointSetOptionFields,
  })
  .strict();
export type SwissRollOptions = z.output<typeof swissRollSchema>;

/** The 2-D swiss roll spiral of the lab. */
export class SwissRollDataset extends PointDataset2D {
  readonly options: SwissRollOptions;

  constructor(options: z.input<typeof swissRollSchema> = {}) {
    const o = parseOptions(swissRollSchema, options, 'swiss-roll');
    super('swiss-roll', (n, rng) => swissRollPoints(n, rng, o), o.size, o.seed);
    this.options = o;
  }
}

export const swissRollPlugin = definePlugin({
  kind: 'dataset',
  id: 'swiss-roll',
  summary: "2-D swiss roll spiral (sklearn make_swiss_roll, (x, z) plane), noise 0.5, scaled 1/10",
  options: swissRollSchema,
  create: (o) => new SwissRollDataset(o),
});
