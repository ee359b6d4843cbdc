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
  gaussKronrod21,
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

export const LMS_CLASS_NAME = 'LMSDiscreteScheduler';

/** Every key of diffusers' LMSDiscreteScheduler config (it has no rescale_betas_zero_snr). */
export const LMS_DIFFUSERS_KEYS = [
  ...SCHEDULE_DIFFUSERS_KEYS,
  'use_karras_sigmas',
  'use_exponential_sigmas',
  'use_beta_sigmas',
  'prediction_type',
  'timestep_spacing',
  'steps_offset',
] as const;

/** Largest LMS order: the Lagrange products have degree order - 1, and the 21-point Gauss-Kronrod rule is exact up to degree 31. */
export const LMS_MAX_ORDER = 16;

export interface LMSOptions extends SigmaSamplerOptions {
  useKarrasSigmas?: boolean;
  /** Order of the linear multistep method (diffusers' `step(..., order=4)`). Default 4. */
  lmsOrder?: number;
}

/** Per-step override of the multistep order (diffusers' `order` argument of `step`). */
export interface LMSStepOptions extends StepOptions {
  order?: number;
}

function checkOrder(order: number, path: string): number {
  if (!Number.isInteger(order) || order < 1 || order > LMS_MAX_ORDER) throw new ConfigError(path, `must be an integer in [1, ${LMS_MAX_ORDER}], got ${order}`);
  return order;
}

/**
 * The linear multistep method of k-diffusion's `sample_lms`, as diffusers' `LMSDiscreteScheduler`:
 * the ODE dx/dsigma = d(x, sigma) = (x - x0_hat) / sigma is integrated from sigma_i to sigma_{i+1}
 * with the Lagrange polynomial through the last k = min(i + 1, order) derivatives (an
 * Adams-Bashforth method on the non-uniform sigma grid):
 *
 *   x_{i+1} = x_i + sum_{j<k} c_j d_{i-j},   c_j = integral_{sigma_i}^{sigma_{i+1}} prod_{m<k, m != j} (s - sigma_{i-m}) / (sigma_{i-j} - sigma_{i-m}) ds.
 *
 * diffusers integrates c_j with scipy.integrate.quad (epsrel 1e-4) of an integrand evaluated with
 * float32 torch scalars; `lmsCoefficient` evaluates the same float32 integrand at QUADPACK's 21
 * Gauss-Kronrod nodes, which is scipy's answer whenever QUADPACK accepts its first estimate (always
 * for these low-degree polynomials in the reference cases) and exact for the polynomial regardless.
 * The last `order` derivatives are kept (tf.keep) between steps and disposed after the loop.
 */
export class LMSSampler extends SigmaSampler implements Sampler {
  readonly id = 'lms';
  readonly order = 1;
  readonly useKarrasSigmas: boolean;
  /** Multistep order (diffusers' `order` step argument). */
  readonly lmsOrder: number;
  private derivatives: tf.Tensor[] = [];

  constructor(schedule: NoiseSchedule, o: LMSOptions = {}) {
    super(schedule, o, {
      className: LMS_CLASS_NAME,
      diffusersKeys: LMS_DIFFUSERS_KEYS,
      predictionTypes: PREDICTION_TYPES,
      setTimestepsAtInit: true,
      zeroSnr: false,
      useKarrasSigmas: o.useKarrasSigmas ?? false,
    });
    this.useKarrasSigmas = o.useKarrasSigmas ?? false;
    this.lmsOrder = checkOrder(o.lmsOrder ?? 4, 'lmsOrder');
  }

  /** Derivatives held for the next steps (newest last). */
  get heldDerivatives(): number {
    return this.derivatives.length;
  }

  /**
   * diffusers `get_lms_coefficient(order, t, current_order)`: the integral over [sigma_t, sigma_{t+1}]
   * of the Lagrange basis polynomial of node sigma_{t - current_order} among sigma_t, ..., sigma_{t - order + 1},
   * the integrand rounded to float32 after every operation like diffusers' torch scalars.
   */
  lmsCoefficient(order: number, t: number, currentOrder: number): number {
    checkOrder(order, 'order');
    if (!Number.isInteger(t) || t < order - 1 || t + 1 >= this.sigmaCount) throw new RangeError(`lms: step index ${t} needs ${order} earlier sigmas and a next one`);
    const s = (k: number) => this.sigmaAt(k);
    const integrand = (tau: number): number => {
      // prod = 1.0; prod *= (tau - sigmas[t - k]) / (sigmas[t - current_order] - sigmas[t - k]) in float32
      let prod = 1;
      const tau32 = f(tau);
      for (let k = 0; k < order; k++) {
        if (k === currentOrder) continue;
        prod = f(prod * f(f(tau32 - s(t - k)) / f(s(t - currentOrder) - s(t - k))));
      }
      return prod;
    };
    return gaussKronrod21(integrand, s(t), s(t + 1)).value;
  }

  override step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, opts?: LMSStepOptions): StepResult {
    return super.step(modelOutput, t, x, opts);
  }

  protected stepAt(i: number, modelOutput: tf.Tensor, x: tf.Tensor, opts: LMSStepOptions | undefined): StepResult {
    const order = checkOrder(opts?.order ?? this.lmsOrder, 'step.order');
    const sigma = this.sigmaAt(i);
    const k = Math.min(i + 1, order);
    const coeffs = Array.from({ length: k }, (_, co) => this.lmsCoefficient(k, i, co));
    const r = tf.tidy(() => {
      const predOriginalSample = this.predictX0(modelOutput, x, sigma);
      const derivative = tf.keep(tf.div(tf.sub(x, predOriginalSample), sigma));
      this.derivatives.push(derivative);
      if (this.derivatives.length > order) this.derivatives.shift()?.dispose();
      // sample + sum(coeff * derivative for coeff, derivative in zip(lms_coeffs, reversed(self.derivatives)))
      const n = Math.min(coeffs.length, this.derivatives.length);
      let acc = tf.mul(this.derivatives[this.derivatives.length - 1], f(coeffs[0]));
      for (let j = 1; j < n; j++) acc = tf.add(acc, tf.mul(this.derivatives[this.derivatives.length - 1 - j], f(coeffs[j])));
      const prevSample = tf.add(x, acc);
      return { prevSample, predOriginalSample: predOriginalSample === modelOutput ? tf.clone(modelOutput) : predOriginalSample };
    });
    return r;
  }

  protected override releaseState(): void {
    // also called from the base constructor, before this class's fields exist
    if (this.derivatives) tf.dispose(this.derivatives);
    this.derivatives = [];
  }

  toDiffusersConfig(): DiffusersSchedulerConfig {
    const s = this.scheduleDiffusersKeys();
    return this.withUnknownKeys({
      num_train_timesteps: s.num_train_timesteps,
      beta_start: s.beta_start,
      beta_end: s.beta_end,
      beta_schedule: s.beta_schedule,
      trained_betas: s.trained_betas,
      use_karras_sigmas: this.useKarrasSigmas,
      use_exponential_sigmas: false,
      use_beta_sigmas: false,
      prediction_type: this.predictionType,
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
    });
  }

  /**
   * An LMSSampler from a diffusers `LMSDiscreteScheduler` config (missing keys: diffusers' defaults).
   * The multistep order is a `step` argument in diffusers: pass `lmsOrder` in `extra`.
   */
  static fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory, extra: Pick<LMSOptions, 'seed' | 'rng' | 'numInferenceSteps' | 'lmsOrder'> = {}): LMSSampler {
    const r = DiffusersConfigReader.of(json, LMS_CLASS_NAME);
    rejectUnsupportedSigmas(r);
    checkSigmaBetaSchedule(r);
    const options: LMSOptions = {
      ...extra,
      useKarrasSigmas: r.bool('use_karras_sigmas', false),
      predictionType: r.choice<PredictionType>('prediction_type', 'epsilon', PREDICTION_TYPES),
      timestepSpacing: r.choice('timestep_spacing', 'linspace', SIGMA_TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      unknownDiffusersConfig: unknownDiffusersConfigOf(r.json, LMS_DIFFUSERS_KEYS),
    };
    return new LMSSampler(resolveSigmaSchedule(r, schedule, false), options);
  }
}

export const lmsOptions = z
  .object({
    ...sigmaSamplerOptionShape,
    useKarrasSigmas: useKarrasSigmasOption,
    lmsOrder: z.number().int().min(1).max(LMS_MAX_ORDER).default(4).describe('order of the linear multistep method'),
  })
  .strict();

export const lmsPlugin = definePlugin<Sampler, typeof lmsOptions>({
  kind: 'sampler',
  id: 'lms',
  summary: 'linear multistep (k-diffusion sample_lms; diffusers LMSDiscreteScheduler), order 4 by default',
  options: lmsOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new LMSSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(50, T), T),
      predictionType: resolvePredictionType(container, o.predictionType),
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
      rng: resolveSamplerRng(container, o.seed),
      useKarrasSigmas: o.useKarrasSigmas,
      lmsOrder: o.lmsOrder,
    });
  },
});
