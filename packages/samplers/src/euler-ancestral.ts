import * as tf from '@tensorflow/tfjs-core';
import {
  type DiffusersSchedulerConfig,
  definePlugin,
  type NoiseSchedule,
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
  resolveSigmaSchedule,
  SCHEDULE_DIFFUSERS_KEYS,
  SIGMA_TIMESTEP_SPACINGS,
  SigmaSampler,
  type SigmaSamplerOptions,
  sigmaSamplerOptionShape,
  unknownDiffusersConfigOf,
} from './sigma-sampler.js';

const f = Math.fround;

export const EULER_ANCESTRAL_CLASS_NAME = 'EulerAncestralDiscreteScheduler';

/** Every key of diffusers' EulerAncestralDiscreteScheduler config. */
export const EULER_ANCESTRAL_DIFFUSERS_KEYS = [...SCHEDULE_DIFFUSERS_KEYS, 'prediction_type', 'timestep_spacing', 'steps_offset', 'rescale_betas_zero_snr'] as const;

/** diffusers' ancestral step raises NotImplementedError for 'sample' prediction. */
export const EULER_ANCESTRAL_PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction'];

export type EulerAncestralOptions = SigmaSamplerOptions;

/**
 * Ancestral sampling with Euler steps (k-diffusion's `sample_euler_ancestral`, eta = 1), as
 * diffusers' `EulerAncestralDiscreteScheduler`: each step goes down to
 * sigma_down = sqrt(sigma_{i+1}^2 - sigma_up^2) deterministically and adds fresh noise of std
 * sigma_up = sqrt(sigma_{i+1}^2 (sigma_i^2 - sigma_{i+1}^2) / sigma_i^2), so the marginal std at
 * sigma_{i+1} is right (the DDPM posterior step in the variance-exploding parametrisation, Ho et al.
 * 2020 eq. 7; Karras et al. 2022 sec. 4):
 *
 *   d = (x - x0_hat) / sigma_i,   x_{i+1} = x + (sigma_down - sigma_i) d + sigma_up z.
 *
 * One z per step, also on the last one (where sigma_up = 0), like diffusers' generator draws; z is
 * `opts.noise` when given, else drawn from `opts.rng` or the sampler's own Rng.
 */
export class EulerAncestralSampler extends SigmaSampler implements Sampler {
  readonly id = 'euler-ancestral';
  readonly order = 1;

  constructor(schedule: NoiseSchedule, o: EulerAncestralOptions = {}) {
    super(schedule, o, {
      className: EULER_ANCESTRAL_CLASS_NAME,
      diffusersKeys: EULER_ANCESTRAL_DIFFUSERS_KEYS,
      predictionTypes: EULER_ANCESTRAL_PREDICTION_TYPES,
      setTimestepsAtInit: false,
      zeroSnr: true,
    });
  }

  /** sigma_up and sigma_down of the step from sigma_i to sigma_{i+1} (float32, as torch computes them). */
  ancestralSigmas(i: number): { sigmaUp: number; sigmaDown: number } {
    const sf = this.sigmaAt(i);
    const st = this.sigmaAt(i + 1);
    const st2 = f(st * st);
    const sf2 = f(sf * sf);
    // (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
    const sigmaUp = f(Math.sqrt(f(f(st2 * f(sf2 - st2)) / sf2)));
    // (sigma_to**2 - sigma_up**2) ** 0.5
    const sigmaDown = f(Math.sqrt(f(st2 - f(sigmaUp * sigmaUp))));
    return { sigmaUp, sigmaDown };
  }

  protected stepAt(i: number, modelOutput: tf.Tensor, x: tf.Tensor, opts: StepOptions | undefined): StepResult {
    const sigma = this.sigmaAt(i);
    const { sigmaUp, sigmaDown } = this.ancestralSigmas(i);
    const dt = f(sigmaDown - sigma);
    return tf.tidy(() => {
      const predOriginalSample = this.predictX0(modelOutput, x, sigma);
      const derivative = tf.div(tf.sub(x, predOriginalSample), sigma);
      const prevSample = tf.add(tf.add(x, tf.mul(derivative, dt)), tf.mul(this.noiseLike(x, opts), sigmaUp));
      return { prevSample, predOriginalSample };
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
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
      rescale_betas_zero_snr: s.rescale_betas_zero_snr,
    });
  }

  /** An EulerAncestralSampler from a diffusers `EulerAncestralDiscreteScheduler` config (missing keys: diffusers' defaults). */
  static fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory, extra: Pick<EulerAncestralOptions, 'seed' | 'rng' | 'numInferenceSteps'> = {}): EulerAncestralSampler {
    const r = DiffusersConfigReader.of(json, EULER_ANCESTRAL_CLASS_NAME);
    checkSigmaBetaSchedule(r);
    const options: EulerAncestralOptions = {
      ...extra,
      predictionType: r.choice<PredictionType>('prediction_type', 'epsilon', EULER_ANCESTRAL_PREDICTION_TYPES),
      timestepSpacing: r.choice('timestep_spacing', 'linspace', SIGMA_TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      unknownDiffusersConfig: unknownDiffusersConfigOf(r.json, EULER_ANCESTRAL_DIFFUSERS_KEYS),
    };
    return new EulerAncestralSampler(resolveSigmaSchedule(r, schedule, true), options);
  }
}

export const eulerAncestralOptions = z
  .object({
    ...sigmaSamplerOptionShape,
    predictionType: z
      .enum(EULER_ANCESTRAL_PREDICTION_TYPES as ['epsilon', 'v_prediction'])
      .nullable()
      .default(null)
      .describe("what the model predicts (epsilon or v_prediction); null: the registered Denoiser's, else 'epsilon'"),
  })
  .strict();

export const eulerAncestralPlugin = definePlugin<Sampler, typeof eulerAncestralOptions>({
  kind: 'sampler',
  id: 'euler-ancestral',
  summary: 'Euler ancestral (k-diffusion; diffusers EulerAncestralDiscreteScheduler): Euler steps plus fresh noise each step',
  options: eulerAncestralOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new EulerAncestralSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(50, T), T),
      predictionType: resolvePredictionType(container, o.predictionType),
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
      rng: resolveSamplerRng(container, o.seed),
    });
  },
});
