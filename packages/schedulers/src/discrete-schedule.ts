import * as tf from '@tensorflow/tfjs-core';
import { gatherCoefficients, type NoiseSchedule, type PosteriorCoefficients, type ScheduleConfig, type TimestepSpacing } from '@difflab/core';
import { cumprodF32, oneMinusF32 } from './float32.js';
import { rescaleZeroTerminalSnr } from './rescale.js';
import { inferenceTimesteps } from './timesteps.js';

const f = Math.fround;

/** sigma_t = sqrt((1 - abar_t) / abar_t) in float32, as diffusers' Euler-type schedulers build it. Infinity where abar_t = 0. */
export function sigmasFromAlphasCumprod(alphasCumprod: ArrayLike<number>): Float64Array {
  const out = new Float64Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) {
    const a = alphasCumprod[i];
    out[i] = a === 0 ? Number.POSITIVE_INFINITY : f(Math.sqrt(f(f(1 - a) / a)));
  }
  return out;
}

/**
 * A discrete DDPM noise schedule over t = 0..T-1 built from its betas (Ho et al. 2020, sec. 2):
 * alpha_t = 1 - beta_t, alpha-bar_t = prod_{s <= t} alpha_s, with every table in float32 values
 * (stored in Float64Arrays) the way diffusers computes them with torch.
 *
 * Every kind (linear, cosine, ...) is this class with different betas; `config` records how the
 * betas were made so the schedule can be written to and read from a diffusers config.
 */
export class DiscreteSchedule implements NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  readonly sigmas: Float64Array;
  /** sqrt(abar_t) in float32 (diffusers `alphas_cumprod[t] ** 0.5`). */
  readonly sqrtAlphasCumprod: Float64Array;
  /** sqrt(1 - abar_t) in float32. */
  readonly sqrtOneMinusAlphasCumprod: Float64Array;

  /**
   * @param id plugin id that made the schedule
   * @param config its diffusers-style config (`rescale_betas_zero_snr` is applied here)
   * @param betas the betas before any rescale, already float32 values
   */
  constructor(
    readonly id: string,
    readonly config: ScheduleConfig,
    betas: Float64Array,
  ) {
    if (betas.length < 2) throw new RangeError(`a schedule needs at least 2 timesteps, got ${betas.length}`);
    this.numTrainTimesteps = betas.length;
    this.betas = config.rescale_betas_zero_snr ? rescaleZeroTerminalSnr(betas) : Float64Array.from(betas);
    this.alphas = oneMinusF32(this.betas);
    this.alphasCumprod = cumprodF32(this.alphas);
    this.sigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    this.sqrtAlphasCumprod = this.alphasCumprod.map((a) => f(Math.sqrt(a)));
    this.sqrtOneMinusAlphasCumprod = this.alphasCumprod.map((a) => f(Math.sqrt(f(1 - a))));
  }

  /** q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, eq. 4): sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise. */
  addNoise(x0: tf.Tensor, noise: tf.Tensor, t: number | number[] | tf.Tensor): tf.Tensor {
    return this.combine(this.sqrtAlphasCumprod, x0, this.sqrtOneMinusAlphasCumprod, noise, t, 'addNoise');
  }

  /** v = sqrt(abar_t) noise - sqrt(1 - abar_t) x_0 (Salimans & Ho 2022, sec. 4). */
  velocity(x0: tf.Tensor, noise: tf.Tensor, t: number | number[] | tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const a = this.coefficient(this.sqrtAlphasCumprod, t, noise);
      const b = this.coefficient(this.sqrtOneMinusAlphasCumprod, t, x0);
      checkSameShape(x0, noise, 'velocity');
      return tf.sub(tf.mul(a, noise), tf.mul(b, x0));
    });
  }

  /**
   * Posterior q(x_{t-1} | x_t, x_0) at step t (Ho et al. 2020, eq. 6-7), with abar_{-1} := 1:
   * mean = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t,
   * variance = (1 - abar_{t-1}) / (1 - abar_t) beta_t. At t = 0 the mean is x_0 and the variance 0.
   */
  posterior(t: number): PosteriorCoefficients {
    this.checkStep(t);
    // abar_{-1} = 1 makes q(x_{-1} | x_0, x_0) a point mass at x_0; return the exact coefficients
    // rather than beta_0 / (1 - abar_0), which float32 tables give only to ~1e-4.
    if (t === 0) return { coefX0: 1, coefXt: 0, variance: 0 };
    const abar = this.alphasCumprod[t];
    const abarPrev = t > 0 ? this.alphasCumprod[t - 1] : 1;
    const beta = this.betas[t];
    const denom = 1 - abar;
    return {
      coefX0: (Math.sqrt(abarPrev) * beta) / denom,
      coefXt: (Math.sqrt(this.alphas[t]) * (1 - abarPrev)) / denom,
      variance: ((1 - abarPrev) / denom) * beta,
    };
  }

  /** Posterior mean coefX0 x_0 + coefXt x_t at one step t for the whole batch. */
  posteriorMean(x0: tf.Tensor, xt: tf.Tensor, t: number): tf.Tensor {
    checkSameShape(x0, xt, 'posteriorMean');
    const { coefX0, coefXt } = this.posterior(t);
    return tf.tidy(() => tf.add(tf.mul(x0, coefX0), tf.mul(xt, coefXt)));
  }

  timesteps(n: number, spacing: TimestepSpacing = 'leading', stepsOffset = 0): number[] {
    return inferenceTimesteps(this.numTrainTimesteps, n, spacing, stepsOffset);
  }

  private checkStep(t: number): void {
    if (!Number.isInteger(t) || t < 0 || t >= this.numTrainTimesteps) {
      throw new RangeError(`timestep ${t} must be an integer in [0, ${this.numTrainTimesteps - 1}]`);
    }
  }

  private coefficient(table: Float64Array, t: number | number[] | tf.Tensor, like: tf.Tensor): tf.Tensor {
    if (like.rank < 1) throw new RangeError('expected a batch tensor of rank >= 1');
    return gatherCoefficients(table, t, like.rank, like.shape[0]);
  }

  private combine(ta: Float64Array, x: tf.Tensor, tb: Float64Array, y: tf.Tensor, t: number | number[] | tf.Tensor, what: string): tf.Tensor {
    checkSameShape(x, y, what);
    return tf.tidy(() => tf.add(tf.mul(this.coefficient(ta, t, x), x), tf.mul(this.coefficient(tb, t, y), y)));
  }
}

function checkSameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${what}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}
