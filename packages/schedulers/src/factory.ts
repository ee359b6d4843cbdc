import { type BetaScheduleKind, ConfigError, type ScheduleConfig } from '@difflab/core';
import { cosineSchedule } from './cosine.js';
import type { DiscreteSchedule } from './discrete-schedule.js';
import { explicitSchedule, validateBetas } from './explicit.js';
import { linearSchedule } from './linear.js';
import { DIFFUSERS_SCHEDULE_DEFAULTS } from './options.js';
import { quadraticSchedule } from './quadratic.js';
import { scaledLinearSchedule } from './scaled-linear.js';
import { sigmoidSchedule } from './sigmoid.js';

/** The `beta_schedule` values `createSchedule` understands (diffusers' names plus 'quadratic', 'explicit'). */
export const BETA_SCHEDULE_KINDS: readonly BetaScheduleKind[] = ['linear', 'scaled_linear', 'quadratic', 'squaredcos_cap_v2', 'sigmoid', 'explicit'];

/** Plugin id for each `beta_schedule`. */
export const SCHEDULE_ID_OF_KIND: Readonly<Record<BetaScheduleKind, string>> = {
  linear: 'linear',
  scaled_linear: 'scaled-linear',
  quadratic: 'quadratic',
  squaredcos_cap_v2: 'cosine',
  sigmoid: 'sigmoid',
  explicit: 'explicit',
};

/**
 * Build a schedule from a diffusers-style config (missing keys take diffusers' defaults). As in
 * diffusers, non-null `trained_betas` win over `beta_schedule`.
 */
export function createSchedule(config: Partial<ScheduleConfig>, path = 'schedule'): DiscreteSchedule {
  const c = { ...DIFFUSERS_SCHEDULE_DEFAULTS, ...stripUndefined(config) } as ScheduleConfig;
  const rescale = c.rescale_betas_zero_snr;
  if (typeof rescale !== 'boolean') throw new ConfigError(`${path}.rescale_betas_zero_snr`, `must be true or false, got ${JSON.stringify(rescale)}`);
  if (c.trained_betas !== null && c.trained_betas !== undefined) {
    validateBetas(c.trained_betas, `${path}.trained_betas`);
    if (config.num_train_timesteps !== undefined && config.num_train_timesteps !== c.trained_betas.length) {
      throw new ConfigError(`${path}.num_train_timesteps`, `is ${config.num_train_timesteps} but trained_betas has ${c.trained_betas.length} entries`);
    }
    return explicitSchedule(c.trained_betas, rescale);
  }
  const T = c.num_train_timesteps;
  if (!Number.isInteger(T) || T < 2) throw new ConfigError(`${path}.num_train_timesteps`, `must be an integer >= 2, got ${JSON.stringify(T)}`);
  if (!BETA_SCHEDULE_KINDS.includes(c.beta_schedule)) {
    throw new ConfigError(`${path}.beta_schedule`, `unknown beta schedule ${JSON.stringify(c.beta_schedule)}; supported: ${BETA_SCHEDULE_KINDS.join(', ')}`);
  }
  if (c.beta_schedule === 'explicit') throw new ConfigError(`${path}.trained_betas`, "beta_schedule 'explicit' needs trained_betas");
  if (c.beta_schedule === 'squaredcos_cap_v2') return cosineSchedule(T, rescale);
  for (const key of ['beta_start', 'beta_end'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new ConfigError(`${path}.${key}`, `must be a number in (0, 1), got ${JSON.stringify(v)}`);
  }
  if (c.beta_start > c.beta_end) throw new ConfigError(`${path}.beta_end`, `must be >= beta_start (${c.beta_start}), got ${c.beta_end}`);
  switch (c.beta_schedule) {
    case 'linear':
      return linearSchedule(T, c.beta_start, c.beta_end, rescale);
    case 'scaled_linear':
      return scaledLinearSchedule(T, c.beta_start, c.beta_end, rescale);
    case 'quadratic':
      return quadraticSchedule(T, c.beta_start, c.beta_end, rescale);
    default:
      return sigmoidSchedule(T, c.beta_start, c.beta_end, rescale);
  }
}

/**
 * Build a schedule from a diffusers `scheduler_config.json` object (any scheduler class): reads
 * num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas, rescale_betas_zero_snr
 * and ignores the other keys.
 */
export function scheduleFromDiffusersConfig(obj: Record<string, unknown>, path = 'scheduler_config'): DiscreteSchedule {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError(path, 'must be a JSON object');
  const pick = <K extends keyof ScheduleConfig>(k: K) => obj[k] as ScheduleConfig[K] | undefined;
  const tb = obj.trained_betas;
  if (tb !== undefined && tb !== null && !Array.isArray(tb)) throw new ConfigError(`${path}.trained_betas`, 'must be an array of numbers or null');
  return createSchedule(
    {
      num_train_timesteps: pick('num_train_timesteps'),
      beta_start: pick('beta_start'),
      beta_end: pick('beta_end'),
      beta_schedule: pick('beta_schedule'),
      trained_betas: pick('trained_betas'),
      rescale_betas_zero_snr: pick('rescale_betas_zero_snr'),
    },
    path,
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
