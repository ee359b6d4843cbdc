import { definePlugin, type NoiseSchedule } from '@difflab/core';
import { DiscreteSchedule } from './discrete-schedule.js';
import { linspaceF32 } from './float32.js';
import { rangeScheduleOptions } from './options.js';

/**
 * Linear betas (Ho et al. 2020, sec. 4: beta_1 = 1e-4 .. beta_T = 0.02 over T = 1000):
 * diffusers `beta_schedule="linear"`, `torch.linspace(beta_start, beta_end, T, dtype=float32)`.
 */
export function linearBetas(T: number, betaStart = 1e-4, betaEnd = 0.02): Float64Array {
  return linspaceF32(betaStart, betaEnd, T);
}

export function linearSchedule(T = 1000, betaStart = 1e-4, betaEnd = 0.02, rescaleZeroSnr = false): DiscreteSchedule {
  return new DiscreteSchedule(
    'linear',
    { num_train_timesteps: T, beta_schedule: 'linear', beta_start: betaStart, beta_end: betaEnd, trained_betas: null, rescale_betas_zero_snr: rescaleZeroSnr },
    linearBetas(T, betaStart, betaEnd),
  );
}

export const linearPlugin = definePlugin<NoiseSchedule, typeof rangeScheduleOptions>({
  kind: 'schedule',
  id: 'linear',
  summary: 'linear betas from betaStart to betaEnd (DDPM; diffusers "linear")',
  options: rangeScheduleOptions,
  create: (o) => linearSchedule(o.T, o.betaStart, o.betaEnd, o.rescaleZeroSnr),
});
