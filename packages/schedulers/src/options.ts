import { z } from 'zod';

/** Option fields shared by the schedule plugins (camelCase; diffusers' defaults). */
export const T_OPTION = z.number().int().min(2).max(100_000).default(1000).describe('number of training timesteps T (num_train_timesteps)');
export const BETA_START_OPTION = z.number().gt(0).lt(1).default(1e-4).describe('first beta (beta_start)');
export const BETA_END_OPTION = z.number().gt(0).lt(1).default(0.02).describe('last beta (beta_end)');
export const RESCALE_OPTION = z.boolean().default(false).describe('rescale to zero terminal SNR (rescale_betas_zero_snr)');

/** Options of the schedules defined by T, betaStart, betaEnd (linear, scaled-linear, quadratic, sigmoid). */
export const rangeScheduleOptions = z
  .object({ T: T_OPTION, betaStart: BETA_START_OPTION, betaEnd: BETA_END_OPTION, rescaleZeroSnr: RESCALE_OPTION })
  .strict()
  .refine((o) => o.betaStart <= o.betaEnd, { message: 'betaEnd must be >= betaStart', path: ['betaEnd'] });
export type RangeScheduleOptions = z.output<typeof rangeScheduleOptions>;

/** diffusers' defaults for the keys a schedule config may omit. */
export const DIFFUSERS_SCHEDULE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  rescale_betas_zero_snr: false,
} as const;
