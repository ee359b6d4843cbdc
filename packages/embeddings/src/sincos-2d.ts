/**
 * 2-D sine-cosine positional embedding of an h x w grid, as MAE's / DiT's
 * `get_2d_sincos_pos_embed` (facebookresearch/mae util/pos_embed.py; diffusers
 * models/embeddings.py at interpolation scale 1 and base size = grid size):
 *
 *   omega_k = 1 / maxPeriod^(k / (dim/4)),  k = 0 .. dim/4 - 1
 *   cell (row r, column c) -> [sin(c omega), cos(c omega), sin(r omega), cos(r omega)]
 *
 * The first half of the features encodes the column (MAE's meshgrid puts w first), the second
 * the row. Rows of the result run over cells in row-major order (index r * w + c): [h*w, dim].
 * Computed in float64, returned as float32.
 */
import { ConfigError, definePlugin, type PositionalEmbedding2D } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions } from './options.js';

/** The [h*w, dim] sin-cos table as a row-major Float32Array. */
export function sincos2dValues(height: number, width: number, dim: number, maxPeriod = 10000): Float32Array {
  checkInt('height', height, 1);
  checkInt('width', width, 1);
  if (!Number.isInteger(dim) || dim < 4 || dim % 4 !== 0) throw new ConfigError('dim', `must be a positive multiple of 4 for a 2-D sin-cos embedding, got ${dim}`);
  const q = dim / 4;
  const omega = new Float64Array(q);
  for (let k = 0; k < q; k++) omega[k] = 1 / maxPeriod ** (k / q);
  const out = new Float32Array(height * width * dim);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const base = (r * width + c) * dim;
      for (let k = 0; k < q; k++) {
        out[base + k] = Math.sin(c * omega[k]);
        out[base + q + k] = Math.cos(c * omega[k]);
        out[base + 2 * q + k] = Math.sin(r * omega[k]);
        out[base + 3 * q + k] = Math.cos(r * omega[k]);
      }
    }
  }
  return out;
}

/** MAE/DiT 2-D sin-cos positional embedding [height*width, dim] (row-major cells). */
export function sincos2dPositionalEmbedding(height: number, width: number, dim: number, maxPeriod = 10000): tf.Tensor2D {
  return tf.tensor2d(sincos2dValues(height, width, dim, maxPeriod), [height * width, dim], 'float32');
}

export const sincos2dSchema = z
  .object({
    dim: z.number().int().min(4).max(4096).multipleOf(4).default(64).describe('features per cell (multiple of 4)'),
    maxPeriod: z.number().positive().default(10000).describe('longest period (temperature)'),
  })
  .strict();
export type SinCos2DOptions = z.output<typeof sincos2dSchema>;

/** Fixed 2-D sin-cos positional embedding of pixels or patches. */
export class SinCos2DPositionalEmbedding implements PositionalEmbedding2D {
  readonly id = 'sincos-2d';
  readonly dim: number;
  readonly options: SinCos2DOptions;

  constructor(options: z.input<typeof sincos2dSchema> = {}) {
    this.options = parseOptions(sincos2dSchema, options, 'sincos-2d');
    this.dim = this.options.dim;
  }

  embed(height: number, width: number): tf.Tensor2D {
    return sincos2dPositionalEmbedding(height, width, this.dim, this.options.maxPeriod);
  }
}

export const sincos2dPlugin = definePlugin({
  kind: 'positional-embedding',
  id: 'sincos-2d',
  summary: '2-D sin-cos positional embedding of an h x w grid (MAE / DiT)',
  options: sincos2dSchema,
  create: (o) => new SinCos2DPositionalEmbedding(o),
});
