/**
 * Sinusoidal timestep embedding, exactly diffusers' `get_timestep_embedding`
 * (diffusers/models/embeddings.py; Vaswani et al. 2017, sec. 3.5; Ho et al. 2020, appendix B):
 *
 *   half = floor(dim / 2)
 *   freq_k = exp(-ln(maxPeriod) * k / (half - downscaleFreqShift)),  k = 0 .. half-1
 *   emb = scale * t * freq   ->   [sin(emb), cos(emb)]   ([cos, sin] with flipSinToCos)
 *   one zero column appended when dim is odd.
 *
 * With the defaults (shift 1, scale 1) this is also tiny-diffusion's `SinusoidalEmbedding`
 * (tanelp/tiny-diffusion, positional_embeddings.py), whose `scale` multiplies t first.
 * Frequencies are computed in float64 (with `scale` folded in) and then cast to float32.
 * One deviation: diffusers yields NaN for freq_0 when half == downscaleFreqShift (0/0); here
 * freq_0 is always exp(0) = 1, so dim = 2 with shift 1 gives [sin t, cos t].
 */
import { DIFFLAB_KERNELS, definePlugin, type TimestepEmbedding } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkInt, parseOptions, timestepsTensor } from './options.js';

export interface SinusoidalFrequencyOptions {
  /** Longest period of the sinusoids (diffusers' `max_period`). Default 10000. */
  maxPeriod?: number;
  /** diffusers' `downscale_freq_shift`. Default 1. */
  downscaleFreqShift?: number;
  /** Multiplier of t * freq (diffusers' `scale`). Default 1. */
  scale?: number;
}

export interface SinusoidalEmbeddingOptions extends SinusoidalFrequencyOptions {
  /** Put cos before sin (diffusers' `flip_sin_to_cos`). Default false. */
  flipSinToCos?: boolean;
}

/** The floor(dim/2) frequencies (times `scale`) of the sinusoidal embedding, in float64. */
export function sinusoidalFrequencies(dim: number, opts: SinusoidalFrequencyOptions = {}): Float64Array {
  checkInt('dim', dim, 1);
  const maxPeriod = opts.maxPeriod ?? 10000;
  const shift = opts.downscaleFreqShift ?? 1;
  const scale = opts.scale ?? 1;
  const half = Math.floor(dim / 2);
  const out = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    const exponent = k === 0 ? 0 : (-Math.log(maxPeriod) * k) / (half - shift);
    out[k] = scale * Math.exp(exponent);
  }
  return out;
}

/**
 * Sinusoidal features of timesteps t [B] -> [B, dim] (float32), as diffusers'
 * `get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift, scale, max_period)`.
 * The caller owns the returned tensor; intermediates are freed.
 */
export function timestepEmbedding(t: tf.Tensor1D | readonly number[], dim = 128, opts: SinusoidalEmbeddingOptions = {}): tf.Tensor2D {
  const freqs = sinusoidalFrequencies(dim, opts);
  const half = freqs.length;
  return tf.tidy(() => {
    const tt = timestepsTensor(t);
    const b = tt.shape[0];
    const parts: tf.Tensor2D[] = [];
    if (half > 0 && dim % 2 === 0 && tf.getKernel(DIFFLAB_KERNELS.sinusoidal, tf.getBackend())) {
      // one kernel where the backend has it (@difflab/runtime: wasm in Node with its native addon)
      return tf.engine().runKernel(DIFFLAB_KERNELS.sinusoidal, { x: tt, freqs: tf.tensor1d(Float32Array.from(freqs)) }, { cosFirst: opts.flipSinToCos === true }) as tf.Tensor2D;
    }
    if (half > 0) {
      const arg = tf.mul(tf.reshape(tt, [b, 1]), tf.tensor2d(Float32Array.from(freqs), [1, half]));
      const sin = tf.sin(arg) as tf.Tensor2D;
      const cos = tf.cos(arg) as tf.Tensor2D;
      parts.push(...(opts.flipSinToCos ? [cos, sin] : [sin, cos]));
    }
    if (dim % 2 === 1) parts.push(tf.zeros([b, 1]));
    return parts.length === 1 ? parts[0] : tf.concat2d(parts, 1);
  });
}

export const sinusoidalTimestepSchema = z
  .object({
    dim: z.number().int().min(1).max(4096).default(128).describe('output features'),
    maxPeriod: z.number().positive().default(10000).describe("longest period (diffusers' max_period)"),
    flipSinToCos: z.boolean().default(false).describe('cos before sin'),
    downscaleFreqShift: z.number().default(1).describe("diffusers' downscale_freq_shift"),
    scale: z.number().default(1).describe('multiplier of t * freq'),
  })
  .strict();
export type SinusoidalTimestepOptions = z.output<typeof sinusoidalTimestepSchema>;

/** Fixed sinusoidal timestep embedding (no parameters). */
export class SinusoidalTimestepEmbedding implements TimestepEmbedding {
  readonly id = 'sinusoidal';
  readonly dim: number;
  readonly options: SinusoidalTimestepOptions;
  readonly trainableVariables: tf.Variable[] = [];

  constructor(options: z.input<typeof sinusoidalTimestepSchema> = {}) {
    this.options = parseOptions(sinusoidalTimestepSchema, options, 'sinusoidal');
    this.dim = this.options.dim;
  }

  embed(t: tf.Tensor1D): tf.Tensor2D {
    return timestepEmbedding(t, this.dim, this.options);
  }

  dispose(): void {}
}

export const sinusoidalTimestepPlugin = definePlugin({
  kind: 'timestep-embedding',
  id: 'sinusoidal',
  summary: "Sinusoidal features of t (diffusers' get_timestep_embedding)",
  options: sinusoidalTimestepSchema,
  create: (o) => new SinusoidalTimestepEmbedding(o),
});
