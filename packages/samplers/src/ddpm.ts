import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  type DiffusersSchedulerConfig,
  definePlugin,
  type NoiseSchedule,
  PREDICTION_TYPES,
  resolveRequired,
  type Sampler,
  type StepOptions,
  type StepResult,
  TOKENS,
} from '@difflab/core';
import { z } from 'zod';
import { DiffusersConfigReader, resolveSchedule, type ScheduleFactory, scheduleToDiffusersKeys } from './diffusers-config.js';
import { DiscreteSampler, type DiscreteSamplerOptions, estimatesFromModelOutput, TIMESTEP_SPACINGS } from './discrete-sampler.js';
import { checkSteps, commonSamplerOptionShape, resolvePredictionType, resolveSamplerRng } from './plugin-support.js';

export type DDPMVarianceType = 'fixed_small' | 'fixed_large';
export const DDPM_VARIANCE_TYPES: readonly DDPMVarianceType[] = ['fixed_small', 'fixed_large'];

export interface DDPMOptions extends DiscreteSamplerOptions {
  /** 'fixed_small': the posterior variance beta~_t (clamped to >= 1e-20); 'fixed_large': beta_t (Ho et al. 2020, sec. 3.2). */
  varianceType?: DDPMVarianceType;
}

/**
 * Ancestral sampling of Ho et al. 2020 ("Denoising Diffusion Probabilistic Models"), as diffusers'
 * `DDPMScheduler.step`: estimate x_0 from the model output, clip it, take the posterior mean of
 * q(x_{t'} | x_t, x_0) (eq. 7) between t and the previous inference step t', and add
 * sqrt(variance) z with z ~ N(0, I) except at t = 0.
 *
 * With fewer inference steps than T the one-step quantities use the stride: alpha_t := abar_t /
 * abar_{t'}, beta_t := 1 - alpha_t. The previous step t' is the next entry of `timesteps` (-1
 * after the last; abar_{-1} = 1), as diffusers' `previous_timestep` since v0.31 (PR #9384); before
 * `setTimesteps` it is t - 1. For 'leading' spacing this equals diffusers' older t - T // n.
 */
export class DDPMSampler extends DiscreteSampler implements Sampler {
  readonly id = 'ddpm';
  readonly varianceType: DDPMVarianceType;

  constructor(schedule: NoiseSchedule, options: DDPMOptions = {}) {
    super(schedule, options);
    this.varianceType = options.varianceType ?? 'fixed_small';
    if (!DDPM_VARIANCE_TYPES.includes(this.varianceType)) {
      throw new ConfigError('varianceType', `unsupported variance type '${this.varianceType}'; supported: ${DDPM_VARIANCE_TYPES.join(', ')}`);
    }
  }

  /** The inference step after t (-1 after the last one). */
  previousTimestep(t: number): number {
    if (this.numInferenceSteps === null) return t - 1;
    const ts = this.timesteps;
    const i = ts.indexOf(t);
    if (i < 0) return t - Math.floor(this.numTrainTimesteps / this.numInferenceSteps);
    return i === ts.length - 1 ? -1 : ts[i + 1];
  }

  /** The noise variance added at step t (diffusers `_get_variance` for fixed_small / fixed_large). */
  variance(t: number): number {
    const prevT = this.previousTimestep(t);
    const abar = this.schedule.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT] : 1;
    const betaT = 1 - abar / abarPrev;
    if (this.varianceType === 'fixed_large') return betaT;
    return Math.max(((1 - abarPrev) / (1 - abar)) * betaT, 1e-20);
  }

  step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, opts?: StepOptions): StepResult {
    this.checkStep(modelOutput, t, x);
    const prevT = this.previousTimestep(t);
    const abar = this.schedule.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT] : 1;
    const alphaT = abar / abarPrev;
    const betaT = 1 - alphaT;
    // posterior mean coefficients (Ho et al. eq. 7) over the stride t -> prevT
    const coefX0 = (Math.sqrt(abarPrev) * betaT) / (1 - abar);
    const coefXt = (Math.sqrt(alphaT) * (1 - abarPrev)) / (1 - abar);
    const std = t > 0 ? Math.sqrt(this.variance(t)) : 0;
    return tf.tidy(() => {
      const { predOriginalSample: raw } = estimatesFromModelOutput(this.predictionType, modelOutput, x, abar);
      const predOriginalSample = this.clip(raw);
      let prevSample = tf.add(tf.mul(predOriginalSample, coefX0), tf.mul(x, coefXt));
      if (t > 0) prevSample = tf.add(prevSample, tf.mul(this.noiseLike(x, opts), std));
      // the estimate may be the model output itself ('sample' without clipping): return a tensor the caller can dispose
      return { prevSample, predOriginalSample: predOriginalSample === modelOutput ? tf.clone(modelOutput) : predOriginalSample };
    });
  }

  protected diffusersConfig(): DiffusersSchedulerConfig {
    return {
      _class_name: 'DDPMScheduler',
      ...scheduleToDiffusersKeys(this.schedule.config),
      variance_type: this.varianceType,
      clip_sample: this.clipSample,
      prediction_type: this.predictionType,
      ...this.thresholdingKeys(),
      clip_sample_range: this.clipSampleRange,
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
    };
  }

  /**
   * A DDPMSampler from a diffusers `DDPMScheduler` config (missing keys take diffusers' defaults).
   * `schedule` is a NoiseSchedule (its T must match) or a factory such as `scheduleFromDiffusersConfig`.
   */
  static fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory, extra: Pick<DDPMOptions, 'seed' | 'rng' | 'numInferenceSteps'> = {}): DDPMSampler {
    const r = DiffusersConfigReader.of(json, 'DDPMScheduler');
    return new DDPMSampler(resolveSchedule(r.json, schedule, r.path), {
      ...extra,
      varianceType: r.choice('variance_type', 'fixed_small', DDPM_VARIANCE_TYPES),
      clipSample: r.bool('clip_sample', true),
      thresholding: r.bool('thresholding', false),
      dynamicThresholdingRatio: r.number('dynamic_thresholding_ratio', 0.995, 0),
      sampleMaxValue: r.number('sample_max_value', 1, Number.MIN_VALUE),
      clipSampleRange: r.number('clip_sample_range', 1, Number.MIN_VALUE),
      predictionType: r.choice('prediction_type', 'epsilon', PREDICTION_TYPES),
      timestepSpacing: r.choice('timestep_spacing', 'leading', TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
    }).keepUnknownKeys(r.json);
  }
}

export const ddpmOptions = z
  .object({
    ...commonSamplerOptionShape,
    varianceType: z.enum(['fixed_small', 'fixed_large']).default('fixed_small').describe("noise variance: 'fixed_small' (posterior) or 'fixed_large' (beta_t)"),
  })
  .strict();

export const ddpmPlugin = definePlugin<Sampler, typeof ddpmOptions>({
  kind: 'sampler',
  id: 'ddpm',
  summary: 'DDPM ancestral sampling (Ho et al. 2020; diffusers DDPMScheduler)',
  options: ddpmOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new DDPMSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? T, T),
      varianceType: o.varianceType,
      clipSample: o.clipSample,
      clipSampleRange: o.clipSampleRange,
      predictionType: resolvePredictionType(container, o.predictionType),
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
      thresholding: o.thresholding,
      dynamicThresholdingRatio: o.dynamicThresholdingRatio,
      sampleMaxValue: o.sampleMaxValue,
      rng: resolveSamplerRng(container, o.seed),
    });
  },
});
