/**
 * Linear timestep embedding: the normalised step itself, t / T * scale, as one feature [B, 1].
 * After tiny-diffusion's `LinearEmbedding` (tanelp/tiny-diffusion, positional_embeddings.py),
 * which divides by its `size` argument; here the divisor is the schedule's T, so the feature
 * lies in [0, scale).
 */
import { definePlugin, resolveRequired, TOKENS, type TimestepEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions, timestepsTensor } from './options.js';

/** t / numTrainTimesteps * scale as a [B, 1] tensor. */
export function linearTimestepEmbedding(t: tf.Tensor1D | readonly number[], numTrainTimesteps: number, scale = 1): tf.Tensor2D {
  checkInt('numTrainTimesteps', numTrainTimesteps, 1);
  return tf.tidy(() => {
    const tt = timestepsTensor(t);
    return tf.reshape(tf.mul(tt, scale / numTrainTimesteps), [tt.shape[0], 1]) as tf.Tensor2D;
  });
}

export const linearTimestepSchema = z
  .object({
    scale: z.number().default(1).describe('multiplier of t / T'),
  })
  .strict();
export type LinearTimestepOptions = z.output<typeof linearTimestepSchema>;

/** One feature t / T * scale (dim = 1). */
export class LinearTimestepEmbedding implements TimestepEmbedding {
  readonly id = 'linear';
  readonly dim = 1;
  readonly numTrainTimesteps: number;
  readonly options: LinearTimestepOptions;
  readonly trainableVariables: tf.Variable[] = [];

  constructor(numTrainTimesteps: number, options: z.input<typeof linearTimestepSchema> = {}) {
    checkInt('numTrainTimesteps', numTrainTimesteps, 1);
    this.options = parseOptions(linearTimestepSchema, options, 'linear');
    this.numTrainTimesteps = numTrainTimesteps;
  }

  embed(t: tf.Tensor1D): tf.Tensor2D {
    return linearTimestepEmbedding(t, this.numTrainTimesteps, this.options.scale);
  }

  dispose(): void {}
}

export const linearTimestepPlugin = definePlugin({
  kind: 'timestep-embedding',
  id: 'linear',
  summary: 'One feature t / T * scale (T from the schedule)',
  options: linearTimestepSchema,
  create: (o, container) => new LinearTimestepEmbedding(resolveRequired(container, TOKENS.Schedule).numTrainTimesteps, o),
});
