import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  type DiffusersSchedulerConfig,
  type NoiseSchedule,
  PREDICTION_TYPES,
  type PredictionType,
  Rng,
  type Sampler,
  type StepOptions,
  type StepResult,
  type TimestepSpacing,
} from '@difflab/core';
import { checkDynamicThresholding, DYNAMIC_THRESHOLDING_DEFAULTS, dynamicThreshold } from './thresholding.js';

export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'linspace', 'trailing'];

/** Options shared by the discrete-time samplers (DDPM, DDIM), diffusers' config in camelCase. */
export interface DiscreteSamplerOptions {
  /** Call `setTimesteps(n)` at construction; null/undefined leaves diffusers' initial state (all T steps, `numInferenceSteps` null). */
  numInferenceSteps?: number | null;
  /** What the model predicts (diffusers `prediction_type`). Default 'epsilon'. */
  predictionType?: PredictionType;
  /** Clamp the predicted x_0 to [-clipSampleRange, clipSampleRange] (diffusers `clip_sample`). Default true. */
  clipSample?: boolean;
  /** Default 1.0 (diffusers' default). */
  clipSampleRange?: number;
  /** Default 'leading' (diffusers' default). */
  timestepSpacing?: TimestepSpacing;
  /** Dynamic thresholding of x_0 (Saharia et al. 2022; diffusers `thresholding`), instead of clipSample. Default false. */
  thresholding?: boolean;
  /** Quantile of |x_0| per sample (diffusers `dynamic_thresholding_ratio`). Default 0.995. */
  dynamicThresholdingRatio?: number;
  /** Largest threshold (diffusers `sample_max_value`). Default 1. */
  sampleMaxValue?: number;
  /** Added to 'leading' timesteps (diffusers `steps_offset`). Default 0. */
  stepsOffset?: number;
  /** Seed of the sampler's own Rng (used when `step` gets neither `noise` nor `rng`). Default 0. */
  seed?: number;
  /** The sampler's own Rng (wins over `seed`). */
  rng?: Rng;
}

/** x_0 and eps estimates from a model output (Salimans & Ho 2022 for v; Ho et al. 2020 eq. 15 for eps). */
export interface Estimates {
  predOriginalSample: tf.Tensor;
  predEpsilon: tf.Tensor;
}

/**
 * Convert a model output to estimates of x_0 and eps at alpha-bar `abar`, with
 * x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps and v = sqrt(abar) eps - sqrt(1 - abar) x_0.
 * Call inside tf.tidy.
 */
export function estimatesFromModelOutput(predictionType: PredictionType, modelOutput: tf.Tensor, x: tf.Tensor, abar: number): Estimates {
  const a = Math.sqrt(abar);
  const b = Math.sqrt(1 - abar);
  switch (predictionType) {
    case 'epsilon':
      return { predOriginalSample: tf.div(tf.sub(x, tf.mul(modelOutput, b)), a), predEpsilon: modelOutput };
    case 'sample':
      return { predOriginalSample: modelOutput, predEpsilon: tf.div(tf.sub(x, tf.mul(modelOutput, a)), b) };
    case 'v_prediction':
      return {
        predOriginalSample: tf.sub(tf.mul(x, a), tf.mul(modelOutput, b)),
        predEpsilon: tf.add(tf.mul(modelOutput, a), tf.mul(x, b)),
      };
    default:
      throw new ConfigError('predictionType', `unknown prediction type '${String(predictionType)}'; allowed: ${PREDICTION_TYPES.join(', ')}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * What DDPM and DDIM share: configuration, timesteps, noise drawing and model-output conversion.
 * `initNoiseSigma` is 1 and `scaleModelInput` is the identity: it returns `x` itself (not a copy),
 * so the caller keeps owning it and must not dispose the result separately.
 */
export abstract class DiscreteSampler implements Sampler {
  abstract readonly id: string;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly predictionType: PredictionType;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
  /** The sampler's own generator, used when `step` gets neither `noise` nor `rng`. */
  readonly rng: Rng;
  private currentTimesteps: number[];
  private currentSteps: number | null = null;

  constructor(
    readonly schedule: NoiseSchedule,
    o: DiscreteSamplerOptions = {},
  ) {
    if (!schedule || !(schedule.alphasCumprod instanceof Float64Array)) throw new ConfigError('schedule', 'a sampler needs a NoiseSchedule');
    this.predictionType = o.predictionType ?? 'epsilon';
    if (!PREDICTION_TYPES.includes(this.predictionType)) {
      throw new ConfigError('predictionType', `unknown prediction type '${this.predictionType}'; allowed: ${PREDICTION_TYPES.join(', ')}`);
    }
    this.clipSample = o.clipSample ?? true;
    this.clipSampleRange = o.clipSampleRange ?? 1;
    if (!(this.clipSampleRange > 0)) throw new ConfigError('clipSampleRange', `must be > 0, got ${this.clipSampleRange}`);
    this.timestepSpacing = o.timestepSpacing ?? 'leading';
    if (!TIMESTEP_SPACINGS.includes(this.timestepSpacing)) {
      throw new ConfigError('timestepSpacing', `unknown spacing '${this.timestepSpacing}'; allowed: ${TIMESTEP_SPACINGS.join(', ')}`);
    }
    this.stepsOffset = o.stepsOffset ?? 0;
    this.thresholding = o.thresholding ?? false;
    this.dynamicThresholdingRatio = o.dynamicThresholdingRatio ?? DYNAMIC_THRESHOLDING_DEFAULTS.ratio;
    this.sampleMaxValue = o.sampleMaxValue ?? DYNAMIC_THRESHOLDING_DEFAULTS.maxValue;
    checkDynamicThresholding({ ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue });
    if (!Number.isInteger(this.stepsOffset) || this.stepsOffset < 0) throw new ConfigError('stepsOffset', `must be a non-negative integer, got ${this.stepsOffset}`);
    this.rng = o.rng ?? new Rng(o.seed ?? 0);
    const T = schedule.numTrainTimesteps;
    // diffusers' initial state: every training step, descending, num_inference_steps = None
    this.currentTimesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    if (o.numInferenceSteps !== undefined && o.numInferenceSteps !== null) this.setTimesteps(o.numInferenceSteps);
  }

  get timesteps(): readonly number[] {
    return this.currentTimesteps;
  }

  get numInferenceSteps(): number | null {
    return this.currentSteps;
  }

  get numTrainTimesteps(): number {
    return this.schedule.numTrainTimesteps;
  }

  /** Choose n inference steps (1 <= n <= T) spread by `timestepSpacing` (diffusers `set_timesteps`). */
  setTimesteps(numInferenceSteps: number): void {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > T) {
      throw new ConfigError('numInferenceSteps', `must be an integer in [1, ${T}] (the number of training timesteps), got ${numInferenceSteps}`);
    }
    this.currentTimesteps = this.schedule.timesteps(numInferenceSteps, this.timestepSpacing, this.stepsOffset);
    this.currentSteps = numInferenceSteps;
  }

  /** Identity: returns `x` itself (the caller owns it). */
  scaleModelInput(x: tf.Tensor, _t: number): tf.Tensor {
    return x;
  }

  /** sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise (diffusers `add_noise`); t an integer in [0, T). */
  addNoise(original: tf.Tensor, noise: tf.Tensor, t: number): tf.Tensor {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new RangeError(`${this.id}.addNoise: timestep ${t} must be an integer in [0, ${T - 1}]`);
    if (!sameShape(original.shape, noise.shape)) throw new RangeError(`${this.id}.addNoise: noise shape [${noise.shape}] differs from sample shape [${original.shape}]`);
    return this.schedule.addNoise(original, noise, t);
  }

  /** DDPM and DDIM keep no state between steps. */
  reset(): void {}

  abstract step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, opts?: StepOptions): StepResult;
  /** This sampler's own diffusers config (every key of its class, snake_case). */
  protected abstract diffusersConfig(): DiffusersSchedulerConfig;

  private extraConfig: Record<string, unknown> = {};

  /** Keys of the config it was read from that its class does not use (kept and written back). */
  get unknownDiffusersKeys(): string[] {
    return Object.keys(this.extraConfig);
  }

  /** Keep the keys of `json` that this sampler's config does not have; `toDiffusersConfig` writes them back. */
  protected keepUnknownKeys(json: Record<string, unknown>): this {
    const known = new Set(Object.keys(this.diffusersConfig()));
    this.extraConfig = Object.fromEntries(Object.entries(json).filter(([k]) => !known.has(k)));
    return this;
  }

  /** A config diffusers loads: the class's keys, after any unknown keys of the config this sampler was read from. */
  toDiffusersConfig(): DiffusersSchedulerConfig {
    return { ...this.extraConfig, ...this.diffusersConfig() };
  }

  protected checkStep(modelOutput: tf.Tensor, t: number, x: tf.Tensor): void {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new RangeError(`${this.id}: timestep ${t} must be an integer in [0, ${T - 1}]`);
    if (!sameShape(modelOutput.shape, x.shape)) throw new RangeError(`${this.id}: model output shape [${modelOutput.shape}] differs from sample shape [${x.shape}]`);
  }

  /**
   * diffusers' `if thresholding: dynamic threshold elif clip_sample: clamp` on the x_0 estimate
   * (never both). Call inside tf.tidy.
   */
  protected clip(x0: tf.Tensor): tf.Tensor {
    if (this.thresholding) return dynamicThreshold(x0, { ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue });
    return this.clipSample ? tf.clipByValue(x0, -this.clipSampleRange, this.clipSampleRange) : x0;
  }

  /** The thresholding keys of a diffusers config. */
  protected thresholdingKeys(): Record<string, unknown> {
    return { thresholding: this.thresholding, dynamic_thresholding_ratio: this.dynamicThresholdingRatio, sample_max_value: this.sampleMaxValue };
  }

  /** Standard normal noise shaped like x: `opts.noise` (not disposed), else drawn with opts.rng or the sampler's rng. Call inside tf.tidy. */
  protected noiseLike(x: tf.Tensor, opts: StepOptions | undefined): tf.Tensor {
    if (opts?.noise) {
      if (!sameShape(opts.noise.shape, x.shape)) throw new RangeError(`${this.id}: noise shape [${opts.noise.shape}] differs from sample shape [${x.shape}]`);
      return opts.noise;
    }
    const rng = opts?.rng ?? this.rng;
    return tf.randomNormal(x.shape, 0, 1, 'float32', rng.tfSeed());
  }
}
