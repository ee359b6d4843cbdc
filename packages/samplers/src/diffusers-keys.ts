/**
 * diffusers config keys shared by the multistep samplers (DPM-Solver, UniPC, PNDM): schedule
 * keys, unknown keys passed through, options accepted only at their defaults.
 */
import { ConfigError, type NoiseSchedule } from '@difflab/core';
import { type DiffusersConfigReader, scheduleToDiffusersKeys } from './diffusers-config.js';

/**
 * diffusers config keys a class does not read (all but `_class_name`, `_diffusers_version` included): kept with
 * their values so that `toDiffusersConfig` writes them back unchanged.
 */
export function diffusersPassthrough(json: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (k !== '_class_name' && !known.has(k)) out[k] = v;
  return out;
}

/** The keys of `diffusersPassthrough`, for `unknownDiffusersKeys`. */
export function unknownKeysOf(passthrough: Record<string, unknown>): string[] {
  return Object.keys(passthrough);
}

/** The schedule keys diffusers reads (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr). */
export const DIFFUSERS_SCHEDULE_KEYS = ['num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'rescale_betas_zero_snr'] as const;

/**
 * The schedule keys for a diffusers class that knows only linear / scaled_linear / squaredcos_cap_v2 (and
 * trained_betas): other kinds (sigmoid) are written as their betas. `rescale` false: the class has no
 * `rescale_betas_zero_snr` key (PNDM), so a rescaled schedule is written as its betas too.
 */
export function scheduleKeysFor(schedule: NoiseSchedule, className: string, rescaleKey = true): Record<string, unknown> {
  const keys = scheduleToDiffusersKeys(schedule.config);
  const supported = ['linear', 'scaled_linear', 'squaredcos_cap_v2'].includes(keys.beta_schedule as string);
  const rescaled = keys.rescale_betas_zero_snr === true;
  if (supported && (rescaleKey || !rescaled)) return rescaleKey ? keys : withoutKey(keys, 'rescale_betas_zero_snr');
  if (rescaled && schedule.betas[schedule.numTrainTimesteps - 1] >= 1) {
    throw new ConfigError('schedule', `${className} cannot express this rescaled (zero terminal SNR) '${schedule.config.beta_schedule}' schedule`);
  }
  const explicit = { ...keys, beta_schedule: 'linear', trained_betas: Array.from(schedule.betas), rescale_betas_zero_snr: false };
  return rescaleKey ? explicit : withoutKey(explicit, 'rescale_betas_zero_snr');
}

function withoutKey(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _, ...rest } = o;
  return rest;
}

/** diffusers' beta_schedule values the multistep classes accept (else NotImplementedError there). */
export function checkDiffusersBetaSchedule(r: DiffusersConfigReader): void {
  const tb = r.json.trained_betas;
  if (tb !== undefined && tb !== null) return;
  const v = r.json.beta_schedule;
  if (v !== undefined && !['linear', 'scaled_linear', 'squaredcos_cap_v2'].includes(v as string)) {
    throw new ConfigError(`${r.path}.beta_schedule`, `unsupported value ${JSON.stringify(v)}; supported: linear, scaled_linear, squaredcos_cap_v2 (or trained_betas)`);
  }
}

/** A diffusers option this package does not implement: accepted only at its default (false / null). */
export function rejectEnabled(r: DiffusersConfigReader, keys: readonly string[]): void {
  for (const k of keys) {
    const v = r.json[k];
    if (v !== undefined && v !== null && v !== false) throw new ConfigError(`${r.path}.${k}`, `is not supported; set it to false (got ${JSON.stringify(v)})`);
  }
}

/**
 * The sigma-schedule keys diffusers main (2025) has on DPMSolverMultistepScheduler and UniPCMultistepScheduler
 * for exponential / beta / flow-matching sigmas and dynamic shifting. This package implements none of them: the
 * switches must be false, and `flow_shift` / `time_shift_type` (used only with them) are kept as given.
 */
export const DIFFUSERS_MAIN_SIGMA_KEYS = ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'flow_shift', 'use_dynamic_shifting', 'time_shift_type'] as const;

/** Read (and check) the DIFFUSERS_MAIN_SIGMA_KEYS of a config; returns their values with diffusers' defaults. */
export function readMainSigmaKeys(r: DiffusersConfigReader): Record<string, unknown> {
  rejectEnabled(r, ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'use_dynamic_shifting']);
  const shiftType = r.json.time_shift_type ?? 'exponential';
  if (typeof shiftType !== 'string') throw new ConfigError(`${r.path}.time_shift_type`, `must be a string, got ${JSON.stringify(shiftType)}`);
  return {
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    use_flow_sigmas: false,
    flow_shift: r.number('flow_shift', 1),
    use_dynamic_shifting: false,
    time_shift_type: shiftType,
  };
}

/** dynamic_thresholding_ratio in [0, 1]. */
export function readRatio(r: DiffusersConfigReader): number {
  const v = r.number('dynamic_thresholding_ratio', 0.995, 0);
  if (v > 1) throw new ConfigError(`${r.path}.dynamic_thresholding_ratio`, `must be a number in [0, 1], got ${v}`);
  return v;
}
