import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  type DiffusersSchedulerConfig,
  definePlugin,
  type NoiseSchedule,
  PREDICTION_TYPES,
  type PredictionType,
  resolveRequired,
  type Sampler,
  type StepOptions,
  type StepResult,
  TOKENS,
} from '@difflab/core';
import { z } from 'zod';
import { DiffusersConfigReader, type ScheduleFactory } from './diffusers-config.js';
import { checkSteps, resolvePredictionType, resolveSamplerRng } from './plugin-support.js';
import {
  checkSigmaBetaSchedule,
  rejectUnsupportedSigmas,
  resolveSigmaSchedule,
  SCHEDULE_DIFFUSERS_KEYS,
  SIGMA_TIMESTEP_SPACINGS,
  SigmaSampler,
  type SigmaSamplerOptions,
  sigmaSamplerOptionShape,
  unknownDiffusersConfigOf,
  useKarrasSigmasOption,
} from './sigma-sampler.js';

const f = Math.fround;

export const HEUN_CLASS_NAME = 'HeunDiscreteScheduler';

/** Every key of diffusers' HeunDiscreteScheduler config (it has no rescale_betas_zero_snr). */
export const HEUN_DIFFUSERS_KEYS = [
  ...SCHEDULE_DIFFUSERS_KEYS,
  'prediction_type',
  'use_karras_sigmas',
  'use_exponential_sigmas',
  'use_beta_sigmas',
  'clip_sample',
  'clip_sample_range',
  'timestep_spacing',
  'steps_offset',
] as const;

/** HeunDiscreteScheduler's own defaults for the schedule keys (not the 1e-4 / 0.02 of the other classes). */
export const HEUN_SCHEDULE_DEFAULTS = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear', trained_betas: null } as const;

export interface HeunOptions extends SigmaSamplerOptions {
  useKarrasSigmas?: boolean;
  /** Clamp the predicted x_0 to [-clipSampleRange, clipSampleRange] (diffusers `clip_sample`). Default false. */
  clipSample?: boolean;
  /** Default 1. */
  clipSampleRange?: number;
}

interface FirstHalf {
  /** d_i = (x_i - x0_hat) / sigma_i of the Euler predictor. */
  derivative: tf.Tensor;
  /** sigma_{i+1} - sigma_i. */
  dt: number;
  /** x_i, where the corrector step starts again. */
  sample: tf.Tensor;
}

/**
 * Heun's second-order method (Karras et al. 2022, Algorithm 1) as diffusers' `HeunDiscreteScheduler`:
 * an Euler predictor x' = x_i + (sigma_{i+1} - sigma_i) d_i, then, with the model evaluated again at
 * (x', sigma_{i+1}), the trapezoidal corrector x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (d_i + d') / 2.
 * The last step (sigma_{i+1} = 0) is a plain Euler step.
 *
 * Two model calls per step are two entries of `timesteps`: sigmas and timesteps after the first are
 * repeated (t_0, t_1, t_1, t_2, t_2, ...: 2n - 1 entries for n steps), so diffusers' and difflab's
 * `denoise` loop, one model call per entry, runs it unchanged; `order` is 2. The first-order half keeps
 * (d_i, dt, x_i) until the corrector; they are disposed after it, on `reset()` and after the last entry.
 */
export class HeunSampler extends SigmaSampler implements Sampler {
  readonly id = 'heun';
  readonly order = 2;
  readonly useKarrasSigmas: boolean;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  private firstHalf: FirstHalf | null = null;

  constructor(schedule: NoiseSchedule, o: HeunOptions = {}) {
    super(schedule, o, {
      className: HEUN_CLASS_NAME,
      diffusersKeys: HEUN_DIFFUSERS_KEYS,
      predictionTypes: PREDICTION_TYPES,
      setTimestepsAtInit: true,
      zeroSnr: false,
      useKarrasSigmas: o.useKarrasSigmas ?? false,
      interleave: true,
    });
    this.useKarrasSigmas = o.useKarrasSigmas ?? false;
    this.clipSample = o.clipSample ?? false;
    this.clipSampleRange = o.clipSampleRange ?? 1;
    if (!(this.clipSampleRange > 0) || !Number.isFinite(this.clipSampleRange)) throw new ConfigError('clipSampleRange', `must be a finite number > 0, got ${this.clipSampleRange}`);
  }

  /** diffusers `state_in_first_order`: the next step is a predictor (Euler) step. */
  get stateInFirstOrder(): boolean {
    return this.firstHalf === null;
  }

  protected stepAt(i: number, modelOutput: tf.Tensor, x: tf.Tensor, _opts: StepOptions | undefined): StepResult {
    const first = this.firstHalf;
    const sigma = first === null ? this.sigmaAt(i) : this.sigmaAt(i - 1);
    const sigmaNext = first === null ? this.sigmaAt(i + 1) : this.sigmaAt(i);
    const sigmaHat = sigma; // gamma = 0: sigma * (0 + 1)
    const sigmaInput = first === null ? sigmaHat : sigmaNext;
    let kept: FirstHalf | null = null;
    const r = tf.tidy(() => {
      let predOriginalSample = this.predictX0(modelOutput, x, sigmaInput);
      if (this.clipSample) predOriginalSample = tf.clipByValue(predOriginalSample, -this.clipSampleRange, this.clipSampleRange);
      let prevSample: tf.Tensor;
      if (first === null) {
        const derivative = tf.div(tf.sub(x, predOriginalSample), sigmaHat);
        const dt = f(sigmaNext - sigmaHat);
        prevSample = tf.add(x, tf.mul(derivative, dt));
        kept = { derivative: tf.keep(derivative), dt, sample: tf.keep(tf.clone(x)) };
      } else {
        const d2 = tf.div(tf.sub(x, predOriginalSample), sigmaNext);
        const derivative = tf.div(tf.add(first.derivative, d2), 2);
        prevSample = tf.add(first.sample, tf.mul(derivative, first.dt));
      }
      return { prevSample, predOriginalSample: predOriginalSample === modelOutput ? tf.clone(modelOutput) : predOriginalSample };
    });
    if (first !== null) {
      tf.dispose([first.derivative, first.sample]);
      this.firstHalf = null;
    } else {
      this.firstHalf = kept;
    }
    return r;
  }

  protected override releaseState(): void {
    // also called from the base constructor, before this class's fields exist
    if (this.firstHalf) tf.dispose([this.firstHalf.derivative, this.firstHalf.sample]);
    this.firstHalf = null;
  }

  toDiffusersConfig(): DiffusersSchedulerConfig {
    const s = this.scheduleDiffusersKeys();
    return this.withUnknownKeys({
      num_train_timesteps: s.num_train_timesteps,
      beta_start: s.beta_start,
      beta_end: s.beta_end,
      beta_schedule: s.beta_schedule,
      trained_betas: s.trained_betas,
      prediction_type: this.predictionType,
      use_karras_sigmas: this.useKarrasSigmas,
      use_exponential_sigmas: false,
      use_beta_sigmas: false,
      clip_sample: this.clipSample,
      clip_sample_range: this.clipSampleRange,
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
    });
  }

  /**
   * A HeunSampler from a diffusers `HeunDiscreteScheduler` config. Missing keys take this class's
   * defaults (beta_start 0.00085, beta_end 0.012); a `rescale_betas_zero_snr` key is not one of
   * Heun's, so, as in diffusers, it is not applied (it is kept as an unknown key).
   */
  static fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory, extra: Pick<HeunOptions, 'seed' | 'rng' | 'numInferenceSteps'> = {}): HeunSampler {
    const r = DiffusersConfigReader.of(json, HEUN_CLASS_NAME);
    rejectUnsupportedSigmas(r);
    checkSigmaBetaSchedule(r);
    const options: HeunOptions = {
      ...extra,
      predictionType: r.choice<PredictionType>('prediction_type', 'epsilon', PREDICTION_TYPES),
      useKarrasSigmas: r.bool('use_karras_sigmas', false),
      clipSample: r.bool('clip_sample', false),
      clipSampleRange: r.number('clip_sample_range', 1, Number.MIN_VALUE),
      timestepSpacing: r.choice('timestep_spacing', 'linspace', SIGMA_TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      unknownDiffusersConfig: unknownDiffusersConfigOf(r.json, HEUN_DIFFUSERS_KEYS),
    };
    return new HeunSampler(resolveSigmaSchedule(r, schedule, false, HEUN_SCHEDULE_DEFAULTS), options);
  }
}

export const heunOptions = z
  .object({
    ...sigmaSamplerOptionShape,
    useKarrasSigmas: useKarrasSigmasOption,
    clipSample: z.boolean().default(false).describe('clamp predicted x_0 to [-clipSampleRange, clipSampleRange]'),
    clipSampleRange: z.number().positive().default(1),
  })
  .strict();

export const heunPlugin = definePlugin<Sampler, typeof heunOptions>({
  kind: 'sampler',
  id: 'heun',
  summary: "Heun's 2nd-order method (Karras et al. 2022 Algorithm 1; diffusers HeunDiscreteScheduler), 2 model calls per step",
  options: heunOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new HeunSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(50, T), T),
      predictionType: resolvePredictionType(container, o.predictionType),
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
      rng: resolveSamplerRng(container, o.seed),
      useKarrasSigmas: o.useKarrasSigmas,
      clipSample: o.clipSample,
      clipSampleRange: o.clipSampleRange,
    });
  },
});
