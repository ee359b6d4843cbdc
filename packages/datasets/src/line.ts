/**
 * tiny-diffusion's "line" set (tanelp/tiny-diffusion, datasets.py `line_dataset`):
 * x ~ U(-0.5, 0.5), y ~ U(-1, 1), point = scale * (x, y) with scale 4, i.e. a filled upright
 * bar [-2, 2] x [-4, 4] (a thick vertical line), not the y = x line of FFJORD's toy data.
 */
import { definePlugin, type Rng } from '@difflab/core';
import { z } from 'zod';
import { PointDataset2D, parseOptions, pointSetOptionFields } from './point-dataset.js';

export interface LinePointOptions {
  /** Multiplier of the points. Default 4. */
  scale?: number;
}

/** n "line" points drawn from `rng`, interleaved. */
export function linePoints(n: number, rng: Rng, opts: LinePointOptions = {}): Float32Array {
  const scale = opts.scale ?? 4;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = scale * (rng.uniform() - 0.5);
    out[2 * i + 1] = scale * (2 * rng.uniform() - 1);
  }
  return out;
}

export const lineSchema = z
  .object({
    scale: z.number().positive().default(4).describe('multiplier of the points'),
    ...pointSetOptionFields,
  })
  .strict();
export type LineOptions = z.output<typeof lineSchema>;

/** tiny-diffusion's "line": uniform on [-0.5, 0.5] x [-1, 1], times 4. */
export class LineDataset extends PointDataset2D {
  readonly options: LineOptions;

  constructor(options: z.input<typeof lineSchema> = {}) {
    const o = parseOptions(lineSchema, options, 'line');
    super('line', (n, rng) => linePoints(n, rng, o), o.size, o.seed);
    this.options = o;
  }
}

export const linePlugin = definePlugin({
  kind: 'dataset',
  id: 'line',
  summary: "Uniform bar [-2, 2] x [-4, 4] (tiny-diffusion's 'line')",
  options: lineSchema,
  create: (o) => new LineDataset(o),
});
