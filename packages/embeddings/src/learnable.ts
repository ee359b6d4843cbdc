/**
 * Learnable timestep embedding: a table [T, dim] with one trained row per training timestep
 * (a lookup table, as `nn.Embedding(T, dim)` in PyTorch diffusion code; Ho et al. 2020 use the
 * fixed sinusoidal one instead). Fractional t is rounded to the nearest step (halves up) and
 * clamped to [0, T-1]. The lookup is a one-hot matmul, so its gradient is a matmul too: the wasm
 * backend has no `UnsortedSegmentSum` kernel, which the gradient of `tf.gather` needs.
 */
import { definePlugin, resolveRequired, Rng, TOKENS, type TimestepEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions, timestepsTensor } from './options.js';

/** Rows of `table` [T, dim] at the timesteps t [B] (rounded, clamped): [B, dim], differentiable in `table`. */
export function learnableTimestepEmbedding(table: tf.Tensor2D, t: tf.Tensor1D | readonly number[]): tf.Tensor2D {
  const T = table.shape[0];
  return tf.tidy(() => {
    const idx = tf.cast(tf.clipByValue(tf.floor(tf.add(timestepsTensor(t), 0.5)), 0, T - 1), 'int32') as tf.Tensor1D;
    // oneHot in int32, then cast: the wasm OneHot kernel writes int32 bits whatever dtype is asked.
    const oneHot = tf.cast(tf.oneHot(idx, T), 'float32') as tf.Tensor2D;
    return tf.matMul(oneHot, table);
  });
}

export const learnableTimestepSchema = z
  .object({
    dim: z.number().int().min(1).max(4096).default(128).describe('output features'),
    seed: z.number().int().min(0).default(0).describe('seed of the random initial table'),
    initStd: z.number().min(0).default(0.02).describe('standard deviation of the initial N(0, initStd^2) table'),
  })
  .strict();
export type LearnableTimestepOptions = z.output<typeof learnableTimestepSchema>;

/** A trained [T, dim] table of timestep features; T is the schedule's number of training steps. */
export class LearnableTimestepEmbedding implements TimestepEmbedding {
  readonly id = 'learnable';
  readonly dim: number;
  readonly numTrainTimesteps: number;
  readonly options: LearnableTimestepOptions;
  /** The [T, dim] table. */
  readonly table: tf.Variable<tf.Rank.R2>;

  constructor(numTrainTimesteps: number, options: z.input<typeof learnableTimestepSchema> = {}) {
    checkInt('numTrainTimesteps', numTrainTimesteps, 1);
    this.options = parseOptions(learnableTimestepSchema, options, 'learnable');
    this.dim = this.options.dim;
    this.numTrainTimesteps = numTrainTimesteps;
    const rng = new Rng(this.options.seed);
    const init = tf.tensor2d(rng.normalArray(numTrainTimesteps * this.dim, 0, this.options.initStd), [numTrainTimesteps, this.dim]);
    this.table = tf.variable(init, true);
    init.dispose();
  }

  get trainableVariables(): tf.Variable[] {
    return [this.table];
  }

  embed(t: tf.Tensor1D): tf.Tensor2D {
    return learnableTimestepEmbedding(this.table, t);
  }

  dispose(): void {
    this.table.dispose();
  }
}

export const learnableTimestepPlugin = definePlugin({
  kind: 'timestep-embedding',
  id: 'learnable',
  summary: 'Learned [T, dim] table, one row per training timestep (T from the schedule)',
  options: learnableTimestepSchema,
  create: (o, container) => new LearnableTimestepEmbedding(resolveRequired(container, TOKENS.Schedule).numTrainTimesteps, o),
});
