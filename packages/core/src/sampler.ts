import type { Tensor } from '@tensorflow/tfjs-core';
import type { NoiseSchedule } from './schedule.js';
import type { Rng } from './rng.js';

/** A diffusers `scheduler_config.json` object: `_class_name` plus snake_case keys. */
export type DiffusersSchedulerConfig = { _class_name: string; [key: string]: unknown };

export interface StepOptions {
  /** Noise for stochastic samplers; when absent it is drawn with `rng` (or the sampler's own rng). */
  noise?: Tensor;
  rng?: Rng;
}

export interface StepResult {
  /** x_{t-1}: the sample the next step continues from. */
  prevSample: Tensor;
  /** The model's estimate of x_0 at this step. */
  predOriginalSample: Tensor;
}

/**
 * A reverse-process solver over a schedule, with the stepping API of diffusers' schedulers:
 *
 *   s.setTimesteps(n);
 *   let x = noise * s.initNoiseSigma;
 *   for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 *
 * `step` does not dispose its inputs; the caller owns them.
 */
export interface Sampler {
  readonly id: string;
  readonly schedule: NoiseSchedule;
  /** Model evaluations per step of the underlying method (1 for DDPM/DDIM, 2 for Heun). */
  readonly order: number;
  /** Standard deviation of the initial noise x_T. */
  readonly initNoiseSigma: number;
  /** Current inference timesteps, descending; set by `setTimesteps`. */
  readonly timesteps: readonly number[];
  readonly numInferenceSteps: number | null;
  setTimesteps(numInferenceSteps: number): void;
  scaleModelInput(x: Tensor, t: number): Tensor;
  /**
   * Forward-noise a clean sample to timestep t of this sampler (diffusers `add_noise`, for
   * img2img-style starts): sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise for alpha-bar samplers,
   * x_0 + sigma_t noise for sigma-based ones, whose x is in their own (unscaled) space. Returns a
   * new tensor; the caller owns it and the inputs.
   */
  addNoise(original: Tensor, noise: Tensor, t: number): Tensor;
  step(modelOutput: Tensor, t: number, x: Tensor, opts?: StepOptions): StepResult;
  toDiffusersConfig(): DiffusersSchedulerConfig;
  /** Drop multistep state (history of model outputs) so the sampler can start a new loop. */
  reset(): void;
}
