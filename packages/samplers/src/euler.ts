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
  FINAL_SIGMAS_TYPES,
  type FinalSigmasType,
  INTERPOLATION_TYPES,
  type InterpolationType,
  nullableNumber,
  rejectUnsupportedSigmas,
  resolveSigmaSchedule,
  SCHEDULE_DIFFUSERS_KEYS,
  SIGMA_TIMESTEP_SPACINGS,
  SigmaSampler,
  type SigmaSamplerOptions,
  sigmaSamplerOptionShape,
  TIMESTEP_TYPES,
  type TimestepType,
  unknownDiffusersConfigOf,
  useKarrasSigmasOption,
} from './sigma-sampler.js';

const f = Math.fround;

export const EULER_CLASS_NAME = 'EulerDiscreteScheduler';

/** Every key of diffusers' EulerDiscreteScheduler config. */
export const EULER_DIFFUSERS_KEYS = [
  ...SCHEDULE_DIFFUSERS_KEYS,
  'prediction_type',
  'interpolation_type',
  'use_karras_sigmas',
  'use_exponential_sigmas',
  'use_beta_sigmas',
  'sigma_min',
  'sigma_max',
  'timestep_spacing',
  'timestep_type',
  'steps_offset',
  'rescale_betas_zero_snr',
  'final_sigmas_type',
] as const;

/** Karras et al.'s stochastic "churn" (Algorithm 2): diffusers passes these to `step`, difflab takes them as options. */
export interface ChurnOptions {
  /** S_churn >= 0: gamma = min(S_churn / (number of sigmas - 1), sqrt(2) - 1) where S_tmin <= sigma <= S_tmax. Default 0 (no noise). */
  sChurn?: number;
  /** Default 0. */
  sTmin?: number;
  /** Default Infinity. */
  sTmax?: number;
  /** Scale of the added noise (S_noise). Default 1. */
  sNoise?: number;
}

export interface EulerOptions extends SigmaSamplerOptions, ChurnOptions {
  /**
   * Clamp the x_0 estimate to [-clipSampleRange, clipSampleRange] before the Euler step (as DDPM /
   * DDIM's `clip_sample`). A difflab option: diffusers' Euler has none, so it is neither read from
   * nor written to diffusers configs. Default false.
   */
  clipSample?: boolean;
  /** Default 1. */
  clipSampleRange?: number;
  useKarrasSigmas?: boolean;
  /** Karras bounds (diffusers `sigma_min` / `sigma_max`); null: the interpolated inference sigmas' own. */
  sigmaMin?: number | null;
  sigmaMax?: number | null;
  /** 'linear' (np.interp of the training sigmas, default) or 'log_linear' (n + 1 log-spaced sigmas). */
  interpolationType?: InterpolationType;
  /** 'zero' (default) or 'sigma_min' (sigma_0 of the training schedule) after the last step. */
  finalSigmasType?: FinalSigmasType;
  /** 'continuous' with v_prediction makes the timesteps 0.25 log(sigma) (EDM-style); default 'discrete'. */
  timestepType?: TimestepType;
}

/** Per-step overrides of the churn options (diffusers' `step` arguments). */
export interface EulerStepOptions extends StepOptions, ChurnOptions {}

/**
 * The Euler method of Karras et al. 2022 (Algorithm 2, with the optional churn of lines 4-6), as
 * diffusers' `EulerDiscreteScheduler` computes it: with gamma = min(S_churn / (N - 1), sqrt(2) - 1)
 * when S_tmin <= sigma_i <= S_tmax (else 0), sigma_hat = sigma_i (gamma + 1),
 *
 *   x_hat = x + sqrt(sigma_hat^2 - sigma_i^2) S_noise z        (only when gamma > 0)
 *   d = (x_hat - x0_hat) / sigma_hat,   x_{i+1} = x_hat + (sigma_{i+1} - sigma_hat) d.
 *
 * With epsilon prediction x0_hat = x_hat - sigma_hat eps, so d = eps: the probability-flow ODE
 * dx/dsigma = eps (Song et al. 2021) stepped with Euler's method.
 */
export class EulerSampler extends SigmaSampler implements Sampler {
  readonly id = 'euler';
  readonly order = 1;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  readonly useKarrasSigmas: boolean;
  readonly sigmaMin: number | null;
  readonly sigmaMax: number | null;
  readonly interpolationType: InterpolationType;
  readonly finalSigmasType: FinalSigmasType;
  readonly timestepType: TimestepType;
  readonly sChurn: number;
  readonly sTmin: number;
  readonly sTmax: number;
  readonly sNoise: number;

  constructor(schedule: NoiseSchedule, o: EulerOptions = {}) {
    const timestepType = o.timestepType ?? 'discrete';
    if (!TIMESTEP_TYPES.includes(timestepType)) throw new ConfigError('timestepType', `unknown timestep type '${timestepType}'; allowed: ${TIMESTEP_TYPES.join(', ')}`);
    super(schedule, o, {
      className: EULER_CLASS_NAME,
      diffusersKeys: EULER_DIFFUSERS_KEYS,
      predictionTypes: PREDICTION_TYPES,
      setTimestepsAtInit: false,
      zeroSnr: true,
      useKarrasSigmas: o.useKarrasSigmas ?? false,
      karrasSigmaMin: o.sigmaMin ?? null,
      karrasSigmaMax: o.sigmaMax ?? null,
      interpolationType: o.interpolationType ?? 'linear',
      finalSigmasType: o.finalSigmasType ?? 'zero',
      continuousTimesteps: timestepType === 'continuous' && (o.predictionType ?? 'epsilon') === 'v_prediction',
    });
    this.clipSample = o.clipSample ?? false;
    this.clipSampleRange = o.clipSampleRange ?? 1;
    if (!(this.clipSampleRange > 0)) throw new ConfigError('clipSampleRange', `must be > 0, got ${this.clipSampleRange}`);
    this.useKarrasSigmas = o.useKarrasSigmas ?? false;
    this.sigmaMin = o.sigmaMin ?? null;
    this.sigmaMax = o.sigmaMax ?? null;
    this.interpolationType = o.interpolationType ?? 'linear';
    this.finalSigmasType = o.finalSigmasType ?? 'zero';
    this.timestepType = timestepType;
    const c = checkChurn(o, '');
    this.sChurn = c.sChurn;
    this.sTmin = c.sTmin;
    this.sTmax = c.sTmax;
    this.sNoise = c.sNoise;
  }

  /** One Euler step; `opts` may override the churn options for this step (diffusers' `step` arguments). */
  override step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, opts?: EulerStepOptions): StepResult {
    return super.step(modelOutput, t, x, opts);
  }

  protected stepAt(i: number, modelOutput: tf.Tensor, x: tf.Tensor, opts: EulerStepOptions | undefined): StepResult {
    const c = checkChurn({ sChurn: opts?.sChurn ?? this.sChurn, sTmin: opts?.sTmin ?? this.sTmin, sTmax: opts?.sTmax ?? this.sTmax, sNoise: opts?.sNoise ?? this.sNoise }, 'step.');
    const sigma = this.sigmaAt(i);
    // `s_tmin <= sigma <= s_tmax` compares with a float32 tensor (the bounds are rounded to float32)
    const gamma = f(c.sTmin) <= sigma && sigma <= f(c.sTmax) ? Math.min(c.sChurn / (this.sigmaCount - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f(sigma * f(gamma + 1));
    const dt = f(this.sigmaAt(i + 1) - sigmaHat);
    return tf.tidy(() => {
      let sample = x;
      if (gamma > 0) {
        const eps = tf.mul(this.noiseLike(x, opts), f(c.sNoise));
        sample = tf.add(x, tf.mul(eps, f(Math.sqrt(f(f(sigmaHat * sigmaHat) - f(sigma * sigma))))));
      }
      const x0 = this.predictX0(modelOutput, sample, sigma, sigmaHat);
      const predOriginalSample = this.clipSample ? tf.clipByValue(x0, -this.clipSampleRange, this.clipSampleRange) : x0;
      const derivative = tf.div(tf.sub(sample, predOriginalSample), sigmaHat);
      const prevSample = tf.add(sample, tf.mul(derivative, dt));
      return { prevSample, predOriginalSample: predOriginalSample === modelOutput ? tf.clone(modelOutput) : predOriginalSample };
    });
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
      interpolation_type: this.interpolationType,
      use_karras_sigmas: this.useKarrasSigmas,
      use_exponential_sigmas: false,
      use_beta_sigmas: false,
      sigma_min: this.sigmaMin,
      sigma_max: this.sigmaMax,
      timestep_spacing: this.timestepSpacing,
      timestep_type: this.timestepType,
      steps_offset: this.stepsOffset,
      rescale_betas_zero_snr: s.rescale_betas_zero_snr,
      final_sigmas_type: this.finalSigmasType,
    });
  }

  /**
   * An EulerSampler from a diffusers `EulerDiscreteScheduler` config (missing keys take diffusers'
   * defaults; keys the class does not know are kept in `unknownDiffusersKeys` and written back).
   * The churn parameters are `step` arguments in diffusers: pass them in `extra`.
   */
  static fromDiffusersConfig(
    json: unknown,
    schedule: NoiseSchedule | ScheduleFactory,
    extra: Pick<EulerOptions, 'seed' | 'rng' | 'numInferenceSteps' | 'sChurn' | 'sTmin' | 'sTmax' | 'sNoise'> = {},
  ): EulerSampler {
    const r = DiffusersConfigReader.of(json, EULER_CLASS_NAME);
    rejectUnsupportedSigmas(r);
    checkSigmaBetaSchedule(r);
    const options: EulerOptions = {
      ...extra,
      predictionType: r.choice<PredictionType>('prediction_type', 'epsilon', PREDICTION_TYPES),
      interpolationType: r.choice('interpolation_type', 'linear', INTERPOLATION_TYPES),
      useKarrasSigmas: r.bool('use_karras_sigmas', false),
      sigmaMin: nullableNumber(r, 'sigma_min', Number.MIN_VALUE),
      sigmaMax: nullableNumber(r, 'sigma_max', Number.MIN_VALUE),
      timestepSpacing: r.choice('timestep_spacing', 'linspace', SIGMA_TIMESTEP_SPACINGS),
      timestepType: r.choice('timestep_type', 'discrete', TIMESTEP_TYPES),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      finalSigmasType: r.choice('final_sigmas_type', 'zero', FINAL_SIGMAS_TYPES),
      unknownDiffusersConfig: unknownDiffusersConfigOf(r.json, EULER_DIFFUSERS_KEYS),
    };
    return new EulerSampler(resolveSigmaSchedule(r, schedule, true), options);
  }
}

function checkChurn(o: ChurnOptions, prefix: string): Required<ChurnOptions> {
  const c = { sChurn: o.sChurn ?? 0, sTmin: o.sTmin ?? 0, sTmax: o.sTmax ?? Number.POSITIVE_INFINITY, sNoise: o.sNoise ?? 1 };
  if (!(c.sChurn >= 0) || !Number.isFinite(c.sChurn)) throw new ConfigError(`${prefix}sChurn`, `must be a finite number >= 0, got ${c.sChurn}`);
  if (Number.isNaN(c.sTmin) || Number.isNaN(c.sTmax) || c.sTmin > c.sTmax) throw new ConfigError(`${prefix}sTmax`, `must be >= sTmin (${c.sTmin}), got ${c.sTmax}`);
  if (!Number.isFinite(c.sNoise)) throw new ConfigError(`${prefix}sNoise`, `must be a finite number, got ${c.sNoise}`);
  return c;
}

export const eulerOptions = z
  .object({
    ...sigmaSamplerOptionShape,
    useKarrasSigmas: useKarrasSigmasOption,
    clipSample: z.boolean().default(false).describe('clamp x_0 to [-clipSampleRange, clipSampleRange] (difflab option, not in diffusers)'),
    clipSampleRange: z.number().positive().default(1).describe('clamp range for clipSample'),
    sigmaMin: z.number().positive().nullable().default(null).describe("Karras sigma_min; null: the inference sigmas' own"),
    sigmaMax: z.number().positive().nullable().default(null).describe("Karras sigma_max; null: the inference sigmas' own"),
    interpolationType: z.enum(INTERPOLATION_TYPES as ['linear', 'log_linear']).default('linear'),
    finalSigmasType: z.enum(FINAL_SIGMAS_TYPES as ['zero', 'sigma_min']).default('zero'),
    timestepType: z.enum(TIMESTEP_TYPES as ['discrete', 'continuous']).default('discrete'),
    sChurn: z.number().min(0).default(0).describe('stochastic churn S_churn (Karras et al. Algorithm 2); 0: deterministic'),
    sTmin: z.number().default(0),
    sTmax: z.number().nullable().default(null).describe('null: no upper bound (Infinity)'),
    sNoise: z.number().default(1),
  })
  .strict();

export const eulerPlugin = definePlugin<Sampler, typeof eulerOptions>({
  kind: 'sampler',
  id: 'euler',
  summary: 'Euler (Karras et al. 2022 Algorithm 2; diffusers EulerDiscreteScheduler), optional Karras sigmas and churn',
  options: eulerOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new EulerSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(50, T), T),
      predictionType: resolvePredictionType(container, o.predictionType),
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
      rng: resolveSamplerRng(container, o.seed),
      useKarrasSigmas: o.useKarrasSigmas,
      clipSample: o.clipSample,
      clipSampleRange: o.clipSampleRange,
      sigmaMin: o.sigmaMin,
      sigmaMax: o.sigmaMax,
      interpolationType: o.interpolationType,
      finalSigmasType: o.finalSigmasType,
      timestepType: o.timestepType,
      sChurn: o.sChurn,
      sTmin: o.sTmin,
      sTmax: o.sTmax ?? Number.POSITIVE_INFINITY,
      sNoise: o.sNoise,
    });
  },
});
