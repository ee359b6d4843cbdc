/**
 * Checkerboard, FFJORD's toy data definition (rtqichen/ffjord lib/toy_data.py, "checkerboard"):
 *
 *   x1 ~ U(-2, 2);  x2' = U(0, 1) - 2 B, B ~ Bernoulli(1/2);  x2 = x2' + (floor(x1) mod 2)
 *   point = scale * (x1, x2)          (FFJORD: scale 2)
 *
 * Points fill the 8 unit squares of a 4 x 4 board (before scaling) whose corner indices
 * floor(x1) + floor(x2) are even.
 */
import { definePlugin, type Rng } from '@difflab/core';
import { z } from 'zod';
import { PointDataset2D, parseOptions, pointSetOptionFields } from './point-dataset.js';

export interface CheckerboardPointOptions {
  /** Multiplier of the points. Default 2. */
  scale?: number;
}

/** n checkerboard points drawn from `rng`, interleaved. */
export function checkerboardPoints(n: number, rng: Rng, opts: CheckerboardPointOptions = {}): Float32Array {
  const scale = opts.scale ?? 2;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x1 = 4 * rng.uniform() - 2;
    const x2p = rng.uniform() - 2 * rng.int(2);
    // Python's % is non-negative for a positive modulus; floor(x1) is in -2..1.
    const parity = ((Math.floor(x1) % 2) + 2) % 2;
    out[2 * i] = scale * x1;
    out[2 * i + 1] = scale * (x2p + parity);
  }
  return out;
}

export const checkerboardSchema = z
  .object({
    scale: z.number().positive().default(2).describe('multiplier of the points'),
    ...pointSetOptionFields,
  })
  .strict();
export type CheckerboardOptions = z.output<typeof checkerboardSchema>;

/** Uniform points on the dark squares of a 4 x 4 checkerboard. */
export class CheckerboardDataset extends PointDataset2D {
  readonly options: CheckerboardOptions;

  constructor(options: z.input<typeof checkerboardSchema> = {}) {
    const o = parseOptions(checkerboardSchema, options, 'checkerboard');
    super('checkerboard', (n, rng) => checkerboardPoints(n, rng, o), o.size, o.seed);
    this.options = o;
  }
}

export const checkerboardPlugin = definePlugin({
  kind: 'dataset',
  id: 'checkerboard',
  summary: 'Checkerboard of 8 uniform squares (FFJORD toy data)',
  options: checkerboardSchema,
  create: (o) => new CheckerboardDataset(o),
});
