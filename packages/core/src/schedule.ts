import type { Tensor } from '@tensorflow/tfjs-core';

/** How inference timesteps are spread over [0, T), as diffusers' `timestep_spacing`. */
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

/** The beta schedule kinds, named as diffusers' `beta_schedule` where diffusers has them. */
export type BetaScheduleKind = 'linear' | 'scaled_linear' | 'quadratic' | 'squaredcos_cap_v2' | 'sigmoid' | 'explicit';

/** Serialisable description of a schedule, in diffusers' vocabulary (snake_case keys). */
export interface ScheduleConfig {
  num_train_timesteps: number;
  beta_schedule: BetaScheduleKind;
  beta_start: number;
  beta_end: number;
  trained_betas: number[] | null;
  rescale_betas_zero_snr: boolean;
}

/** Coefficients of the Gaussian posterior q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eq. 6-7). */
export interface PosteriorCoefficients {
  /** Coefficient of x_0 in the posterior mean: sqrt(abar_{t-1}) beta_t / (1 - abar_t). */
  coefX0: number;
  /** Coefficient of x_t in the posterior mean: sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t). */
  coefXt: number;
  /** Posterior variance beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t. */
  variance: number;
}

/**
 * A discrete noise schedule over T training timesteps t = 0..T-1 (diffusers' indexing: t = 0 is
 * the first noising step, alpha-bar_0 = alpha_0).
 *
 * Tables are Float64Arrays that hold the values torch float32 produces (betas computed, cast to
 * float32, then cumprod in float32), so samplers built on them reproduce diffusers' numbers.
 */
export interface NoiseSchedule {
  /** Plugin id that made this schedule (e.g. 'linear'). */
  readonly id: string;
  /** Number of training timesteps T. */
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  /** sigma_t = sqrt((1 - abar_t) / abar_t), the variance-exploding view used by Euler-type samplers. */
  readonly sigmas: Float64Array;
  /** diffusers-style serialisable config. */
  readonly config: ScheduleConfig;

  /** q(x_t | x_0): sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise. `t` is one step for the whole batch or one per row. */
  addNoise(x0: Tensor, noise: Tensor, t: number | number[] | Tensor): Tensor;
  /** v-prediction target v = sqrt(abar_t) noise - sqrt(1 - abar_t) x_0 (Salimans & Ho 2022). */
  velocity(x0: Tensor, noise: Tensor, t: number | number[] | Tensor): Tensor;
  /** Posterior q(x_{t-1} | x_t, x_0) coefficients at step t (t >= 1; at t = 0 abar_{-1} := 1). */
  posterior(t: number): PosteriorCoefficients;
  /** Posterior mean coefX0 * x0 + coefXt * xt. */
  posteriorMean(x0: Tensor, xt: Tensor, t: number): Tensor;
  /** Inference timesteps (descending) for n steps, as diffusers' `set_timesteps` with the given spacing. */
  timesteps(n: number, spacing?: TimestepSpacing, stepsOffset?: number): number[];
}
