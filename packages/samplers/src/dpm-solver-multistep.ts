import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  type DependencyContainer,
  type DiffusersSchedulerConfig,
  definePlugin,
  type NoiseSchedule,
  PREDICTION_TYPES,
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
import { checkSteps, commonSamplerOptionShape, resolvePredictionType } from './plugin-support.js';
import { type FinalSigmasType, FINAL_SIGMAS_TYPES, resolveSigmaSchedule } from './sigma-sampler.js';
import {
  checkDiffusersBetaSchedule,
  DIFFUSERS_MAIN_SIGMA_KEYS,
  DIFFUSERS_SCHEDULE_KEYS,
  diffusersPassthrough,
  readMainSigmaKeys,
  readRatio,
  scheduleKeysFor,
  unknownKeysOf,
} from './diffusers-keys.js';
import { alphaSigmaOf, lambdaOf, type MultistepTables, multistepTables, multistepTimesteps } from './multistep-tables.js';
import { FLOAT32_MAX, torchExp } from './torch-float32.js';

export { type FinalSigmasType, FINAL_SIGMAS_TYPES } from './sigma-sampler.js';
import { checkDynamicThresholding, DYNAMIC_THRESHOLDING_DEFAULTS, dynamicThreshold } from './thresholding.js';

/*
 * DPM-Solver / DPM-Solver++ multistep, as diffusers' DPMSolverMultistepScheduler computes it in float32.
 *
 * Version followed: diffusers main (2025). The step code (convert_model_output, the first/second/third-order
 * updates, step, index_for_timestep, add_noise) is line for line that of huggingface/diffusers@012687d689a1
 * (v0.27 era), unchanged since; set_timesteps is main's, which differs from 012687d only in that Karras / Lu
 * timesteps are rounded unless beta_schedule is squaredcos_cap_v2 (there the float timesteps are truncated by
 * the int64 cast). Neither removes duplicate timesteps (diffusers <= 0.25 did). The PyTorch re-implementation in
 * tools/reference/multistep_reference.py quotes each line.
 *
 * Every scalar coefficient is computed as torch computes it on 0-d float32 tensors: each operation rounded to
 * float32 (Math.fround), so the tensor operations (float32 on every tfjs backend) see the same numbers.
 */

const f = Math.fround;


export type DPMSolverAlgorithmType = 'dpmsolver++' | 'dpmsolver';
export const DPM_SOLVER_ALGORITHM_TYPES: readonly DPMSolverAlgorithmType[] = ['dpmsolver++', 'dpmsolver'];
export type DPMSolverType = 'midpoint' | 'heun';
export const DPM_SOLVER_TYPES: readonly DPMSolverType[] = ['midpoint', 'heun'];

// ------------------------------------------------------------------------------------------------
// DPMSolverMultistepSampler
// ------------------------------------------------------------------------------------------------

export interface DPMSolverMultistepOptions {
  /** Call `setTimesteps(n)` at construction. */
  numInferenceSteps?: number | null;
  /** 1, 2 or 3 (diffusers `solver_order`, default 2). */
  solverOrder?: number;
  /** What the model predicts. Default 'epsilon'. */
  predictionType?: PredictionType;
  /** Dynamic thresholding of the x_0 estimate (Saharia et al. 2022; diffusers `thresholding`). Default false. */
  thresholding?: boolean;
  /**
   * Clamp the x_0 estimate to [-clipSampleRange, clipSampleRange] when not thresholding (as DDPM /
   * DDIM's `clip_sample`). A difflab option: diffusers' DPMSolverMultistepScheduler has no such
   * key, so it is neither read from nor written to diffusers configs. Default false.
   */
  clipSample?: boolean;
  /** Default 1. */
  clipSampleRange?: number;
  /** Default 0.995. */
  dynamicThresholdingRatio?: number;
  /** Default 1.0. */
  sampleMaxValue?: number;
  /** 'dpmsolver++' (data prediction, Lu et al. 2022b) or 'dpmsolver' (noise prediction, Lu et al. 2022a). Default 'dpmsolver++'. */
  algorithmType?: DPMSolverAlgorithmType;
  /** Second-order variant: 'midpoint' or 'heun'. Default 'midpoint'. */
  solverType?: DPMSolverType;
  /** First / second order on the last steps when there are fewer than 15. Default true. */
  lowerOrderFinal?: boolean;
  /** First order on the last step. Default false. */
  eulerAtFinal?: boolean;
  /** Karras et al. 2022 sigmas (rho = 7). Default false. */
  useKarrasSigmas?: boolean;
  /** Lu et al.'s uniform log-SNR steps. Default false (Karras wins when both are set, as in diffusers). */
  useLuLambdas?: boolean;
  /** Default 'zero' (needs 'dpmsolver++'). */
  finalSigmasType?: FinalSigmasType;
  /** Skip timesteps whose lambda(t) is below this (diffusers recommends -5.1 for squaredcos_cap_v2). Default -Infinity. */
  lambdaMinClipped?: number;
  /** Default 'linspace' (diffusers' default for this class). */
  timestepSpacing?: TimestepSpacing;
  /** Added to 'leading' timesteps. Default 0. */
  stepsOffset?: number;
  /** diffusers config keys this class does not read, written back by `toDiffusersConfig` (fromDiffusersConfig fills it). */
  diffusersPassthrough?: Record<string, unknown>;
  /** Values of DIFFUSERS_MAIN_SIGMA_KEYS to write back (fromDiffusersConfig fills it; default diffusers' defaults). */
  diffusersMainSigmaKeys?: Record<string, unknown>;
  /** The id the sampler reports (the plugin that made it). Default 'dpm-solver-multistep'. */
  id?: string;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Multistep DPM-Solver (Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model
 * Sampling in Around 10 Steps", eq. 3.5 and alg. 1-2 in lambda = log(alpha/sigma)) and DPM-Solver++ (Lu et al.
 * 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models", alg. 2: the same
 * exponential integrator on the data prediction x_0), as diffusers' `DPMSolverMultistepScheduler.step`.
 *
 * Each step converts the model output to x_0 (dpmsolver++) or eps (dpmsolver), keeps the last `solverOrder`
 * of them, and takes a first, second or third order step from sigma_i to sigma_{i+1}; the order ramps up over
 * the first steps (`lowerOrderNums`) and drops again at the end (`lowerOrderFinal`, `eulerAtFinal`, and always
 * for the last step when the final sigma is 0). For dpmsolver++, first order:
 *
 *   x_{i+1} = (sigma_{i+1} / sigma_i) x_i - alpha_{i+1} (e^{-h} - 1) x0_i,   h = lambda_{i+1} - lambda_i.
 *
 * `predOriginalSample` is the x_0 estimate of the step (after thresholding); for 'dpmsolver' it is
 * (x - sigma_t eps) / alpha_t. `step` keeps clones of the converted outputs; they are released after the last
 * step and by `reset()` / `setTimesteps()`. `t` must be the timestep of the current step (the first call may
 * start anywhere in `timesteps`, as diffusers' index_for_timestep: the second of repeated timesteps).
 */
export class DPMSolverMultistepSampler implements Sampler {
  readonly id: string;
  /** Model evaluations per step (diffusers' class attribute `order`); the solver order is `solverOrder`. */
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly solverOrder: number;
  readonly predictionType: PredictionType;
  readonly thresholding: boolean;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
  readonly algorithmType: DPMSolverAlgorithmType;
  readonly solverType: DPMSolverType;
  readonly lowerOrderFinal: boolean;
  readonly eulerAtFinal: boolean;
  readonly useKarrasSigmas: boolean;
  readonly useLuLambdas: boolean;
  readonly finalSigmasType: FinalSigmasType;
  readonly lambdaMinClipped: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** diffusers config keys read by fromDiffusersConfig but not interpreted; written back unchanged. */
  readonly unknownDiffusersKeys: string[];
  private readonly passthrough: Record<string, unknown>;
  private readonly mainSigmaKeys: Record<string, unknown>;
  private readonly tables: MultistepTables;
  private currentTimesteps: number[] = [];
  private currentSigmas: Float64Array = new Float64Array(0);
  private currentSteps: number | null = null;
  /** The last `solverOrder` converted model outputs, oldest first (diffusers `model_outputs`). */
  private history: (tf.Tensor | null)[];
  private lowerOrderNums = 0;
  private stepIndexValue: number | null = null;
  private lastOrderValue: 1 | 2 | 3 | null = null;

  constructor(
    readonly schedule: NoiseSchedule,
    o: DPMSolverMultistepOptions = {},
  ) {
    if (!schedule || !(schedule.alphasCumprod instanceof Float64Array)) throw new ConfigError('schedule', 'a sampler needs a NoiseSchedule');
    this.id = o.id ?? 'dpm-solver-multistep';
    this.solverOrder = o.solverOrder ?? 2;
    if (![1, 2, 3].includes(this.solverOrder)) throw new ConfigError('solverOrder', `must be 1, 2 or 3, got ${JSON.stringify(o.solverOrder)}`);
    this.predictionType = o.predictionType ?? 'epsilon';
    if (!PREDICTION_TYPES.includes(this.predictionType)) {
      throw new ConfigError('predictionType', `unknown prediction type '${this.predictionType}'; allowed: ${PREDICTION_TYPES.join(', ')}`);
    }
    this.thresholding = o.thresholding ?? false;
    this.clipSample = o.clipSample ?? false;
    this.clipSampleRange = o.clipSampleRange ?? 1;
    if (!(this.clipSampleRange > 0)) throw new ConfigError('clipSampleRange', `must be > 0, got ${this.clipSampleRange}`);
    this.dynamicThresholdingRatio = o.dynamicThresholdingRatio ?? DYNAMIC_THRESHOLDING_DEFAULTS.ratio;
    this.sampleMaxValue = o.sampleMaxValue ?? DYNAMIC_THRESHOLDING_DEFAULTS.maxValue;
    checkDynamicThresholding({ ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue });
    this.algorithmType = o.algorithmType ?? 'dpmsolver++';
    if (!DPM_SOLVER_ALGORITHM_TYPES.includes(this.algorithmType)) {
      throw new ConfigError('algorithmType', `unsupported algorithm '${this.algorithmType}'; supported: ${DPM_SOLVER_ALGORITHM_TYPES.join(', ')}`);
    }
    this.solverType = o.solverType ?? 'midpoint';
    if (!DPM_SOLVER_TYPES.includes(this.solverType)) throw new ConfigError('solverType', `unsupported solver type '${this.solverType}'; supported: ${DPM_SOLVER_TYPES.join(', ')}`);
    this.lowerOrderFinal = o.lowerOrderFinal ?? true;
    this.eulerAtFinal = o.eulerAtFinal ?? false;
    this.useKarrasSigmas = o.useKarrasSigmas ?? false;
    this.useLuLambdas = o.useLuLambdas ?? false;
    this.finalSigmasType = o.finalSigmasType ?? 'zero';
    if (!FINAL_SIGMAS_TYPES.includes(this.finalSigmasType)) {
      throw new ConfigError('finalSigmasType', `unsupported value '${this.finalSigmasType}'; supported: ${FINAL_SIGMAS_TYPES.join(', ')}`);
    }
    if (this.algorithmType === 'dpmsolver' && this.finalSigmasType === 'zero') {
      throw new ConfigError('finalSigmasType', "'zero' needs algorithmType 'dpmsolver++'; use 'sigma_min' with 'dpmsolver'");
    }
    this.lambdaMinClipped = o.lambdaMinClipped ?? Number.NEGATIVE_INFINITY;
    if (typeof this.lambdaMinClipped !== 'number' || Number.isNaN(this.lambdaMinClipped) || this.lambdaMinClipped === Number.POSITIVE_INFINITY) {
      throw new ConfigError('lambdaMinClipped', `must be a number or -Infinity, got ${JSON.stringify(o.lambdaMinClipped)}`);
    }
    this.timestepSpacing = o.timestepSpacing ?? 'linspace';
    if (!TIMESTEP_SPACINGS.includes(this.timestepSpacing)) {
      throw new ConfigError('timestepSpacing', `unknown spacing '${this.timestepSpacing}'; allowed: ${TIMESTEP_SPACINGS.join(', ')}`);
    }
    this.stepsOffset = o.stepsOffset ?? 0;
    if (!Number.isInteger(this.stepsOffset) || this.stepsOffset < 0) throw new ConfigError('stepsOffset', `must be a non-negative integer, got ${this.stepsOffset}`);
    this.passthrough = { ...(o.diffusersPassthrough ?? {}) };
    this.unknownDiffusersKeys = unknownKeysOf(this.passthrough);
    this.mainSigmaKeys = { ...MAIN_SIGMA_DEFAULTS, ...(o.diffusersMainSigmaKeys ?? {}) };
    this.tables = multistepTables(schedule);
    this.history = new Array(this.solverOrder).fill(null);
    if (o.numInferenceSteps !== undefined && o.numInferenceSteps !== null) this.setTimesteps(o.numInferenceSteps);
  }

  get timesteps(): readonly number[] {
    return this.currentTimesteps;
  }

  /** The n given to `setTimesteps` (`timesteps` can be shorter under lambdaMinClipped with 'trailing'). */
  get numInferenceSteps(): number | null {
    return this.currentSteps;
  }

  /** sigma_i of each step plus the final sigma (float32 values, diffusers `sigmas`). */
  get sigmas(): Float64Array {
    return this.currentSigmas;
  }

  /** The order (1, 2 or 3) of the last step taken (null before the first). */
  get lastOrder(): 1 | 2 | 3 | null {
    return this.lastOrderValue;
  }

  /** Index of the next step (null before the first `step` after `setTimesteps` / `reset`). */
  get stepIndex(): number | null {
    return this.stepIndexValue;
  }

  get numTrainTimesteps(): number {
    return this.schedule.numTrainTimesteps;
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > T) {
      throw new ConfigError('numInferenceSteps', `must be an integer in [1, ${T}] (the number of training timesteps), got ${numInferenceSteps}`);
    }
    const { timesteps, sigmas } = multistepTimesteps(this.tables, numInferenceSteps, this, this.schedule.config.beta_schedule === 'squaredcos_cap_v2');
    if (timesteps.length === 0) throw new ConfigError('lambdaMinClipped', `${this.lambdaMinClipped} leaves no timestep for ${numInferenceSteps} steps`);
    this.currentTimesteps = timesteps;
    this.currentSigmas = sigmas;
    this.currentSteps = numInferenceSteps;
    this.reset();
  }

  /** Identity: returns `x` itself (the caller owns it). */
  scaleModelInput(x: tf.Tensor, _t: number): tf.Tensor {
    return x;
  }

  /**
   * alpha_t x_0 + sigma_t noise (diffusers `add_noise`), with the sigma of t's step when t is one of
   * `timesteps` (the second of repeated ones, as diffusers' index_for_timestep; with Karras / Lu sigmas this is
   * not the table's sigma_t), else the training table's sigma_t (diffusers would take the last step's sigma).
   */
  addNoise(original: tf.Tensor, noise: tf.Tensor, t: number): tf.Tensor {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new RangeError(`${this.id}.addNoise: timestep ${t} must be an integer in [0, ${T - 1}]`);
    if (!sameShape(original.shape, noise.shape)) throw new RangeError(`${this.id}.addNoise: noise shape [${noise.shape}] differs from sample shape [${original.shape}]`);
    const i = this.indexForTimestep(t);
    const a = alphaSigmaOf(i === null ? this.tables.sigmas[t] : this.currentSigmas[i]);
    return tf.tidy(() => tf.add(tf.mul(original, a.alpha), tf.mul(noise, a.sigma)));
  }

  /** Drop the model-output history, the warm-up counter and the step index. */
  reset(): void {
    for (const h of this.history) h?.dispose();
    this.history = new Array(this.solverOrder).fill(null);
    this.lowerOrderNums = 0;
    this.stepIndexValue = null;
    this.lastOrderValue = null;
  }

  /** diffusers' index_for_timestep: the second of repeated timesteps, null when t is not one of them. */
  private indexForTimestep(t: number): number | null {
    const first = this.currentTimesteps.indexOf(t);
    if (first < 0) return null;
    const second = this.currentTimesteps.indexOf(t, first + 1);
    return second < 0 ? first : second;
  }

  step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, _opts?: StepOptions): StepResult {
    if (this.currentSteps === null) throw new ConfigError('numInferenceSteps', `${this.id}: call setTimesteps(n) before step()`);
    if (!sameShape(modelOutput.shape, x.shape)) throw new RangeError(`${this.id}: model output shape [${modelOutput.shape}] differs from sample shape [${x.shape}]`);
    const n = this.currentTimesteps.length;
    if (this.stepIndexValue === null) {
      const i = this.indexForTimestep(t);
      if (i === null) throw new RangeError(`${this.id}: timestep ${t} is not one of the ${n} timesteps; call setTimesteps(n) or step at timesteps[0]`);
      this.stepIndexValue = i;
    }
    const i = this.stepIndexValue;
    if (i >= n) throw new RangeError(`${this.id}: all ${n} steps are done; call reset() to start a new loop`);
    if (this.currentTimesteps[i] !== t) throw new RangeError(`${this.id}: step ${i} is at timestep ${this.currentTimesteps[i]}, got ${t}; call reset() to start a new loop`);

    const lowerOrderFinal = i === n - 1 && (this.eulerAtFinal || (this.lowerOrderFinal && n < 15) || this.finalSigmasType === 'zero');
    const lowerOrderSecond = i === n - 2 && this.lowerOrderFinal && n < 15;
    const { converted, x0 } = this.convertModelOutput(modelOutput, x, i);
    this.history[0]?.dispose();
    // kept: the caller may run step() inside tf.tidy (denoise does), and the history outlives it
    this.history = [...this.history.slice(1), tf.keep(converted)];
    let order: 1 | 2 | 3 = 3;
    if (this.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) order = 1;
    else if (this.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) order = 2;
    const prevSample = tf.tidy(() => (order === 1 ? this.firstOrderUpdate(converted, x, i) : order === 2 ? this.secondOrderUpdate(x, i) : this.thirdOrderUpdate(x, i)));
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums++;
    this.stepIndexValue = i + 1;
    this.lastOrderValue = order;
    // nothing more can use the history after the last step: release it now (a finished loop holds no tensors)
    if (i === n - 1) {
      for (const h of this.history) h?.dispose();
      this.history = new Array(this.solverOrder).fill(null);
    }
    return { prevSample, predOriginalSample: x0 };
  }

  /** diffusers `convert_model_output`: x_0 (dpmsolver++) or eps (dpmsolver), thresholded when set; both fresh tensors. */
  private convertModelOutput(modelOutput: tf.Tensor, x: tf.Tensor, i: number): { converted: tf.Tensor; x0: tf.Tensor } {
    const { alpha, sigma } = alphaSigmaOf(this.currentSigmas[i]);
    return tf.tidy(() => {
      // diffusers' thresholding; else difflab's clipSample (like DDPM / DDIM's; not a diffusers key here)
      const threshold = (v: tf.Tensor) =>
        this.thresholding
          ? dynamicThreshold(v, { ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue })
          : this.clipSample
            ? tf.clipByValue(v, -this.clipSampleRange, this.clipSampleRange)
            : v;
      if (this.algorithmType === 'dpmsolver++') {
        let x0: tf.Tensor;
        if (this.predictionType === 'epsilon') x0 = tf.div(tf.sub(x, tf.mul(modelOutput, sigma)), alpha);
        else if (this.predictionType === 'sample') x0 = modelOutput;
        else x0 = tf.sub(tf.mul(x, alpha), tf.mul(modelOutput, sigma));
        x0 = threshold(x0);
        const converted = x0 === modelOutput ? tf.clone(x0) : x0;
        return { converted, x0: tf.clone(converted) };
      }
      let eps: tf.Tensor;
      if (this.predictionType === 'epsilon') eps = modelOutput;
      else if (this.predictionType === 'sample') eps = tf.div(tf.sub(x, tf.mul(modelOutput, alpha)), sigma);
      else eps = tf.add(tf.mul(modelOutput, alpha), tf.mul(x, sigma));
      let x0 = tf.div(tf.sub(x, tf.mul(eps, sigma)), alpha);
      if (this.thresholding || this.clipSample) {
        x0 = threshold(x0);
        eps = tf.div(tf.sub(x, tf.mul(x0, alpha)), sigma);
      }
      return { converted: eps === modelOutput ? tf.clone(eps) : eps, x0 };
    });
  }

  /** diffusers `dpm_solver_first_order_update` (DDIM in lambda). Call inside tf.tidy. */
  private firstOrderUpdate(m: tf.Tensor, x: tf.Tensor, i: number): tf.Tensor {
    const t = alphaSigmaOf(this.currentSigmas[i + 1]);
    const s = alphaSigmaOf(this.currentSigmas[i]);
    const h = f(lambdaOf(t) - lambdaOf(s));
    if (this.algorithmType === 'dpmsolver++') {
      // (sigma_t / sigma_s) * sample - (alpha_t * (exp(-h) - 1)) * m
      return tf.sub(tf.mul(x, f(t.sigma / s.sigma)), tf.mul(m, f(t.alpha * f(torchExp(-h) - 1))));
    }
    // (alpha_t / alpha_s) * sample - (sigma_t * (exp(h) - 1)) * m
    return tf.sub(tf.mul(x, f(t.alpha / s.alpha)), tf.mul(m, f(t.sigma * f(torchExp(h) - 1))));
  }

  /** diffusers `multistep_dpm_solver_second_order_update`. Call inside tf.tidy. */
  private secondOrderUpdate(x: tf.Tensor, i: number): tf.Tensor {
    const [m1, m0] = this.history.slice(-2) as tf.Tensor[];
    const t = alphaSigmaOf(this.currentSigmas[i + 1]);
    const s0 = alphaSigmaOf(this.currentSigmas[i]);
    const s1 = alphaSigmaOf(this.currentSigmas[i - 1]);
    const lt = lambdaOf(t);
    const l0 = lambdaOf(s0);
    const l1 = lambdaOf(s1);
    const h = f(lt - l0);
    const h0 = f(l0 - l1);
    const r0 = f(h0 / h);
    const D0 = m0;
    const D1 = tf.mul(tf.sub(m0, m1), f(1 / r0));
    if (this.algorithmType === 'dpmsolver++') {
      const em1 = f(torchExp(-h) - 1);
      const c0 = f(t.alpha * em1);
      const base = tf.sub(tf.mul(x, f(t.sigma / s0.sigma)), tf.mul(D0, c0));
      if (this.solverType === 'midpoint') return tf.sub(base, tf.mul(D1, f(0.5 * c0)));
      return tf.add(base, tf.mul(D1, f(t.alpha * f(f(em1 / h) + 1))));
    }
    const ep1 = f(torchExp(h) - 1);
    const c0 = f(t.sigma * ep1);
    const base = tf.sub(tf.mul(x, f(t.alpha / s0.alpha)), tf.mul(D0, c0));
    if (this.solverType === 'midpoint') return tf.sub(base, tf.mul(D1, f(0.5 * c0)));
    return tf.sub(base, tf.mul(D1, f(t.sigma * f(f(ep1 / h) - 1))));
  }

  /** diffusers `multistep_dpm_solver_third_order_update`. Call inside tf.tidy. */
  private thirdOrderUpdate(x: tf.Tensor, i: number): tf.Tensor {
    const [m2, m1, m0] = this.history as tf.Tensor[];
    const t = alphaSigmaOf(this.currentSigmas[i + 1]);
    const s0 = alphaSigmaOf(this.currentSigmas[i]);
    const s1 = alphaSigmaOf(this.currentSigmas[i - 1]);
    const s2 = alphaSigmaOf(this.currentSigmas[i - 2]);
    const lt = lambdaOf(t);
    const l0 = lambdaOf(s0);
    const l1 = lambdaOf(s1);
    const l2 = lambdaOf(s2);
    const h = f(lt - l0);
    const h0 = f(l0 - l1);
    const h1 = f(l1 - l2);
    const r0 = f(h0 / h);
    const r1 = f(h1 / h);
    const D0 = m0;
    const D10 = tf.mul(tf.sub(m0, m1), f(1 / r0));
    const D11 = tf.mul(tf.sub(m1, m2), f(1 / r1));
    const dd = tf.sub(D10, D11);
    const r01 = f(r0 + r1);
    const D1 = tf.add(D10, tf.mul(dd, f(r0 / r01)));
    const D2 = tf.mul(dd, f(1 / r01));
    const hh = f(h * h);
    if (this.algorithmType === 'dpmsolver++') {
      const em1 = f(torchExp(-h) - 1);
      const c0 = f(t.alpha * em1);
      const c1 = f(t.alpha * f(f(em1 / h) + 1));
      const c2 = f(t.alpha * f(f(f(em1 + h) / hh) - 0.5));
      return tf.sub(tf.add(tf.sub(tf.mul(x, f(t.sigma / s0.sigma)), tf.mul(D0, c0)), tf.mul(D1, c1)), tf.mul(D2, c2));
    }
    const ep1 = f(torchExp(h) - 1);
    const c0 = f(t.sigma * ep1);
    const c1 = f(t.sigma * f(f(ep1 / h) - 1));
    const c2 = f(t.sigma * f(f(f(ep1 - h) / hh) - 0.5));
    return tf.sub(tf.sub(tf.sub(tf.mul(x, f(t.alpha / s0.alpha)), tf.mul(D0, c0)), tf.mul(D1, c1)), tf.mul(D2, c2));
  }

  toDiffusersConfig(): DiffusersSchedulerConfig {
    return {
      _class_name: 'DPMSolverMultistepScheduler',
      ...scheduleKeysFor(this.schedule, 'DPMSolverMultistepScheduler'),
      solver_order: this.solverOrder,
      prediction_type: this.predictionType,
      thresholding: this.thresholding,
      dynamic_thresholding_ratio: this.dynamicThresholdingRatio,
      sample_max_value: this.sampleMaxValue,
      algorithm_type: this.algorithmType,
      solver_type: this.solverType,
      lower_order_final: this.lowerOrderFinal,
      euler_at_final: this.eulerAtFinal,
      use_karras_sigmas: this.useKarrasSigmas,
      use_exponential_sigmas: this.mainSigmaKeys.use_exponential_sigmas,
      use_beta_sigmas: this.mainSigmaKeys.use_beta_sigmas,
      use_lu_lambdas: this.useLuLambdas,
      use_flow_sigmas: this.mainSigmaKeys.use_flow_sigmas,
      flow_shift: this.mainSigmaKeys.flow_shift,
      final_sigmas_type: this.finalSigmasType,
      // JSON has no -Infinity (JSON.stringify would write null, which diffusers cannot use): -FLT_MAX clips nothing
      lambda_min_clipped: this.lambdaMinClipped === Number.NEGATIVE_INFINITY ? -FLOAT32_MAX : this.lambdaMinClipped,
      variance_type: null,
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
      use_dynamic_shifting: this.mainSigmaKeys.use_dynamic_shifting,
      time_shift_type: this.mainSigmaKeys.time_shift_type,
      ...this.passthrough,
    };
  }

  /**
   * A sampler from a diffusers `DPMSolverMultistepScheduler` config (missing keys take diffusers' defaults).
   * diffusers' aliases are mapped as its constructor does (algorithm_type 'deis' -> 'dpmsolver++'; solver_type
   * 'logrho' / 'bh1' / 'bh2' -> 'midpoint'). lambda_min_clipped may be a number, null, '-inf' / '-Infinity'
   * (Python writes -Infinity, which JSON.parse rejects), or <= -FLT_MAX: all but a finite number mean -Infinity.
   * Unsupported values (sde-* algorithms, learned variance, flow_prediction, exponential / beta / flow sigmas,
   * dynamic shifting) are a ConfigError;
   * keys this class does not know are kept in `unknownDiffusersKeys` and written back by toDiffusersConfig.
   */
  static fromDiffusersConfig(
    json: unknown,
    schedule: NoiseSchedule | ScheduleFactory,
    extra: Pick<DPMSolverMultistepOptions, 'numInferenceSteps'> = {},
  ): DPMSolverMultistepSampler {
    const r = DiffusersConfigReader.of(json, 'DPMSolverMultistepScheduler');
    checkDiffusersBetaSchedule(r);
    const mainSigmaKeys = readMainSigmaKeys(r);
    const variance = r.json.variance_type;
    if (variance !== undefined && variance !== null) throw new ConfigError(`${r.path}.variance_type`, `unsupported value ${JSON.stringify(variance)}; supported: null`);
    const algorithm = r.choice('algorithm_type', 'dpmsolver++', ['dpmsolver++', 'dpmsolver', 'deis'] as const);
    const solver = r.choice('solver_type', 'midpoint', ['midpoint', 'heun', 'logrho', 'bh1', 'bh2'] as const);
    const order = r.number('solver_order', 2, 1, true);
    if (order > 3) throw new ConfigError(`${r.path}.solver_order`, `must be 1, 2 or 3, got ${order}`);
    return new DPMSolverMultistepSampler(resolveSigmaSchedule(r, schedule, true), {
      ...extra,
      solverOrder: order,
      predictionType: r.choice('prediction_type', 'epsilon', PREDICTION_TYPES),
      thresholding: r.bool('thresholding', false),
      dynamicThresholdingRatio: readRatio(r),
      sampleMaxValue: r.number('sample_max_value', 1, Number.MIN_VALUE),
      algorithmType: algorithm === 'deis' ? 'dpmsolver++' : algorithm,
      solverType: solver === 'heun' ? 'heun' : 'midpoint',
      lowerOrderFinal: r.bool('lower_order_final', true),
      eulerAtFinal: r.bool('euler_at_final', false),
      useKarrasSigmas: r.bool('use_karras_sigmas', false),
      useLuLambdas: r.bool('use_lu_lambdas', false),
      finalSigmasType: r.choice('final_sigmas_type', 'zero', FINAL_SIGMAS_TYPES),
      lambdaMinClipped: readLambdaMinClipped(r),
      timestepSpacing: r.choice('timestep_spacing', 'linspace', TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      diffusersPassthrough: diffusersPassthrough(r.json, DPM_KNOWN_KEYS),
      diffusersMainSigmaKeys: mainSigmaKeys,
    });
  }
}

const MAIN_SIGMA_DEFAULTS: Readonly<Record<string, unknown>> = {
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  use_flow_sigmas: false,
  flow_shift: 1,
  use_dynamic_shifting: false,
  time_shift_type: 'exponential',
};

function readLambdaMinClipped(r: DiffusersConfigReader): number {
  const v = r.json.lambda_min_clipped;
  if (v === undefined || v === null || v === '-inf' || v === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof v !== 'number' || Number.isNaN(v) || v === Number.POSITIVE_INFINITY) {
    throw new ConfigError(`${r.path}.lambda_min_clipped`, `must be a number, null or "-Infinity", got ${JSON.stringify(v)}`);
  }
  return v <= -FLOAT32_MAX ? Number.NEGATIVE_INFINITY : v;
}

const DPM_KNOWN_KEYS: ReadonlySet<string> = new Set([
  ...DIFFUSERS_SCHEDULE_KEYS,
  ...DIFFUSERS_MAIN_SIGMA_KEYS,
  'solver_order',
  'prediction_type',
  'thresholding',
  'dynamic_thresholding_ratio',
  'sample_max_value',
  'algorithm_type',
  'solver_type',
  'lower_order_final',
  'euler_at_final',
  'use_karras_sigmas',
  'use_lu_lambdas',
  'final_sigmas_type',
  'lambda_min_clipped',
  'variance_type',
  'timestep_spacing',
  'steps_offset',
]);

// ------------------------------------------------------------------------------------------------
// Plugins
// ------------------------------------------------------------------------------------------------

/** Options 'dpm-solver-multistep' and 'dpmpp-2m' share (diffusers' defaults). */
const dpmSharedShape = {
  numInferenceSteps: z.number().int().min(1).nullable().default(null).describe('inference steps; null: min(20, T)'),
  predictionType: commonSamplerOptionShape.predictionType,
  thresholding: z.boolean().default(false).describe('dynamic thresholding of x_0 (Saharia et al. 2022)'),
  dynamicThresholdingRatio: z.number().min(0).max(1).default(0.995).describe('quantile of |x_0| per sample'),
  sampleMaxValue: z.number().positive().default(1).describe('largest threshold s'),
  clipSample: z.boolean().default(false).describe('clamp x_0 to [-clipSampleRange, clipSampleRange] (difflab option, not in diffusers)'),
  clipSampleRange: z.number().positive().default(1).describe('clamp range for clipSample'),
  solverType: z.enum(['midpoint', 'heun']).default('midpoint').describe('second-order variant'),
  lowerOrderFinal: z.boolean().default(true).describe('lower orders on the last steps when fewer than 15 steps'),
  eulerAtFinal: z.boolean().default(false).describe('first order on the last step'),
  useKarrasSigmas: z.boolean().default(false).describe('Karras et al. 2022 sigmas (rho = 7)'),
  useLuLambdas: z.boolean().default(false).describe("Lu et al.'s uniform log-SNR steps"),
  finalSigmasType: z.enum(['zero', 'sigma_min']).default('zero').describe("sigma after the last step ('zero' needs dpmsolver++)"),
  lambdaMinClipped: z.number().nullable().default(null).describe('skip timesteps with lambda(t) below this (-5.1 for cosine); null: none'),
  timestepSpacing: z.enum(TIMESTEP_SPACINGS as ['leading', 'linspace', 'trailing']).default('linspace'),
  stepsOffset: z.number().int().min(0).default(0),
};

export const dpmSolverMultistepOptions = z
  .object({
    ...dpmSharedShape,
    solverOrder: z.number().int().min(1).max(3).default(2).describe('1, 2 or 3'),
    algorithmType: z.enum(['dpmsolver++', 'dpmsolver']).default('dpmsolver++').describe("'dpmsolver++' (x_0) or 'dpmsolver' (eps)"),
  })
  .strict();

/** DPM-Solver++(2M): the same options with algorithm 'dpmsolver++' and order 2 fixed. */
export const dpmpp2mOptions = z.object(dpmSharedShape).strict();

type SharedOptions = z.output<z.ZodObject<typeof dpmSharedShape>>;

function createDpm(o: SharedOptions & { solverOrder: number; algorithmType: DPMSolverAlgorithmType }, container: DependencyContainer, id: string): DPMSolverMultistepSampler {
  const schedule = resolveRequired(container, TOKENS.Schedule);
  const T = schedule.numTrainTimesteps;
  return new DPMSolverMultistepSampler(schedule, {
    id,
    numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(20, T), T),
    solverOrder: o.solverOrder,
    algorithmType: o.algorithmType,
    predictionType: resolvePredictionType(container, o.predictionType),
    thresholding: o.thresholding,
    dynamicThresholdingRatio: o.dynamicThresholdingRatio,
    sampleMaxValue: o.sampleMaxValue,
    clipSample: o.clipSample,
    clipSampleRange: o.clipSampleRange,
    solverType: o.solverType,
    lowerOrderFinal: o.lowerOrderFinal,
    eulerAtFinal: o.eulerAtFinal,
    useKarrasSigmas: o.useKarrasSigmas,
    useLuLambdas: o.useLuLambdas,
    finalSigmasType: o.finalSigmasType,
    lambdaMinClipped: o.lambdaMinClipped ?? Number.NEGATIVE_INFINITY,
    timestepSpacing: o.timestepSpacing,
    stepsOffset: o.stepsOffset,
  });
}

export const dpmSolverMultistepPlugin = definePlugin<Sampler, typeof dpmSolverMultistepOptions>({
  kind: 'sampler',
  id: 'dpm-solver-multistep',
  summary: 'multistep DPM-Solver / DPM-Solver++ of order 1-3 (Lu et al. 2022; diffusers DPMSolverMultistepScheduler)',
  options: dpmSolverMultistepOptions,
  create: (o, container) => createDpm(o, container, 'dpm-solver-multistep'),
});

export const dpmpp2mPlugin = definePlugin<Sampler, typeof dpmpp2mOptions>({
  kind: 'sampler',
  id: 'dpmpp-2m',
  summary: 'DPM-Solver++(2M): second-order multistep DPM-Solver++ (Lu et al. 2022; diffusers DPMSolverMultistepScheduler defaults)',
  options: dpmpp2mOptions,
  create: (o, container) => createDpm({ ...o, solverOrder: 2, algorithmType: 'dpmsolver++' }, container, 'dpmpp-2m'),
});
