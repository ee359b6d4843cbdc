import { ConfigError, definePlugin, type NoiseSchedule } from '@difflab/core';
import { z } from 'zod';
import { DiscreteSchedule } from './discrete-schedule.js';
import { toFloat32Values } from './float32.js';
import { RESCALE_OPTION } from './options.js';

/** Check a betas array: at least 2 finite numbers, each in (0, 1). Throws ConfigError naming `path`. */
export function validateBetas(betas: readonly number[], path = 'betas'): void {
  if (!Array.isArray(betas) || betas.length < 2) throw new ConfigError(path, `needs an array of at least 2 betas, got ${Array.isArray(betas) ? betas.length : typeof betas}`);
  const bad = betas.findIndex((b) => typeof b !== 'number' || !(b > 0 && b < 1));
  if (bad >= 0) throw new ConfigError(`${path}.${bad}`, `each beta must be a number in (0, 1), got ${betas[bad]}`);
}

/**
 * A schedule from explicit betas (diffusers `trained_betas`, cast to float32 as
 * `torch.tensor(trained_betas, dtype=torch.float32)`); T is the number of betas.
 */
export function explicitSchedule(betas: readonly number[], rescaleZeroSnr = false): DiscreteSchedule {
  validateBetas(betas);
  const b = toFloat32Values(betas);
  return new DiscreteSchedule(
    'explicit',
    { num_train_timesteps: betas.length, beta_schedule: 'explicit', beta_start: b[0], beta_end: b[b.length - 1], trained_betas: [...betas], rescale_betas_zero_snr: rescaleZeroSnr },
    b,
  );
}

export const explicitOptions = z
  .object({
    betas: z.array(z.number().gt(0).lt(1)).default([]).describe('the betas beta_0..beta_{T-1}, each in (0, 1)'),
    rescaleZeroSnr: RESCALE_OPTION,
  })
  .strict()
  .refine((o) => o.betas.length >= 2, { message: 'give at least 2 betas, each in (0, 1)', path: ['betas'] });

export const explicitPlugin = definePlugin<NoiseSchedule, typeof explicitOptions>({
  kind: 'schedule',
  id: 'explicit',
  summary: 'a schedule from an explicit array of betas (diffusers "trained_betas")',
  options: explicitOptions,
  create: (o) => explicitSchedule(o.betas, o.rescaleZeroSnr),
});
