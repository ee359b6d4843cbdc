/**
 * Gaussian Fourier feature embedding of t (Tancik et al. 2020, "Fourier Features Let Networks
 * Learn High Frequency Functions"; Song et al. 2021, score_sde `GaussianFourierProjection`):
 *
 *   W_k ~ N(0, scale^2), k = 0 .. dim/2 - 1, fixed (drawn once from Rng(seed))
 *   emb = [sin(2 pi x W), cos(2 pi x W)],  x = t (or t / T with `normalize`, then ln x with `log`)
 *
 * score_sde feeds ln(sigma) with scale 16. With `log`, x is clamped to >= 1e-5 first so that
 * t = 0 stays finite.
 */
import { definePlugin, resolveRequired, Rng, TOKENS, type TimestepEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions, timestepsTensor } from './options.js';

/** Smallest input fed to the logarithm in `log` mode. */
export const FOURIER_LOG_FLOOR = 1e-5;

/** The fixed random frequencies W ~ N(0, scale^2), `count` of them, from Rng(seed). */
export function gaussianFourierWeights(count: number, scale = 16, seed = 0): Float32Array {
  checkInt('count', count, 1);
  return new Rng(seed).normalArray(count, 0, scale);
}

export interface FourierEmbeddingOptions {
  /** Feed ln(max(x, 1e-5)) instead of x. Default false. */
  log?: boolean;
  /** Multiplier of t before the (optional) log, e.g. 1/T. Default 1. */
  inputScale?: number;
}

/** [sin(2 pi x W), cos(2 pi x W)] for timesteps t [B] and weights W [n]: [B, 2n]. */
export function fourierTimestepEmbedding(t: tf.Tensor1D | readonly number[], weights: ArrayLike<number>, opts: FourierEmbeddingOptions = {}): tf.Tensor2D {
  const n = weights.length;
  checkInt('weights.length', n, 1);
  const w2pi = new Float32Array(n);
  for (let k = 0; k < n; k++) w2pi[k] = 2 * Math.PI * weights[k];
  return tf.tidy(() => {
    let x: tf.Tensor1D = timestepsTensor(t);
    const b = x.shape[0];
    if ((opts.inputScale ?? 1) !== 1) x = tf.mul(x, opts.inputScale ?? 1) as tf.Tensor1D;
    if (opts.log) x = tf.log(tf.maximum(x, FOURIER_LOG_FLOOR)) as tf.Tensor1D;
    const arg = tf.mul(tf.reshape(x, [b, 1]), tf.tensor2d(w2pi, [1, n]));
    return tf.concat2d([tf.sin(arg) as tf.Tensor2D, tf.cos(arg) as tf.Tensor2D], 1);
  });
}

export const fourierTimestepSchema = z
  .object({
    dim: z.number().int().min(2).max(4096).multipleOf(2).default(128).describe('output features (even): dim/2 frequencies'),
    scale: z.number().min(0).default(16).describe('standard deviation of the random frequencies W'),
    seed: z.number().int().min(0).default(0).describe('seed of W'),
    log: z.boolean().default(false).describe('feed ln(t) (as score_sde feeds ln sigma)'),
    normalize: z.boolean().default(false).describe('feed t / T (T from the schedule) instead of t'),
  })
  .strict();
export type FourierTimestepOptions = z.output<typeof fourierTimestepSchema>;

/** Fixed random Fourier features of t. */
export class FourierTimestepEmbedding implements TimestepEmbedding {
  readonly id = 'fourier';
  readonly dim: number;
  readonly options: FourierTimestepOptions;
  /** The dim/2 frequencies W (before the 2 pi factor). */
  readonly weights: Float32Array;
  readonly trainableVariables: tf.Variable[] = [];
  private readonly inputScale: number;

  /** `numTrainTimesteps` is needed only with `normalize`. */
  constructor(options: z.input<typeof fourierTimestepSchema> = {}, numTrainTimesteps?: number) {
    this.options = parseOptions(fourierTimestepSchema, options, 'fourier');
    this.dim = this.options.dim;
    this.weights = gaussianFourierWeights(this.dim / 2, this.options.scale, this.options.seed);
    if (this.options.normalize) {
      if (numTrainTimesteps === undefined) throw new RangeError('fourier: normalize needs numTrainTimesteps');
      checkInt('numTrainTimesteps', numTrainTimesteps, 1);
    }
    this.inputScale = this.options.normalize ? 1 / (numTrainTimesteps as number) : 1;
  }

  embed(t: tf.Tensor1D): tf.Tensor2D {
    return fourierTimestepEmbedding(t, this.weights, { log: this.options.log, inputScale: this.inputScale });
  }

  dispose(): void {}
}

export const fourierTimestepPlugin = definePlugin({
  kind: 'timestep-embedding',
  id: 'fourier',
  summary: 'Gaussian random Fourier features of t (Tancik et al. 2020; score_sde)',
  options: fourierTimestepSchema,
  create: (o, container) =>
    new FourierTimestepEmbedding(o, o.normalize ? resolveRequired(container, TOKENS.Schedule).numTrainTimesteps : undefined),
});
