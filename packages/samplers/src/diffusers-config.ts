import { ConfigError, type DiffusersSchedulerConfig, type NoiseSchedule, type ScheduleConfig } from '@difflab/core';

/**
 * Builds the NoiseSchedule a diffusers config describes. Pass `scheduleFromDiffusersConfig` from
 * `@difflab/schedulers` (this package depends on `@difflab/core` only, so it cannot build
 * schedules itself), or a NoiseSchedule you already have.
 */
export type ScheduleFactory = (config: Record<string, unknown>) => NoiseSchedule;

/** diffusers' `beta_schedule` / `trained_betas` / ... keys for a schedule config. */
export function scheduleToDiffusersKeys(c: ScheduleConfig): Record<string, unknown> {
  const explicit = c.beta_schedule === 'explicit' || (c.trained_betas !== null && c.trained_betas !== undefined);
  return {
    num_train_timesteps: c.num_train_timesteps,
    beta_start: c.beta_start,
    beta_end: c.beta_end,
    // diffusers has no 'quadratic' (it is its 'scaled_linear' formula) nor 'explicit' (trained_betas wins over beta_schedule)
    beta_schedule: explicit ? 'linear' : c.beta_schedule === 'quadratic' ? 'scaled_linear' : c.beta_schedule,
    trained_betas: explicit ? [...(c.trained_betas ?? [])] : null,
    rescale_betas_zero_snr: c.rescale_betas_zero_snr,
  };
}

/** The schedule a config describes: an instance as is (its T must match), or built by a factory. */
export function resolveSchedule(json: Record<string, unknown>, schedule: NoiseSchedule | ScheduleFactory, path: string): NoiseSchedule {
  if (typeof schedule === 'function') return schedule(json);
  const T = json.num_train_timesteps;
  if (T !== undefined && T !== schedule.numTrainTimesteps) {
    throw new ConfigError(`${path}.num_train_timesteps`, `is ${JSON.stringify(T)} but the given schedule has T = ${schedule.numTrainTimesteps}`);
  }
  return schedule;
}

/** Typed reads of a diffusers config with diffusers' defaults; errors name `path.key`. */
export class DiffusersConfigReader {
  constructor(
    readonly json: Record<string, unknown>,
    readonly path: string,
  ) {}

  static of(json: unknown, className: string, path = 'scheduler_config'): DiffusersConfigReader {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(path, 'must be a JSON object');
    const o = json as DiffusersSchedulerConfig;
    if (o._class_name !== undefined && o._class_name !== className) {
      throw new ConfigError(`${path}._class_name`, `expected '${className}', got ${JSON.stringify(o._class_name)}`);
    }
    return new DiffusersConfigReader(o, path);
  }

  private value(key: string): unknown {
    return this.json[key];
  }

  bool(key: string, def: boolean): boolean {
    const v = this.value(key) ?? def;
    if (typeof v !== 'boolean') throw new ConfigError(`${this.path}.${key}`, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  number(key: string, def: number, min = Number.NEGATIVE_INFINITY, integer = false): number {
    const v = this.value(key) ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new ConfigError(`${this.path}.${key}`, `must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  choice<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const v = this.value(key) ?? def;
    if (!allowed.includes(v as T)) throw new ConfigError(`${this.path}.${key}`, `unsupported value ${JSON.stringify(v)}; supported: ${allowed.join(', ')}`);
    return v as T;
  }

  /** Fail on features this package does not implement (diffusers' dynamic thresholding). */
  rejectThresholding(): void {
    if (this.value('thresholding') === true) throw new ConfigError(`${this.path}.thresholding`, 'dynamic thresholding is not supported; set it to false (clip_sample clamps x_0 instead)');
  }
}
