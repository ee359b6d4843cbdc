/**
 * Identity input embedding: the raw coordinates, outDim = inDim (tiny-diffusion's "identity"
 * input embedding, the baseline that the sinusoidal one beats on fine 2-D detail).
 */
import { definePlugin, type InputEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseOptions } from './options.js';

/** A copy of x [B, inDim] (a new tensor the caller owns). */
export function identityInputEmbedding(x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2) throw new RangeError(`input must be a 2-D tensor [B, inDim], got shape [${x.shape.join(', ')}]`);
  return tf.clone(x);
}

export const identityInputSchema = z
  .object({
    inDim: z.number().int().min(1).default(2).describe('coordinates per point (outDim = inDim)'),
  })
  .strict();
export type IdentityInputEmbeddingOptions = z.output<typeof identityInputSchema>;

/** The raw coordinates. */
export class IdentityInputEmbedding implements InputEmbedding {
  readonly id = 'identity';
  readonly inDim: number;
  readonly outDim: number;
  readonly trainableVariables: tf.Variable[] = [];

  constructor(options: z.input<typeof identityInputSchema> = {}) {
    this.inDim = parseOptions(identityInputSchema, options, 'identity').inDim;
    this.outDim = this.inDim;
  }

  embed(x: tf.Tensor2D): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inDim) {
      throw new RangeError(`identity input embedding expects [B, ${this.inDim}], got [${x.shape.join(', ')}]`);
    }
    return identityInputEmbedding(x);
  }

  dispose(): void {}
}

export const identityInputPlugin = definePlugin({
  kind: 'input-embedding',
  id: 'identity',
  summary: 'The raw coordinates (outDim = inDim)',
  options: identityInputSchema,
  create: (o) => new IdentityInputEmbedding(o),
});
