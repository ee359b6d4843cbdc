/**
 * Zero timestep embedding: [B, dim] zeros, so the model is not told t (an ablation; tiny-diffusion's
 * `ZeroEmbedding`, tanelp/tiny-diffusion, which has one feature). The denoiser then has to
 * guess the noise level from x_t alone.
 */
import { definePlugin, type TimestepEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions } from './options.js';

/** Zeros [B, dim] for timesteps t [B]. */
export function zeroTimestepEmbedding(t: tf.Tensor1D | readonly number[], dim = 1): tf.Tensor2D {
  checkInt('dim', dim, 1);
  const b = Array.isArray(t) ? t.length : (t as tf.Tensor1D).shape[0];
  if (!Array.isArray(t) && (t as tf.Tensor).rank !== 1) throw new RangeError(`timesteps must be a 1-D tensor [B], got shape [${(t as tf.Tensor).shape.join(', ')}]`);
  return tf.zeros([b, dim]);
}

export const zeroTimestepSchema = z
  .object({
    dim: z.number().int().min(1).max(4096).default(1).describe('output features (all zero)'),
  })
  .strict();
export type ZeroTimestepOptions = z.output<typeof zeroTimestepSchema>;

/** Tells the model nothing about t. */
export class ZeroTimestepEmbedding implements TimestepEmbedding {
  readonly id = 'zero';
  readonly dim: number;
  readonly trainableVariables: tf.Variable[] = [];

  constructor(options: z.input<typeof zeroTimestepSchema> = {}) {
    this.dim = parseOptions(zeroTimestepSchema, options, 'zero').dim;
  }

  embed(t: tf.Tensor1D): tf.Tensor2D {
    return zeroTimestepEmbedding(t, this.dim);
  }

  dispose(): void {}
}

export const zeroTimestepPlugin = definePlugin({
  kind: 'timestep-embedding',
  id: 'zero',
  summary: 'Zeros: the model is not told t (ablation)',
  options: zeroTimestepSchema,
  create: (o) => new ZeroTimestepEmbedding(o),
});
