/**
 * DDIM-Heun: the second-order (Heun / trapezoidal) solver of DDIM's ODE, written against
 * difflab's public contracts only, as a third-party plugin would be.
 *
 * DDIM with eta = 0 is Euler's method for the ODE (Song et al. 2021, eq. 14)
 *
 *   d xbar / d sigma = eps_theta(x, t),   xbar = x / sqrt(abar_t),   sigma = sqrt((1 - abar_t) / abar_t).
 *
 * Heun's method takes the Euler step to the next timestep, evaluates the model there, and moves
 * with the mean of both slopes (Karras et al. 2022, Algorithm 1, in DDIM's variables):
 *
 *   d1 = eps(x_t, t);  xbar' = xbar_t + (sigma' - sigma) d1           (the DDIM step)
 *   d2 = eps(x', t');  xbar_{t'} = xbar_t + (sigma' - sigma) (d1 + d2) / 2
 *
 * The model is only evaluated at integer training timesteps. The last step, to abar = 1
 * (sigma = 0), is a plain Euler step, as diffusers' Heun scheduler does. For n steps the loop makes
 * 2n - 1 model evaluations: `timesteps` lists t_0, t_1, t_1, t_2, t_2, ..., t_{n-1}, t_{n-1}, so
 * difflab's `denoise` loop (one model call per entry) runs it unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type DiffusersSchedulerConfig, type NoiseSchedule, type Sampler, type StepResult, type TimestepSpacing } from '@difflab/core';

export interface DdimHeunOptions {
  /** Solver steps n (2n - 1 model evaluations). Default 25. */
  numInferenceSteps?: number;
  /** How the n timesteps are spread over [0, T): 'leading' (default), 'linspace', 'trailing'. */
  timestepSpacing?: TimestepSpacing;
}

interface Pending {
  /** xbar_t, sigma_t and the first slope d1, kept between the two evaluations of a step. */
  xbar: tf.Tensor;
  d1: tf.Tensor;
  sigma: number;
  sigmaNext: number;
  abarNext: number;
}

export class DdimHeunSampler implements Sampler {
  readonly id = 'ddim-heun';
  readonly order = 2;
  readonly initNoiseSigma = 1;
  readonly timestepSpacing: TimestepSpacing;
  private base: number[] = [];
  private entries: number[] = [];
  private steps: number | null = null;
  private index = 0;
  private pending: Pending | null = null;

  constructor(
    readonly schedule: NoiseSchedule,
    options: DdimHeunOptions = {},
  ) {
    this.timestepSpacing = options.timestepSpacing ?? 'leading';
    if (!['leading', 'linspace', 'trailing'].includes(this.timestepSpacing)) {
      throw new ConfigError('timestepSpacing', `unknown spacing '${this.timestepSpacing}'; allowed: leading, linspace, trailing`);
    }
    this.setTimesteps(options.numInferenceSteps ?? Math.min(25, schedule.numTrainTimesteps));
  }

  get timesteps(): readonly number[] {
    return this.entries;
  }

  get numInferenceSteps(): number | null {
    return this.steps;
  }

  setTimesteps(n: number): void {
    const T = this.schedule.numTrainTimesteps;
    if (!Number.isInteger(n) || n < 1 || n > T) throw new ConfigError('numInferenceSteps', `must be an integer in [1, ${T}], got ${n}`);
    this.base = this.schedule.timesteps(n, this.timestepSpacing);
    this.entries = [this.base[0], ...this.base.slice(1).flatMap((t) => [t, t])];
    this.steps = n;
    this.reset();
  }

  scaleModelInput(x: tf.Tensor, _t: number): tf.Tensor {
    return x;
  }

  addNoise(original: tf.Tensor, noise: tf.Tensor, t: number): tf.Tensor {
    return this.schedule.addNoise(original, noise, t);
  }

  reset(): void {
    if (this.pending) tf.dispose([this.pending.xbar, this.pending.d1]);
    this.pending = null;
    this.index = 0;
  }

  private abar(t: number): number {
    return t < 0 ? 1 : this.schedule.alphasCumprod[t];
  }

  step(modelOutput: tf.Tensor, t: number, x: tf.Tensor): StepResult {
    if (this.index >= this.entries.length) throw new RangeError(`ddim-heun: step ${this.index + 1} of ${this.entries.length}; call reset() to start a new loop`);
    if (t !== this.entries[this.index]) throw new RangeError(`ddim-heun: expected timestep ${this.entries[this.index]} at step ${this.index}, got ${t}`);
    const a = this.abar(t);
    const x0 = (eps: tf.Tensor) => tf.div(tf.sub(x, tf.mul(eps, Math.sqrt(1 - a))), Math.sqrt(a));
    this.index++;
    if (this.pending) {
      // second evaluation: the trapezoidal step from the stored xbar_t
      const p = this.pending;
      this.pending = null;
      const out = tf.tidy(() => {
        const slope = tf.mul(tf.add(p.d1, modelOutput), 0.5);
        const xbarNext = tf.add(p.xbar, tf.mul(slope, p.sigmaNext - p.sigma));
        return { prevSample: tf.mul(xbarNext, Math.sqrt(p.abarNext)), predOriginalSample: x0(modelOutput) };
      });
      tf.dispose([p.xbar, p.d1]);
      return out;
    }
    // first evaluation at t: the Euler (DDIM) step to the next base timestep
    const k = this.base.indexOf(t);
    const tNext = k + 1 < this.base.length ? this.base[k + 1] : -1;
    const aNext = this.abar(tNext);
    const sigma = Math.sqrt((1 - a) / a);
    const sigmaNext = Math.sqrt((1 - aNext) / aNext);
    return tf.tidy(() => {
      const xbar = tf.div(x, Math.sqrt(a));
      const xbarNext = tf.add(xbar, tf.mul(modelOutput, sigmaNext - sigma));
      const prevSample = tf.mul(xbarNext, Math.sqrt(aNext));
      if (tNext >= 0) this.pending = { xbar: tf.keep(xbar), d1: tf.keep(tf.clone(modelOutput)), sigma, sigmaNext, abarNext: aNext };
      return { prevSample, predOriginalSample: x0(modelOutput) };
    });
  }

  /** No diffusers scheduler implements this method: the class name says so. */
  toDiffusersConfig(): DiffusersSchedulerConfig {
    const c = this.schedule.config;
    return {
      _class_name: 'DifflabDDIMHeunSampler',
      num_train_timesteps: c.num_train_timesteps,
      beta_start: c.beta_start,
      beta_end: c.beta_end,
      beta_schedule: c.beta_schedule,
      timestep_spacing: this.timestepSpacing,
    };
  }
}
