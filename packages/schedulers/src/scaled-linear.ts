import { definePlugin, type NoiseSchedule } from '@difflab/core';
import { DiscreteSchedule } from './discrete-schedule.js';
import { linspaceF32 } from './float32.js';
import { rangeScheduleOptions } from './options.js';

/**
 * Scaled-linear betas, linear in sqrt(beta) (latent diffusion / Stable Diffusion, Rombach et al.
 * 2022): diffusers `beta_schedule="scaled_linear"`,
 * `torch.linspace(beta_start ** 0.5, beta_end ** 0.5, T, dtype=float32) ** 2`.
 */
export function scaledLinearBetas(T: number, betaStart = 1e-4, betaEnd = 0.02): Float64Array {
  const r = linspaceF32(Math.sqrt(betaStart), Math.sqrt(betaEnd), T);
  return r.map((v) => Math.fround(v * v));
}

export function scaledLinearSchedule(T = 1000, betaStart = 1e-4, betaEnd = 0.02, rescaleZeroSnr = false): DiscreteSchedule {
  return new DiscreteSchedule(
    'scaled-linear',
    { num_train_timesteps: T, beta_schedule: 'scaled_linear', beta_start: betaStart, beta_end: betaEnd, trained_betas: null, rescale_betas_zero_snr: rescaleZeroSnr },
    scaledLinearBetas(T, betaStart, betaEnd),
  );
}

export const scaledLinearPlugin = definePlugin<NoiseSchedule, typeof rangeScheduleOptions>({
  kind: 'schedule',
  id: 'scaled-linear',
  summary: 'betas linear in sqrt(beta) from betaStart to betaEnd (diffusers "scaled_linear", Stable Diffusion)',
  options: rangeScheduleOptions,
  create: (o) => scaledLinearSchedule(o.T, o.betaStart, o.betaEnd, o.rescaleZeroSnr),
});
