import { ConfigError, type NoiseSchedule, type Rng, type Sampler } from '@difflab/core';
import { scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { DDIMSampler } from './ddim.js';
import { DDPMSampler } from './ddpm.js';
import type { ScheduleFactory } from './diffusers-config.js';
import { EulerSampler } from './euler.js';
import { EulerAncestralSampler } from './euler-ancestral.js';
import { HeunSampler } from './heun.js';
import { LMSSampler } from './lms.js';
import { DPMSolverMultistepSampler } from './dpm-solver-multistep.js';
import { PNDMSampler } from './pndm.js';
import { UniPCSampler } from './unipc.js';

/** diffusers scheduler classes `fromDiffusersConfig` reads. */
export const SUPPORTED_DIFFUSERS_SCHEDULERS = [
  'DDPMScheduler',
  'DDIMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'HeunDiscreteScheduler',
  'LMSDiscreteScheduler',
  'PNDMScheduler',
  'DPMSolverMultistepScheduler',
  'UniPCMultistepScheduler',
] as const;

/** What a diffusers config does not hold: seeding, the step count and diffusers' `step()` arguments. */
export interface FromDiffusersExtra {
  seed?: number;
  rng?: Rng;
  numInferenceSteps?: number | null;
  /** DDIM's eta (a `step` argument in diffusers). */
  eta?: number;
  /** Euler's churn arguments (`step` arguments in diffusers). */
  sChurn?: number;
  sTmin?: number;
  sTmax?: number;
  sNoise?: number;
  /** LMS's order (a `step` argument in diffusers, default 4). */
  lmsOrder?: number;
}

/**
 * A sampler from a diffusers `scheduler_config.json` object, dispatching on `_class_name`.
 * `schedule` is a NoiseSchedule whose T matches, or a factory building it from the same JSON;
 * by default the schedule the config describes (`scheduleFromDiffusersConfig`). Keys the class does not know are kept
 * (`unknownDiffusersKeys`) and written back by `toDiffusersConfig()`; unsupported values are a
 * one-line ConfigError.
 */
export function fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory = scheduleFromDiffusersConfig, extra: FromDiffusersExtra = {}): Sampler {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError('scheduler_config', 'must be a JSON object');
  const cls = (json as { _class_name?: unknown })._class_name;
  const { eta, sChurn, sTmin, sTmax, sNoise, lmsOrder, ...base } = extra;
  switch (cls) {
    case 'DDPMScheduler':
      return DDPMSampler.fromDiffusersConfig(json, schedule, base);
    case 'DDIMScheduler':
      return DDIMSampler.fromDiffusersConfig(json, schedule, { ...base, eta });
    case 'EulerDiscreteScheduler':
      return EulerSampler.fromDiffusersConfig(json, schedule, { ...base, sChurn, sTmin, sTmax, sNoise });
    case 'EulerAncestralDiscreteScheduler':
      return EulerAncestralSampler.fromDiffusersConfig(json, schedule, base);
    case 'HeunDiscreteScheduler':
      return HeunSampler.fromDiffusersConfig(json, schedule, base);
    case 'LMSDiscreteScheduler':
      return LMSSampler.fromDiffusersConfig(json, schedule, { ...base, lmsOrder });
    case 'PNDMScheduler':
      return PNDMSampler.fromDiffusersConfig(json, schedule, { numInferenceSteps: base.numInferenceSteps });
    case 'DPMSolverMultistepScheduler':
      return DPMSolverMultistepSampler.fromDiffusersConfig(json, schedule, { numInferenceSteps: base.numInferenceSteps });
    case 'UniPCMultistepScheduler':
      return UniPCSampler.fromDiffusersConfig(json, schedule, { numInferenceSteps: base.numInferenceSteps });
    default:
      throw new ConfigError('scheduler_config._class_name', `unsupported scheduler ${JSON.stringify(cls ?? null)}; supported: ${SUPPORTED_DIFFUSERS_SCHEDULERS.join(', ')}`);
  }
}
