/**
 * Sinusoidal input embedding of points x [B, inDim]: each coordinate gets its own sinusoidal
 * embedding of scale * x_i (the timestep formula of `timestepEmbedding`, downscaleFreqShift 1),
 * concatenated in coordinate order: [B, inDim * dim]. This is tiny-diffusion's input layer
 * (tanelp/tiny-diffusion, ddpm.py: `SinusoidalEmbedding(emb_size, scale=25.0)` per coordinate,
 * concatenated), which lets a small MLP resolve fine detail of a 2-D distribution
 * (Tancik et al. 2020).
 */
import { definePlugin, type InputEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions } from './options.js';
import { timestepEmbedding } from './sinusoidal.js';

export interface SinusoidalInputOptions {
  /** Multiplier of x before the sinusoids. Default 25 (tiny-diffusion). */
  scale?: number;
  /** Longest period. Default 10000. */
  maxPeriod?: number;
}

/** Per-coordinate sinusoidal features of x [B, inDim] -> [B, inDim * dim]. */
export function sinusoidalInputEmbedding(x: tf.Tensor2D, dim = 128, opts: SinusoidalInputOptions = {}): tf.Tensor2D {
  checkInt('dim', dim, 1);
  if (x.rank !== 2) throw new RangeError(`input must be a 2-D tensor [B, inDim], got shape [${x.shape.join(', ')}]`);
  const [b, inDim] = x.shape;
  return tf.tidy(() => {
    const flat = tf.reshape(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), [b * inDim]) as tf.Tensor1D;
    const emb = timestepEmbedding(flat, dim, { scale: opts.scale ?? 25, maxPeriod: opts.maxPeriod ?? 10000, downscaleFreqShift: 1 });
    return tf.reshape(emb, [b, inDim * dim]) as tf.Tensor2D;
  });
}

export const sinusoidalInputSchema = z
  .object({
    inDim: z.number().int().min(1).default(2).describe('coordinates per point'),
    dim: z.number().int().min(1).max(4096).default(128).describe('features per coordinate (outDim = inDim * dim)'),
    scale: z.number().default(25).describe('multiplier of x before the sinusoids'),
    maxPeriod: z.number().positive().default(10000).describe('longest period'),
  })
  .strict();
export type SinusoidalInputEmbeddingOptions = z.output<typeof sinusoidalInputSchema>;

/** Sinusoidal features of each coordinate of a point. */
export class SinusoidalInputEmbedding implements InputEmbedding {
  readonly id = 'sinusoidal';
  readonly inDim: number;
  readonly outDim: number;
  readonly options: SinusoidalInputEmbeddingOptions;
  readonly trainableVariables: tf.Variable[] = [];

  constructor(options: z.input<typeof sinusoidalInputSchema> = {}) {
    this.options = parseOptions(sinusoidalInputSchema, options, 'sinusoidal');
    this.inDim = this.options.inDim;
    this.outDim = this.options.inDim * this.options.dim;
  }

  embed(x: tf.Tensor2D): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inDim) {
      throw new RangeError(`sinusoidal input embedding expects [B, ${this.inDim}], got [${x.shape.join(', ')}]`);
    }
    return sinusoidalInputEmbedding(x, this.options.dim, this.options);
  }

  dispose(): void {}
}

export const sinusoidalInputPlugin = definePlugin({
  kind: 'input-embedding',
  id: 'sinusoidal',
  summary: 'Sinusoidal features of each coordinate of x (tiny-diffusion, scale 25)',
  options: sinusoidalInputSchema,
  create: (o) => new SinusoidalInputEmbedding(o),
});
