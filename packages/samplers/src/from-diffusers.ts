import { ConfigError, type NoiseSchedule, type Rng } from '@difflab/core';
import { DDIMSampler } from './ddim.js';
import { DDPMSampler } from './ddpm.js';
import type { ScheduleFactory } from './diffusers-config.js';

/** diffusers scheduler classes `fromDiffusersConfig` reads. */
export const SUPPORTED_DIFFUSERS_SCHEDULERS = ['DDIMScheduler', 'DDPMScheduler'] as const;

/**
 * A sampler from a diffusers `scheduler_config.json` object, dispatching on `_class_name`.
 * `schedule` is a NoiseSchedule whose T matches, or a factory building it from the same JSON
 * (`scheduleFromDiffusersConfig` of `@difflab/schedulers`).
 */
export function fromDiffusersConfig(
  json: unknown,
  schedule: NoiseSchedule | ScheduleFactory,
  extra: { seed?: number; rng?: Rng; numInferenceSteps?: number | null; eta?: number } = {},
): DDPMSampler | DDIMSampler {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError('scheduler_config', 'must be a JSON object');
  const cls = (json as { _class_name?: unknown })._class_name;
  const { eta, ...rest } = extra;
  switch (cls) {
    case 'DDPMScheduler':
      return DDPMSampler.fromDiffusersConfig(json, schedule, rest);
    case 'DDIMScheduler':
      return DDIMSampler.fromDiffusersConfig(json, schedule, { ...rest, eta });
    default:
      throw new ConfigError('scheduler_config._class_name', `unsupported scheduler ${JSON.stringify(cls ?? null)}; supported: ${SUPPORTED_DIFFUSERS_SCHEDULERS.join(', ')}`);
  }
}
