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

export interface DDIMOptions extends DiscreteSamplerOptions {
  /** eta in [0, 1]: 0 is deterministic DDIM, 1 has DDPM's posterior variance (Song et al. eq. 16). Default 0. */
  eta?: number;
  /** alpha-bar after the last step: 1 (true, default) or alpha-bar_0 (false) (diffusers `set_alpha_to_one`). */
  setAlphaToOne?: boolean;
  /** Recompute eps from the clipped x_0 (diffusers `use_clipped_model_output`, a `step` argument there). Default false. */
  useClippedModelOutput?: boolean;
}

/**
 * Denoising diffusion implicit models (Song, Meng & Ermon 2021), as diffusers' `DDIMScheduler.step`.
 * With t' = t - T // n the previous step (diffusers' formula, for every spacing) and
 * abar_{t'} = final alpha-bar when t' < 0, eq. 12:
 *
 *   x_{t'} = sqrt(abar_{t'}) x0_hat + sqrt(1 - abar_{t'} - sigma_t^2) eps_hat + sigma_t z,
 *   sigma_t = eta sqrt((1 - abar_{t'}) / (1 - abar_t)) sqrt(1 - abar_t / abar_{t'})   (eq. 16).
 *
 * Noise is drawn only when eta > 0.
 */
export class DDIMSampler extends DiscreteSampler implements Sampler {
  readonly id = 'ddim';
  readonly eta: number;
  readonly setAlphaToOne: boolean;
  readonly useClippedModelOutput: boolean;
  /** alpha-bar used after the last step (diffusers `final_alpha_cumprod`). */
  readonly finalAlphaCumprod: number;

  constructor(schedule: NoiseSchedule, options: DDIMOptions = {}) {
    super(schedule, options);
    this.eta = options.eta ?? 0;
    if (!(this.eta >= 0) || !Number.isFinite(this.eta)) throw new ConfigError('eta', `must be a number >= 0, got ${this.eta}`);
    this.setAlphaToOne = options.setAlphaToOne ?? true;
    this.useClippedModelOutput = options.useClippedModelOutput ?? false;
    this.finalAlphaCumprod = this.setAlphaToOne ? 1 : schedule.alphasCumprod[0];
  }

  /** t - T // n (diffusers DDIMScheduler); may be < 0 after the last step. */
  previousTimestep(t: number): number {
    const n = this.numInferenceSteps;
    if (n === null) throw new ConfigError('numInferenceSteps', 'ddim: call setTimesteps(n) before step()');
    return t - Math.floor(this.numTrainTimesteps / n);
  }

  /** (1 - abar_{t'}) / (1 - abar_t) (1 - abar_t / abar_{t'}) (diffusers `_get_variance`). */
  variance(t: number, prevT = this.previousTimestep(t)): number {
    const abar = this.schedule.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT] : this.finalAlphaCumprod;
    return ((1 - abarPrev) / (1 - abar)) * (1 - abar / abarPrev);
  }

  step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, opts?: StepOptions): StepResult {
    this.checkStep(modelOutput, t, x);
    const prevT = this.previousTimestep(t);
    const abar = this.schedule.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const std = this.eta * Math.sqrt(this.variance(t, prevT));
    // max(0, .) guards a rounding-negative radicand at eta = 1
    const dirCoef = Math.sqrt(Math.max(0, 1 - abarPrev - std * std));
    return tf.tidy(() => {
      const est = estimatesFromModelOutput(this.predictionType, modelOutput, x, abar);
      const predOriginalSample = this.clip(est.predOriginalSample);
      const predEpsilon = this.useClippedModelOutput
        ? tf.div(tf.sub(x, tf.mul(predOriginalSample, Math.sqrt(abar))), Math.sqrt(1 - abar))
        : est.predEpsilon;
      let prevSample = tf.add(tf.mul(predOriginalSample, Math.sqrt(abarPrev)), tf.mul(predEpsilon, dirCoef));
      if (this.eta > 0) prevSample = tf.add(prevSample, tf.mul(this.noiseLike(x, opts), std));
      return { prevSample, predOriginalSample: predOriginalSample === modelOutput ? tf.clone(modelOutput) : predOriginalSample };
    });
  }

  protected diffusersConfig(): DiffusersSchedulerConfig {
    return {
      _class_name: 'DDIMScheduler',
      ...scheduleToDiffusersKeys(this.schedule.config),
      clip_sample: this.clipSample,
      set_alpha_to_one: this.setAlphaToOne,
      steps_offset: this.stepsOffset,
      prediction_type: this.predictionType,
      ...this.thresholdingKeys(),
      clip_sample_range: this.clipSampleRange,
      timestep_spacing: this.timestepSpacing,
    };
  }

  /**
   * A DDIMSampler from a diffusers `DDIMScheduler` config (missing keys take diffusers' defaults).
   * eta is not part of diffusers' config (it is a `step` argument): pass it in `extra`.
   */
  static fromDiffusersConfig(
    json: unknown,
    schedule: NoiseSchedule | ScheduleFactory,
    extra: Pick<DDIMOptions, 'seed' | 'rng' | 'numInferenceSteps' | 'eta' | 'useClippedModelOutput'> = {},
  ): DDIMSampler {
    const r = DiffusersConfigReader.of(json, 'DDIMScheduler');
    return new DDIMSampler(resolveSchedule(r.json, schedule, r.path), {
      ...extra,
      clipSample: r.bool('clip_sample', true),
      thresholding: r.bool('thresholding', false),
      dynamicThresholdingRatio: r.number('dynamic_thresholding_ratio', 0.995, 0),
      sampleMaxValue: r.number('sample_max_value', 1, Number.MIN_VALUE),
      clipSampleRange: r.number('clip_sample_range', 1, Number.MIN_VALUE),
      setAlphaToOne: r.bool('set_alpha_to_one', true),
      predictionType: r.choice('prediction_type', 'epsilon', PREDICTION_TYPES),
      timestepSpacing: r.choice('timestep_spacing', 'leading', TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
    }).keepUnknownKeys(r.json);
  }
}

export const ddimOptions = z
  .object({
    ...commonSamplerOptionShape,
    eta: z.number().min(0).default(0).describe('0: deterministic DDIM; 1: DDPM-like noise'),
    setAlphaToOne: z.boolean().default(true).describe('alpha-bar after the last step is 1 (else alpha-bar_0)'),
    useClippedModelOutput: z.boolean().default(false).describe('recompute eps from the clipped x_0'),
  })
  .strict();

export const ddimPlugin = definePlugin<Sampler, typeof ddimOptions>({
  kind: 'sampler',
  id: 'ddim',
  summary: 'DDIM (Song et al. 2021; diffusers DDIMScheduler), deterministic at eta = 0',
  options: ddimOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new DDIMSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(50, T), T),
      clipSample: o.clipSample,
      clipSampleRange: o.clipSampleRange,
      predictionType: resolvePredictionType(container, o.predictionType),
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
      thresholding: o.thresholding,
      dynamicThresholdingRatio: o.dynamicThresholdingRatio,
      sampleMaxValue: o.sampleMaxValue,
      rng: resolveSamplerRng(container, o.seed),
      eta: o.eta,
      setAlphaToOne: o.setAlphaToOne,
      useClippedModelOutput: o.useClippedModelOutput,
    });
  },
});
