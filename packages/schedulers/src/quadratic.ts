import { definePlugin, type NoiseSchedule } from '@difflab/core';
import { DiscreteSchedule } from './discrete-schedule.js';
import { rangeScheduleOptions } from './options.js';
import { scaledLinearBetas } from './scaled-linear.js';

/**
 * Quadratic betas as tiny-diffusion defines them: `torch.linspace(beta_start ** 0.5,
 * beta_end ** 0.5, T) ** 2`. This is the same formula as diffusers' "scaled_linear"; it keeps its
 * own id so configs written for tiny-diffusion read as they were meant. Written to a diffusers
 * config it becomes `beta_schedule: "scaled_linear"`.
 */
export function quadraticBetas(T: number, betaStart = 1e-4, betaEnd = 0.02): Float64Array {
  return scaledLinearBetas(T, betaStart, betaEnd);
}

export function quadraticSchedule(T = 1000, betaStart = 1e-4, betaEnd = 0.02, rescaleZeroSnr = false): DiscreteSchedule {
  return new DiscreteSchedule(
    'quadratic',
    { num_train_timesteps: T, beta_schedule: 'quadratic', beta_start: betaStart, beta_end: betaEnd, trained_betas: null, rescale_betas_zero_snr: rescaleZeroSnr },
    quadraticBetas(T, betaStart, betaEnd),
  );
}

export const quadraticPlugin = definePlugin<NoiseSchedule, typeof rangeScheduleOptions>({
  kind: 'schedule',
  id: 'quadratic',
  summary: "quadratic betas (tiny-diffusion's 'quadratic'; same formula as diffusers' scaled_linear)",
  options: rangeScheduleOptions,
  create: (o) => quadraticSchedule(o.T, o.betaStart, o.betaEnd, o.rescaleZeroSnr),
});
