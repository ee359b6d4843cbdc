/**
 * Eight Gaussians on a circle, FFJORD's toy data definition (Grathwohl et al. 2019;
 * rtqichen/ffjord lib/toy_data.py, "8gaussians"): centres at radius 4 at angles k pi/4,
 * point = (centre + 0.5 N(0, I)) / 1.414. Here: point = scale * (radius (cos k pi/4, sin k pi/4)
 * + std N(0, I)), k uniform in 0..7, with defaults radius 4, std 0.5, scale 1/1.414.
 */
import { definePlugin, type Rng } from '@difflab/core';
import { z } from 'zod';
import { PointDataset2D, parseOptions, pointSetOptionFields } from './point-dataset.js';

/** FFJORD's default scale: it divides by the literal 1.414 (not sqrt 2). */
// biome-ignore lint/suspicious/noApproximativeNumericConstant: FFJORD's published constant is 1.414, kept exactly
export const FFJORD_8GAUSSIANS_SCALE = 1 / 1.414;

export interface EightGaussiansPointOptions {
  /** Radius of the circle of centres (before scaling). Default 4. */
  radius?: number;
  /** Std of each Gaussian (before scaling). Default 0.5. */
  std?: number;
  /** Multiplier of the points. Default 1/1.414 (FFJORD). */
  scale?: number;
}

/** n eight-Gaussians points drawn from `rng`, interleaved. */
export function eightGaussiansPoints(n: number, rng: Rng, opts: EightGaussiansPointOptions = {}): Float32Array {
  const radius = opts.radius ?? 4;
  const std = opts.std ?? 0.5;
  const scale = opts.scale ?? FFJORD_8GAUSSIANS_SCALE;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = (rng.int(8) * Math.PI) / 4;
    let x = radius * Math.cos(a);
    let y = radius * Math.sin(a);
    if (std > 0) {
      x += std * rng.normal();
      y += std * rng.normal();
    }
    out[2 * i] = scale * x;
    out[2 * i + 1] = scale * y;
  }
  return out;
}

export const eightGaussiansSchema = z
  .object({
    radius: z.number().positive().default(4).describe('radius of the circle of centres, before scaling'),
    std: z.number().min(0).default(0.5).describe('std of each Gaussian, before scaling'),
    scale: z.number().positive().default(FFJORD_8GAUSSIANS_SCALE).describe('multiplier of the points'),
    ...pointSetOptionFields,
  })
  .strict();
export type EightGaussiansOptions = z.output<typeof eightGaussiansSchema>;

/** Eight Gaussians on a circle. */
export class EightGaussiansDataset extends PointDataset2D {
  readonly options: EightGaussiansOptions;

  constructor(options: z.input<typeof eightGaussiansSchema> = {}) {
    const o = parseOptions(eightGaussiansSchema, options, '8gaussians');
    super('8gaussians', (n, rng) => eightGaussiansPoints(n, rng, o), o.size, o.seed);
    this.options = o;
  }
}

export const eightGaussiansPlugin = definePlugin({
  kind: 'dataset',
  id: '8gaussians',
  summary: 'Eight Gaussians on a circle (FFJORD toy data)',
  options: eightGaussiansSchema,
  create: (o) => new EightGaussiansDataset(o),
});
