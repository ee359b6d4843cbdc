/**
 * Two interleaving half circles: scikit-learn's `make_moons` geometry
 * (sklearn/datasets/_samples_generator.py), centred and scaled:
 *
 *   outer moon: (cos a, sin a),  inner moon: (1 - cos a, 1 - sin a - 0.5),  a in [0, pi]
 *   point = scale * ((p + noise * N(0, I)) - (0.5, 0.25))
 *
 * (0.5, 0.25) is the exact mean of the two moons, so the set is centred at the origin. Defaults
 * follow FFJORD's toy data (rtqichen/ffjord lib/toy_data.py: noise 0.1, times 2). Unlike sklearn,
 * which places n/2 points per moon at evenly spaced angles, each point here picks a moon with
 * probability 1/2 and a uniform angle: independent draws of the same distribution.
 */
import { definePlugin, type Rng } from '@difflab/core';
import { z } from 'zod';
import { PointDataset2D, parseOptions, pointSetOptionFields } from './point-dataset.js';

export interface MoonsPointOptions {
  /** Std of the Gaussian noise on each coordinate, before scaling. Default 0.1. */
  noise?: number;
  /** Multiplier of the centred points. Default 2. */
  scale?: number;
}

/** n two-moons points drawn from `rng`, interleaved. */
export function moonsPoints(n: number, rng: Rng, opts: MoonsPointOptions = {}): Float32Array {
  const noise = opts.noise ?? 0.1;
  const scale = opts.scale ?? 2;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = Math.PI * rng.uniform();
    const outer = rng.uniform() < 0.5;
    let x = outer ? Math.cos(a) : 1 - Math.cos(a);
    let y = outer ? Math.sin(a) : 1 - Math.sin(a) - 0.5;
    if (noise > 0) {
      x += noise * rng.normal();
      y += noise * rng.normal();
    }
    out[2 * i] = scale * (x - 0.5);
    out[2 * i + 1] = scale * (y - 0.25);
  }
  return out;
}

export const moonsSchema = z
  .object({
    noise: z.number().min(0).default(0.1).describe('std of the noise on each coordinate, before scaling'),
    scale: z.number().positive().default(2).describe('multiplier of the centred points'),
    ...pointSetOptionFields,
  })
  .strict();
export type MoonsOptions = z.output<typeof moonsSchema>;

/** Two interleaving moons. */
export class MoonsDataset extends PointDataset2D {
  readonly options: MoonsOptions;

  constructor(options: z.input<typeof moonsSchema> = {}) {
    const o = parseOptions(moonsSchema, options, 'moons');
    super('moons', (n, rng) => moonsPoints(n, rng, o), o.size, o.seed);
    this.options = o;
  }
}

export const moonsPlugin = definePlugin({
  kind: 'dataset',
  id: 'moons',
  summary: 'Two interleaving half circles (sklearn make_moons), centred, noise 0.1, scaled 2',
  options: moonsSchema,
  create: (o) => new MoonsDataset(o),
});
