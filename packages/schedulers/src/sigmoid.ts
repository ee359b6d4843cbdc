import { definePlugin, type NoiseSchedule } from '@difflab/core';
import { DiscreteSchedule } from './discrete-schedule.js';
import { linspaceF32 } from './float32.js';
import { rangeScheduleOptions } from './options.js';

const f = Math.fround;

/**
 * Sigmoid betas (as in GeoDiff, Xu et al. 2022): diffusers `beta_schedule="sigmoid"`,
 * `sigmoid(torch.linspace(-6, 6, T)) * (beta_end - beta_start) + beta_start` in float32.
 */
export function sigmoidBetas(T: number, betaStart = 1e-4, betaEnd = 0.02): Float64Array {
  const x = linspaceF32(-6, 6, T);
  const range = f(betaEnd - betaStart);
  return x.map((v) => f(f(f(1 / (1 + Math.exp(-v))) * range) + f(betaStart)));
}

export function sigmoidSchedule(T = 1000, betaStart = 1e-4, betaEnd = 0.02, rescaleZeroSnr = false): DiscreteSchedule {
  return new DiscreteSchedule(
    'sigmoid',
    { num_train_timesteps: T, beta_schedule: 'sigmoid', beta_start: betaStart, beta_end: betaEnd, trained_betas: null, rescale_betas_zero_snr: rescaleZeroSnr },
    sigmoidBetas(T, betaStart, betaEnd),
  );
}

export const sigmoidPlugin = definePlugin<NoiseSchedule, typeof rangeScheduleOptions>({
  kind: 'schedule',
  id: 'sigmoid',
  summary: 'sigmoid(linspace(-6, 6, T)) scaled into [betaStart, betaEnd] (diffusers "sigmoid")',
  options: rangeScheduleOptions,
  create: (o) => sigmoidSchedule(o.T, o.betaStart, o.betaEnd, o.rescaleZeroSnr),
});
