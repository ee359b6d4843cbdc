import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  type DiffusersSchedulerConfig,
  definePlugin,
  type NoiseSchedule,
  type PredictionType,
  resolveRequired,
  type Sampler,
  type StepOptions,
  type StepResult,
  type TimestepSpacing,
  TOKENS,
} from '@difflab/core';
import { z } from 'zod';
import { DiffusersConfigReader, type ScheduleFactory } from './diffusers-config.js';
import { TIMESTEP_SPACINGS } from './discrete-sampler.js';
import { checkDiffusersBetaSchedule, DIFFUSERS_SCHEDULE_KEYS, diffusersPassthrough, scheduleKeysFor, unknownKeysOf } from './diffusers-keys.js';
import { checkSteps, commonSamplerOptionShape, resolvePredictionType } from './plugin-support.js';
import { resolveSigmaSchedule } from './sigma-sampler.js';

/*
 * PNDM as diffusers' PNDMScheduler computes it in float32 (diffusers main, 2025: timestep_spacing and
 * prediction_type epsilon / v_prediction; the PRK / PLMS code is unchanged since 2022). The PyTorch
 * re-implementation in tools/reference/multistep_reference.py quotes each line.
 */

const f = Math.fround;

export type PNDMPredictionType = Extract<PredictionType, 'epsilon' | 'v_prediction'>;
export const PNDM_PREDICTION_TYPES: readonly PNDMPredictionType[] = ['epsilon', 'v_prediction'];

export interface PNDMOptions {
  /** Call `setTimesteps(n)` at construction. */
  numInferenceSteps?: number | null;
  /** Skip the Runge-Kutta warm-up (PLMS only, as for Stable Diffusion; diffusers `skip_prk_steps`). Default false. */
  skipPrkSteps?: boolean;
  /** alpha-bar after the last step: 1 (true) or alpha-bar_0 (false, diffusers' default). */
  setAlphaToOne?: boolean;
  /** 'epsilon' or 'v_prediction' (diffusers' PNDM has no 'sample'). Default 'epsilon'. */
  predictionType?: PredictionType;
  /** Default 'leading' (diffusers' default for this class). */
  timestepSpacing?: TimestepSpacing;
  /** Added to 'leading' timesteps. Default 0. */
  stepsOffset?: number;
  /** diffusers config keys this class does not read, written back by `toDiffusersConfig` (fromDiffusersConfig fills it). */
  diffusersPassthrough?: Record<string, unknown>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Pseudo numerical methods for diffusion models (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion
 * Models on Manifolds"), as diffusers' `PNDMScheduler`: the transfer part phi is DDIM's eq. (9),
 *
 *   x_{t-d} = sqrt(abar_{t-d} / abar_t) x_t - (abar_{t-d} - abar_t) e / (abar_t sqrt(1 - abar_{t-d}) + sqrt(abar_t (1 - abar_t) abar_{t-d})),
 *
 * and the gradient part e is a pseudo 4th-order Runge-Kutta step (PRK, eq. 13) for the first three intervals,
 * then the 4th-order linear multistep (PLMS, eq. 12: (55 e_t - 59 e_{t+d} + 37 e_{t+2d} - 9 e_{t+3d}) / 24).
 * With `skipPrkSteps` (crowsonkb's PLMS) the warm-up is a Heun step and lower-order Adams-Bashforth steps.
 *
 * One model call per entry of `timesteps`: PRK evaluates at the interval midpoints, so with PRK the list holds
 * 12 warm-up entries (repeated timesteps) before the PLMS ones (n + 9 in all); without PRK it holds n + 1
 * entries (the second timestep twice). The plain `denoise` loop runs it unchanged. diffusers' quirks are kept:
 * the previous timestep is t - T // n whatever the spacing.
 *
 * `predOriginalSample` is the x_0 that this call's own model output implies at its own timestep (DDIM's
 * formula); PNDM itself does not form one. State (PRK accumulator, the last four model outputs, the sample the
 * warm-up started from) is released after the last step and by `reset()` / `setTimesteps()`.
 */
export class PNDMSampler implements Sampler {
  readonly id = 'pndm';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly skipPrkSteps: boolean;
  readonly setAlphaToOne: boolean;
  readonly predictionType: PNDMPredictionType;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** alpha-bar used after the last step (diffusers `final_alpha_cumprod`). */
  readonly finalAlphaCumprod: number;
  /** diffusers config keys read by fromDiffusersConfig but not interpreted; written back unchanged. */
  readonly unknownDiffusersKeys: string[];
  private readonly passthrough: Record<string, unknown>;
  private readonly ac: Float64Array;
  private currentSteps: number | null = null;
  private prkTimesteps: number[] = [];
  private plmsTimesteps: number[] = [];
  private currentTimesteps: number[] = [];
  // running values (diffusers `counter`, `ets`, `cur_model_output`, `cur_sample`)
  private counter = 0;
  private ets: tf.Tensor[] = [];
  private curModelOutput: tf.Tensor | null = null;
  private curSample: tf.Tensor | null = null;

  constructor(
    readonly schedule: NoiseSchedule,
    o: PNDMOptions = {},
  ) {
    if (!schedule || !(schedule.alphasCumprod instanceof Float64Array)) throw new ConfigError('schedule', 'a sampler needs a NoiseSchedule');
    this.skipPrkSteps = o.skipPrkSteps ?? false;
    this.setAlphaToOne = o.setAlphaToOne ?? false;
    const pt = o.predictionType ?? 'epsilon';
    if (!PNDM_PREDICTION_TYPES.includes(pt as PNDMPredictionType)) {
      throw new ConfigError('predictionType', `'${pt}' is not supported by pndm; supported: ${PNDM_PREDICTION_TYPES.join(', ')}`);
    }
    this.predictionType = pt as PNDMPredictionType;
    this.timestepSpacing = o.timestepSpacing ?? 'leading';
    if (!TIMESTEP_SPACINGS.includes(this.timestepSpacing)) {
      throw new ConfigError('timestepSpacing', `unknown spacing '${this.timestepSpacing}'; allowed: ${TIMESTEP_SPACINGS.join(', ')}`);
    }
    this.stepsOffset = o.stepsOffset ?? 0;
    if (!Number.isInteger(this.stepsOffset) || this.stepsOffset < 0) throw new ConfigError('stepsOffset', `must be a non-negative integer, got ${this.stepsOffset}`);
    this.passthrough = { ...(o.diffusersPassthrough ?? {}) };
    this.unknownDiffusersKeys = unknownKeysOf(this.passthrough);
    this.ac = Float64Array.from(schedule.alphasCumprod, (v) => f(v));
    this.finalAlphaCumprod = this.setAlphaToOne ? 1 : this.ac[0];
    if (o.numInferenceSteps !== undefined && o.numInferenceSteps !== null) this.setTimesteps(o.numInferenceSteps);
  }

  /** Every model call's timestep, in order: the PRK warm-up (with repeats) then the PLMS steps. */
  get timesteps(): readonly number[] {
    return this.currentTimesteps;
  }

  /** The n given to `setTimesteps` (`timesteps` has n + 9 entries with PRK, n + 1 without). */
  get numInferenceSteps(): number | null {
    return this.currentSteps;
  }

  get numTrainTimesteps(): number {
    return this.schedule.numTrainTimesteps;
  }

  /** The PRK part of `timesteps` (empty with skipPrkSteps). */
  get prkTimestepList(): readonly number[] {
    return this.prkTimesteps;
  }

  /** The PLMS part of `timesteps`. */
  get plmsTimestepList(): readonly number[] {
    return this.plmsTimesteps;
  }

  /** Model calls made since `setTimesteps` / `reset` (diffusers `counter`). */
  get stepCount(): number {
    return this.counter;
  }

  /** diffusers `set_timesteps`: n inference steps, plus the PRK midpoints unless skipPrkSteps. */
  setTimesteps(numInferenceSteps: number): void {
    const T = this.numTrainTimesteps;
    const n = numInferenceSteps;
    if (!Number.isInteger(n) || n < 1 || n > T) {
      throw new ConfigError('numInferenceSteps', `must be an integer in [1, ${T}] (the number of training timesteps), got ${n}`);
    }
    if (!this.skipPrkSteps && n < 4) {
      throw new ConfigError('numInferenceSteps', `the PRK warm-up needs at least 4 steps (diffusers fails below), got ${n}; or set skipPrkSteps`);
    }
    // ascending inference timesteps (diffusers `_timesteps`)
    let ts: number[];
    if (this.timestepSpacing === 'linspace') {
      const step = (T - 1) / (n - 1 || 1);
      ts = Array.from({ length: n }, (_, i) => roundHalfEven(n > 1 && i === n - 1 ? T - 1 : i * step));
    } else if (this.timestepSpacing === 'leading') {
      const ratio = Math.floor(T / n);
      ts = Array.from({ length: n }, (_, i) => i * ratio + this.stepsOffset);
    } else {
      // np.round(np.arange(T, 0, -T / n))[::-1] - 1; numpy can add an n+1-th entry rounding to -1: dropped
      const delta = T - T / n - T;
      ts = Array.from({ length: n }, (_, i) => roundHalfEven(T + i * delta) - 1).reverse();
    }
    if (ts[n - 1] > T - 1) {
      throw new ConfigError('stepsOffset', `${this.stepsOffset} puts timestep ${ts[n - 1]} past T - 1 = ${T - 1} with ${n} '${this.timestepSpacing}' steps`);
    }
    if (this.skipPrkSteps) {
      this.prkTimesteps = [];
      this.plmsTimesteps = [...ts.slice(0, -1), ...ts.slice(-2, -1), ...ts.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(T / n) / 2);
      // [a, a + h, b, b + h, c, c + h, d] from the last four, each twice, without the ends, reversed
      const pairs = ts.slice(-4).flatMap((v) => [v, v + half]);
      this.prkTimesteps = pairs
        .slice(0, -1)
        .flatMap((v) => [v, v])
        .slice(1, -1)
        .reverse();
      this.plmsTimesteps = ts.slice(0, -3).reverse();
    }
    this.currentTimesteps = [...this.prkTimesteps, ...this.plmsTimesteps];
    this.currentSteps = n;
    this.reset();
  }

  /** Identity: returns `x` itself (the caller owns it). */
  scaleModelInput(x: tf.Tensor, _t: number): tf.Tensor {
    return x;
  }

  /** sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise (diffusers `add_noise`), float32 coefficients; t an integer in [0, T). */
  addNoise(original: tf.Tensor, noise: tf.Tensor, t: number): tf.Tensor {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new RangeError(`${this.id}.addNoise: timestep ${t} must be an integer in [0, ${T - 1}]`);
    if (!sameShape(original.shape, noise.shape)) throw new RangeError(`${this.id}.addNoise: noise shape [${noise.shape}] differs from sample shape [${original.shape}]`);
    const a = this.ac[t];
    return tf.tidy(() => tf.add(tf.mul(original, f(Math.sqrt(a))), tf.mul(noise, f(Math.sqrt(f(1 - a))))));
  }

  /** Drop the running values (counter, model-output history, PRK accumulator, warm-up sample). */
  reset(): void {
    this.releaseState();
    this.counter = 0;
  }

  private releaseState(): void {
    tf.dispose([...this.ets, ...(this.curModelOutput ? [this.curModelOutput] : []), ...(this.curSample ? [this.curSample] : [])]);
    this.ets = [];
    this.curModelOutput = null;
    this.curSample = null;
  }

  step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, _opts?: StepOptions): StepResult {
    if (this.currentSteps === null) throw new ConfigError('numInferenceSteps', `${this.id}: call setTimesteps(n) before step()`);
    if (!sameShape(modelOutput.shape, x.shape)) throw new RangeError(`${this.id}: model output shape [${modelOutput.shape}] differs from sample shape [${x.shape}]`);
    const n = this.currentTimesteps.length;
    if (this.counter >= n) throw new RangeError(`${this.id}: all ${n} model calls are done; call reset() to start a new loop`);
    const expected = this.currentTimesteps[this.counter];
    if (t !== expected) throw new RangeError(`${this.id}: call ${this.counter} is at timestep ${expected}, got ${t}; call reset() to start a new loop`);
    const predOriginalSample = this.x0Estimate(modelOutput, t, x);
    let prevSample: tf.Tensor;
    try {
      prevSample = this.counter < this.prkTimesteps.length ? this.stepPrk(modelOutput, t, x) : this.stepPlms(modelOutput, t, x);
    } catch (e) {
      predOriginalSample.dispose();
      throw e;
    }
    // the warm-up sample is not needed once the PRK phase (or PLMS' Heun step) is over; nothing is after the last call
    if (this.counter === this.prkTimesteps.length && this.curSample && !this.skipPrkSteps) {
      this.curSample.dispose();
      this.curSample = null;
    }
    if (this.counter === n) this.releaseState();
    return { prevSample, predOriginalSample };
  }

  /** x_0 from a model output at timestep t (DDIM's formula in float32). */
  private x0Estimate(modelOutput: tf.Tensor, t: number, x: tf.Tensor): tf.Tensor {
    const a = this.ac[t];
    const sa = f(Math.sqrt(a));
    const sb = f(Math.sqrt(f(1 - a)));
    return tf.tidy(() =>
      this.predictionType === 'epsilon' ? tf.div(tf.sub(x, tf.mul(modelOutput, sb)), sa) : tf.sub(tf.mul(x, sa), tf.mul(modelOutput, sb)),
    );
  }

  /** diffusers `step_prk`: one of the four evaluations of a pseudo Runge-Kutta step. */
  private stepPrk(modelOutput: tf.Tensor, t: number, x: tf.Tensor): tf.Tensor {
    const T = this.numTrainTimesteps;
    const n = this.currentSteps as number;
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(T / n) / 2);
    const prevT = t - diffToPrev;
    const baseT = this.prkTimesteps[Math.floor(this.counter / 4) * 4];
    const k = this.counter % 4;
    let out = modelOutput;
    let combined: tf.Tensor | null = null;
    if (k === 0) {
      this.setAccumulator(tf.tidy(() => tf.mul(modelOutput, f(1 / 6))));
      this.ets.push(tf.keep(tf.clone(modelOutput)));
      this.curSample?.dispose();
      this.curSample = tf.keep(tf.clone(x));
    } else if (k === 1 || k === 2) {
      const cur = this.curModelOutput as tf.Tensor;
      this.setAccumulator(tf.tidy(() => tf.add(cur, tf.mul(modelOutput, f(1 / 3)))));
    } else {
      const cur = this.curModelOutput as tf.Tensor;
      combined = tf.tidy(() => tf.add(cur, tf.mul(modelOutput, f(1 / 6))));
      this.setAccumulator(null);
      out = combined;
    }
    const sample = this.curSample ?? x;
    const prev = this.prevSample(sample, baseT, prevT, out);
    combined?.dispose();
    this.counter++;
    return prev;
  }

  /** Replace the PRK accumulator (kept: step() may run inside the caller's tf.tidy). */
  private setAccumulator(v: tf.Tensor | null): void {
    this.curModelOutput?.dispose();
    this.curModelOutput = v ? tf.keep(v) : null;
  }

  /** diffusers `step_plms`: linear multistep on the last model outputs (lower orders while they accumulate). */
  private stepPlms(modelOutput: tf.Tensor, t: number, x: tf.Tensor): tf.Tensor {
    const ratio = Math.floor(this.numTrainTimesteps / (this.currentSteps as number));
    let prevT = t - ratio;
    let baseT = t;
    if (this.counter !== 1) {
      while (this.ets.length > 3) this.ets.shift()?.dispose();
      this.ets.push(tf.keep(tf.clone(modelOutput)));
    } else {
      prevT = t;
      baseT = t + ratio;
    }
    const e = this.ets;
    const m = e.length;
    let sample = x;
    let warmSample: tf.Tensor | null = null;
    let out: tf.Tensor;
    if (m === 1 && this.counter === 0) {
      out = tf.clone(modelOutput);
      this.curSample?.dispose();
      this.curSample = tf.keep(tf.clone(x));
    } else if (m === 1 && this.counter === 1) {
      out = tf.tidy(() => tf.div(tf.add(modelOutput, e[0]), 2));
      warmSample = this.curSample as tf.Tensor;
      sample = warmSample;
      this.curSample = null;
    } else if (m === 2) {
      out = tf.tidy(() => tf.div(tf.sub(tf.mul(e[1], 3), e[0]), 2));
    } else if (m === 3) {
      out = tf.tidy(() => tf.div(tf.add(tf.sub(tf.mul(e[2], 23), tf.mul(e[1], 16)), tf.mul(e[0], 5)), 12));
    } else {
      out = tf.tidy(() => tf.mul(tf.sub(tf.add(tf.sub(tf.mul(e[3], 55), tf.mul(e[2], 59)), tf.mul(e[1], 37)), tf.mul(e[0], 9)), f(1 / 24)));
    }
    try {
      return this.prevSample(sample, baseT, prevT, out);
    } finally {
      out.dispose();
      warmSample?.dispose();
      this.counter++;
    }
  }

  /** diffusers `_get_prev_sample`: PNDM's eq. (9) from `timestep` to `prevTimestep` (< 0: final alpha-bar). */
  private prevSample(sample: tf.Tensor, timestep: number, prevTimestep: number, modelOutput: tf.Tensor): tf.Tensor {
    const T = this.numTrainTimesteps;
    if (timestep < 0 || timestep > T - 1 || prevTimestep > T - 1) {
      throw new RangeError(`${this.id}: timesteps ${timestep} -> ${prevTimestep} leave [0, ${T - 1}] (diffusers would fail too); check stepsOffset and the spacing`);
    }
    const a = this.ac[timestep];
    const ap = prevTimestep >= 0 ? this.ac[prevTimestep] : this.finalAlphaCumprod;
    const b = f(1 - a);
    const bp = f(1 - ap);
    const sampleCoeff = f(Math.sqrt(f(ap / a)));
    const denom = f(f(a * f(Math.sqrt(bp))) + f(Math.sqrt(f(f(a * b) * ap))));
    return tf.tidy(() => {
      const eps = this.predictionType === 'v_prediction' ? tf.add(tf.mul(modelOutput, f(Math.sqrt(a))), tf.mul(sample, f(Math.sqrt(b)))) : modelOutput;
      return tf.sub(tf.mul(sample, sampleCoeff), tf.div(tf.mul(eps, f(ap - a)), denom));
    });
  }

  toDiffusersConfig(): DiffusersSchedulerConfig {
    return {
      _class_name: 'PNDMScheduler',
      ...scheduleKeysFor(this.schedule, 'PNDMScheduler', false),
      skip_prk_steps: this.skipPrkSteps,
      set_alpha_to_one: this.setAlphaToOne,
      prediction_type: this.predictionType,
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
      ...this.passthrough,
    };
  }

  /**
   * A sampler from a diffusers `PNDMScheduler` config (missing keys take diffusers' defaults). PNDMScheduler
   * has no `rescale_betas_zero_snr`: such a key is kept as an unknown key and not applied to the schedule (a
   * given zero-terminal-SNR schedule is an error).
   */
  static fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory, extra: Pick<PNDMOptions, 'numInferenceSteps'> = {}): PNDMSampler {
    const r = DiffusersConfigReader.of(json, 'PNDMScheduler');
    checkDiffusersBetaSchedule(r);
    return new PNDMSampler(resolveSigmaSchedule(r, schedule, false), {
      ...extra,
      skipPrkSteps: r.bool('skip_prk_steps', false),
      setAlphaToOne: r.bool('set_alpha_to_one', false),
      predictionType: r.choice('prediction_type', 'epsilon', PNDM_PREDICTION_TYPES),
      timestepSpacing: r.choice('timestep_spacing', 'leading', TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      diffusersPassthrough: diffusersPassthrough(r.json, PNDM_KNOWN_KEYS),
    });
  }
}

const PNDM_KNOWN_KEYS: ReadonlySet<string> = new Set([
  ...DIFFUSERS_SCHEDULE_KEYS.filter((k) => k !== 'rescale_betas_zero_snr'),
  'skip_prk_steps',
  'set_alpha_to_one',
  'prediction_type',
  'timestep_spacing',
  'steps_offset',
]);

export const pndmOptions = z
  .object({
    numInferenceSteps: z.number().int().min(1).nullable().default(null).describe('inference steps; null: min(50, T) (model calls: n + 9 with PRK, n + 1 without)'),
    predictionType: commonSamplerOptionShape.predictionType,
    skipPrkSteps: z.boolean().default(false).describe('PLMS only, without the Runge-Kutta warm-up'),
    setAlphaToOne: z.boolean().default(false).describe('alpha-bar after the last step is 1 (else alpha-bar_0)'),
    timestepSpacing: z.enum(TIMESTEP_SPACINGS as ['leading', 'linspace', 'trailing']).default('leading'),
    stepsOffset: z.number().int().min(0).default(0),
  })
  .strict();

export const pndmPlugin = definePlugin<Sampler, typeof pndmOptions>({
  kind: 'sampler',
  id: 'pndm',
  summary: 'PNDM: pseudo Runge-Kutta warm-up then pseudo linear multistep (Liu et al. 2022; diffusers PNDMScheduler)',
  options: pndmOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new PNDMSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(50, T), T),
      predictionType: resolvePredictionType(container, o.predictionType),
      skipPrkSteps: o.skipPrkSteps,
      setAlphaToOne: o.setAlphaToOne,
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
    });
  },
});
