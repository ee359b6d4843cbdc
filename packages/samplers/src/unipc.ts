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
  type TimestepSpacing,
  TOKENS,
} from '@difflab/core';
import { z } from 'zod';
import { DiffusersConfigReader, type ScheduleFactory } from './diffusers-config.js';
import { TIMESTEP_SPACINGS } from './discrete-sampler.js';
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
import { FINAL_SIGMAS_TYPES, type FinalSigmasType } from './sigma-sampler.js';
import { torchExpm1 } from './torch-float32.js';
import { checkSteps, commonSamplerOptionShape, resolvePredictionType } from './plugin-support.js';
import { resolveSigmaSchedule } from './sigma-sampler.js';
import { checkDynamicThresholding, DYNAMIC_THRESHOLDING_DEFAULTS, dynamicThreshold } from './thresholding.js';

/*
 * UniPC as diffusers' UniPCMultistepScheduler (main, huggingface/diffusers@0047da10a201) computes it in float32:
 * scalar coefficients as torch computes them on 0-d CPU tensors (SLEEF exp / log / expm1), the small linear
 * systems for the predictor / corrector weights as torch.linalg.solve does on the CPU with OpenBLAS (see
 * `solveF32`). The PyTorch re-implementation in tools/reference/multistep_reference.py quotes each line.
 */

const f = Math.fround;

export type UniPCSolverType = 'bh1' | 'bh2';
export const UNIPC_SOLVER_TYPES: readonly UniPCSolverType[] = ['bh1', 'bh2'];

export interface UniPCOptions {
  /** Call `setTimesteps(n)` at construction. */
  numInferenceSteps?: number | null;
  /** The predictor order p, 1-3 (diffusers `solver_order`, default 2; UniC raises the accuracy to p + 1). */
  solverOrder?: number;
  /** What the model predicts. Default 'epsilon'. */
  predictionType?: PredictionType;
  /** Dynamic thresholding of the x_0 estimate (only with predictX0). Default false. */
  thresholding?: boolean;
  /** Default 0.995. */
  dynamicThresholdingRatio?: number;
  /** Default 1.0. */
  sampleMaxValue?: number;
  /** Solve for the data prediction x_0 (UniPC's default, as DPM-Solver++) or the noise prediction. Default true. */
  predictX0?: boolean;
  /** B(h) = h ('bh1') or e^h - 1 ('bh2', default). */
  solverType?: UniPCSolverType;
  /** Lower orders on the last steps. Default true. */
  lowerOrderFinal?: boolean;
  /** Step indices after which the corrector is skipped (diffusers `disable_corrector`). Default []. */
  disableCorrector?: readonly number[];
  /** Karras et al. 2022 sigmas (rho = 7). Default false. */
  useKarrasSigmas?: boolean;
  /** Default 'linspace'. */
  timestepSpacing?: TimestepSpacing;
  /** Added to 'leading' timesteps. Default 0. */
  stepsOffset?: number;
  /** Default 'zero' (needs predictX0 and 'bh2'). */
  finalSigmasType?: FinalSigmasType;
  /** diffusers config keys this class does not read, written back by `toDiffusersConfig`. */
  diffusersPassthrough?: Record<string, unknown>;
  /** Values of DIFFUSERS_MAIN_SIGMA_KEYS to write back (fromDiffusersConfig fills it). */
  diffusersMainSigmaKeys?: Record<string, unknown>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** sum of products in float32, each product and each partial sum rounded (OpenBLAS' small sdot). */
function dot32(a: readonly number[], b: readonly number[]): number {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc = f(acc + f(a[i] * b[i]));
  return acc;
}

/**
 * torch.linalg.solve(A, b) for a small float32 system, as torch 1.13 computes it on the CPU with OpenBLAS: it
 * factors A^T = P L U (OpenBLAS' left-looking getf2: each column updated by dot products, pivot by the largest
 * magnitude, the column below it scaled by the float32 reciprocal of the pivot) and solves A x = b through
 * U^T L^T P^T (getrs with trans: dot-product substitutions, division by U's diagonal). Matches torch bit for bit
 * on 3,000 random 2x2 and 3x3 systems each; another LAPACK (MKL) may round differently by an ulp.
 */
export function solveF32(A: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const M = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (__, j) => f(A[j][i])));
  const piv: number[] = [];
  for (let j = 0; j < n; j++) {
    const col = M.map((row) => row[j]);
    for (let i = 1; i < j; i++) col[i] = f(col[i] - dot32(M[i].slice(0, i), col.slice(0, i)));
    for (let i = j; i < n; i++) col[i] = f(col[i] - dot32(M[i].slice(0, j), col.slice(0, j)));
    col.forEach((v, i) => {
      M[i][j] = v;
    });
    let p = j;
    for (let i = j + 1; i < n; i++) if (Math.abs(M[i][j]) > Math.abs(M[p][j])) p = i;
    piv.push(p);
    [M[j], M[p]] = [M[p], M[j]];
    const inv = f(1 / M[j][j]);
    for (let i = j + 1; i < n; i++) M[i][j] = f(M[i][j] * inv);
  }
  const x = b.map(f);
  for (let i = 0; i < n; i++) {
    const u = M.slice(0, i).map((row) => row[i]);
    x[i] = f(f(x[i] - dot32(u, x.slice(0, i))) / M[i][i]);
  }
  for (let i = n - 1; i >= 0; i--) {
    const l = M.slice(i + 1).map((row) => row[i]);
    x[i] = f(x[i] - dot32(l, x.slice(i + 1)));
  }
  for (let k = n - 1; k >= 0; k--) [x[k], x[piv[k]]] = [x[piv[k]], x[k]];
  return x;
}

/** What the predictor and the corrector share: the weights rho solving R rho = b (Zhao et al. 2023, eq. 8/9). */
interface UniCoefficients {
  /** (lambda_{s_k} - lambda_{s_0}) / h for the earlier steps k = 1..order-1 */
  rks: number[];
  R: number[][];
  b: number[];
  hPhi1: number;
  Bh: number;
}

/**
 * UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion
 * Models"), as diffusers' `UniPCMultistepScheduler`: a multistep predictor UniP-p (alg. 2, B(h) variants
 * bh1 / bh2) on the converted model outputs (x_0 with predictX0, else eps), and before each predictor step the
 * corrector UniC, which re-solves the previous step with the model output just computed at its end:
 *
 *   x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) m_s - alpha_t B(h) sum_k rho_k D_k,   D_k = (m_k - m_s) / r_k.
 *
 * The corrected sample feeds the next predictor but the model is never re-evaluated on it, so it costs no
 * extra model call. `predOriginalSample` is the step's x_0 estimate (after thresholding; for the noise
 * prediction (x - sigma_t eps) / alpha_t at the uncorrected x). State (model outputs, the last sample) is
 * released after the last step and by `reset()` / `setTimesteps()`.
 */
export class UniPCSampler implements Sampler {
  readonly id = 'unipc';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly solverOrder: number;
  readonly predictionType: PredictionType;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
  readonly predictX0: boolean;
  readonly solverType: UniPCSolverType;
  readonly lowerOrderFinal: boolean;
  readonly disableCorrector: readonly number[];
  readonly useKarrasSigmas: boolean;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly finalSigmasType: FinalSigmasType;
  /** diffusers config keys read by fromDiffusersConfig but not interpreted; written back unchanged. */
  readonly unknownDiffusersKeys: string[];
  private readonly passthrough: Record<string, unknown>;
  private readonly mainSigmaKeys: Record<string, unknown>;
  private readonly tables: MultistepTables;
  private currentTimesteps: number[] = [];
  private currentSigmas: Float64Array = new Float64Array(0);
  private currentSteps: number | null = null;
  private history: (tf.Tensor | null)[];
  private lastSample: tf.Tensor | null = null;
  private thisOrder = 0;
  private lowerOrderNums = 0;
  private stepIndexValue: number | null = null;
  private correctedValue = false;

  constructor(
    readonly schedule: NoiseSchedule,
    o: UniPCOptions = {},
  ) {
    if (!schedule || !(schedule.alphasCumprod instanceof Float64Array)) throw new ConfigError('schedule', 'a sampler needs a NoiseSchedule');
    this.solverOrder = o.solverOrder ?? 2;
    if (![1, 2, 3].includes(this.solverOrder)) throw new ConfigError('solverOrder', `must be 1, 2 or 3, got ${JSON.stringify(o.solverOrder)}`);
    this.predictionType = o.predictionType ?? 'epsilon';
    if (!PREDICTION_TYPES.includes(this.predictionType)) {
      throw new ConfigError('predictionType', `unknown prediction type '${this.predictionType}'; allowed: ${PREDICTION_TYPES.join(', ')}`);
    }
    this.thresholding = o.thresholding ?? false;
    this.dynamicThresholdingRatio = o.dynamicThresholdingRatio ?? DYNAMIC_THRESHOLDING_DEFAULTS.ratio;
    this.sampleMaxValue = o.sampleMaxValue ?? DYNAMIC_THRESHOLDING_DEFAULTS.maxValue;
    checkDynamicThresholding({ ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue });
    this.predictX0 = o.predictX0 ?? true;
    this.solverType = o.solverType ?? 'bh2';
    if (!UNIPC_SOLVER_TYPES.includes(this.solverType)) throw new ConfigError('solverType', `unsupported solver type '${this.solverType}'; supported: ${UNIPC_SOLVER_TYPES.join(', ')}`);
    this.lowerOrderFinal = o.lowerOrderFinal ?? true;
    this.disableCorrector = [...(o.disableCorrector ?? [])];
    if (!this.disableCorrector.every((i) => Number.isInteger(i) && i >= 0)) {
      throw new ConfigError('disableCorrector', `must be a list of step indices (integers >= 0), got ${JSON.stringify(o.disableCorrector)}`);
    }
    this.useKarrasSigmas = o.useKarrasSigmas ?? false;
    this.timestepSpacing = o.timestepSpacing ?? 'linspace';
    if (!TIMESTEP_SPACINGS.includes(this.timestepSpacing)) {
      throw new ConfigError('timestepSpacing', `unknown spacing '${this.timestepSpacing}'; allowed: ${TIMESTEP_SPACINGS.join(', ')}`);
    }
    this.stepsOffset = o.stepsOffset ?? 0;
    if (!Number.isInteger(this.stepsOffset) || this.stepsOffset < 0) throw new ConfigError('stepsOffset', `must be a non-negative integer, got ${this.stepsOffset}`);
    this.finalSigmasType = o.finalSigmasType ?? 'zero';
    if (!FINAL_SIGMAS_TYPES.includes(this.finalSigmasType)) {
      throw new ConfigError('finalSigmasType', `unsupported value '${this.finalSigmasType}'; supported: ${FINAL_SIGMAS_TYPES.join(', ')}`);
    }
    // into sigma = 0, h is infinite: diffusers' last step is NaN with B(h) = h or with the noise prediction
    if (this.finalSigmasType === 'zero' && this.solverType === 'bh1') {
      throw new ConfigError('finalSigmasType', "'zero' with solverType 'bh1' makes diffusers' last step NaN (B(h) = h is infinite); use 'sigma_min' or 'bh2'");
    }
    if (this.finalSigmasType === 'zero' && !this.lowerOrderFinal && this.solverOrder > 1) {
      throw new ConfigError('lowerOrderFinal', "false with finalSigmasType 'zero' and solverOrder > 1 breaks diffusers' last step (infinite h: NaN or a singular system); use 'sigma_min'");
    }
    if (this.finalSigmasType === 'zero' && !this.predictX0) {
      throw new ConfigError('finalSigmasType', "'zero' with predictX0 false makes diffusers' last step NaN (sigma_t (e^h - 1) = 0 x inf); use 'sigma_min'");
    }
    this.passthrough = { ...(o.diffusersPassthrough ?? {}) };
    this.unknownDiffusersKeys = unknownKeysOf(this.passthrough);
    this.mainSigmaKeys = { ...o.diffusersMainSigmaKeys };
    this.tables = multistepTables(schedule);
    this.history = new Array(this.solverOrder).fill(null);
    if (o.numInferenceSteps !== undefined && o.numInferenceSteps !== null) this.setTimesteps(o.numInferenceSteps);
  }

  get timesteps(): readonly number[] {
    return this.currentTimesteps;
  }

  get numInferenceSteps(): number | null {
    return this.currentSteps;
  }

  /** sigma_i of each step plus the final sigma (float32 values, diffusers `sigmas`). */
  get sigmas(): Float64Array {
    return this.currentSigmas;
  }

  /** Index of the next step (null before the first `step` after `setTimesteps` / `reset`). */
  get stepIndex(): number | null {
    return this.stepIndexValue;
  }

  /** The predictor order of the last step (diffusers `this_order`; 0 before the first). */
  get lastOrder(): number {
    return this.thisOrder;
  }

  /** Whether the last step ran the corrector UniC. */
  get lastCorrected(): boolean {
    return this.correctedValue;
  }

  get numTrainTimesteps(): number {
    return this.schedule.numTrainTimesteps;
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > T) {
      throw new ConfigError('numInferenceSteps', `must be an integer in [1, ${T}] (the number of training timesteps), got ${numInferenceSteps}`);
    }
    const { timesteps, sigmas } = multistepTimesteps(
      this.tables,
      numInferenceSteps,
      {
        timestepSpacing: this.timestepSpacing,
        stepsOffset: this.stepsOffset,
        useKarrasSigmas: this.useKarrasSigmas,
        useLuLambdas: false,
        finalSigmasType: this.finalSigmasType,
        lambdaMinClipped: Number.NEGATIVE_INFINITY,
        karrasFinalIsLastKarras: true,
      },
      false,
    );
    this.currentTimesteps = timesteps;
    this.currentSigmas = sigmas;
    this.currentSteps = numInferenceSteps;
    this.reset();
  }

  /** Identity: returns `x` itself (the caller owns it). */
  scaleModelInput(x: tf.Tensor, _t: number): tf.Tensor {
    return x;
  }

  /** alpha_t x_0 + sigma_t noise with the sigma of t's step (diffusers `add_noise`), else the table's sigma_t. */
  addNoise(original: tf.Tensor, noise: tf.Tensor, t: number): tf.Tensor {
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new RangeError(`${this.id}.addNoise: timestep ${t} must be an integer in [0, ${T - 1}]`);
    if (!sameShape(original.shape, noise.shape)) throw new RangeError(`${this.id}.addNoise: noise shape [${noise.shape}] differs from sample shape [${original.shape}]`);
    const i = this.indexForTimestep(t);
    const a = alphaSigmaOf(i === null ? this.tables.sigmas[t] : this.currentSigmas[i]);
    return tf.tidy(() => tf.add(tf.mul(original, a.alpha), tf.mul(noise, a.sigma)));
  }

  /** Drop the model-output history, the last sample, the warm-up counter and the step index. */
  reset(): void {
    this.release();
    this.thisOrder = 0;
    this.lowerOrderNums = 0;
    this.stepIndexValue = null;
    this.correctedValue = false;
  }

  private release(): void {
    for (const h of this.history) h?.dispose();
    this.history = new Array(this.solverOrder).fill(null);
    this.lastSample?.dispose();
    this.lastSample = null;
  }

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

    const useCorrector = i > 0 && !this.disableCorrector.includes(i - 1) && this.lastSample !== null;
    const { converted, x0 } = this.convertModelOutput(modelOutput, x, i);
    // UniC on the previous step (before the history moves on), with the model output just computed
    const corrected = useCorrector ? tf.keep(tf.tidy(() => this.corrector(converted, this.lastSample as tf.Tensor, this.thisOrder, i))) : null;
    this.history[0]?.dispose();
    this.history = [...this.history.slice(1), tf.keep(converted)];
    const order = this.lowerOrderFinal ? Math.min(this.solverOrder, n - i) : this.solverOrder;
    this.thisOrder = Math.min(order, this.lowerOrderNums + 1);
    this.lastSample?.dispose();
    this.lastSample = corrected ?? tf.keep(tf.clone(x));
    const sample = this.lastSample;
    const prevSample = tf.tidy(() => this.predictor(sample, this.thisOrder, i));
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums++;
    this.stepIndexValue = i + 1;
    this.correctedValue = useCorrector;
    if (i === n - 1) this.release();
    return { prevSample, predOriginalSample: x0 };
  }

  /** diffusers `convert_model_output`: x_0 (predictX0, thresholded when set) or eps; both fresh tensors. */
  private convertModelOutput(modelOutput: tf.Tensor, x: tf.Tensor, i: number): { converted: tf.Tensor; x0: tf.Tensor } {
    const { alpha, sigma } = alphaSigmaOf(this.currentSigmas[i]);
    return tf.tidy(() => {
      if (this.predictX0) {
        let x0: tf.Tensor;
        if (this.predictionType === 'epsilon') x0 = tf.div(tf.sub(x, tf.mul(modelOutput, sigma)), alpha);
        else if (this.predictionType === 'sample') x0 = modelOutput;
        else x0 = tf.sub(tf.mul(x, alpha), tf.mul(modelOutput, sigma));
        if (this.thresholding) x0 = dynamicThreshold(x0, { ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue });
        const converted = x0 === modelOutput ? tf.clone(x0) : x0;
        return { converted, x0: tf.clone(converted) };
      }
      let eps: tf.Tensor;
      if (this.predictionType === 'epsilon') eps = tf.clone(modelOutput);
      else if (this.predictionType === 'sample') eps = tf.div(tf.sub(x, tf.mul(modelOutput, alpha)), sigma);
      else eps = tf.add(tf.mul(modelOutput, alpha), tf.mul(x, sigma));
      return { converted: eps, x0: tf.div(tf.sub(x, tf.mul(eps, sigma)), alpha) };
    });
  }

  /** rks, R, b, h phi_1(h) and B(h) (diffusers' shared block of the two updates), torch's float32 scalars. */
  private coefficients(h: number, lambdaS0: number, sigmaIndex: (k: number) => number, order: number): UniCoefficients {
    const rks: number[] = [];
    for (let k = 1; k < order; k++) rks.push(f(f(lambdaOf(alphaSigmaOf(this.currentSigmas[sigmaIndex(k)])) - lambdaS0) / h));
    const all = [...rks, 1];
    const hh = this.predictX0 ? -h : h;
    const hPhi1 = torchExpm1(hh);
    let hPhiK = f(f(hPhi1 / hh) - 1);
    let factorial = 1;
    const Bh = this.solverType === 'bh1' ? hh : torchExpm1(hh);
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      // torch.pow(rks, i - 1): ones, the values, their squares
      R.push(all.map((r) => (i === 1 ? 1 : i === 2 ? r : f(r * r))));
      b.push(f(f(hPhiK * factorial) / Bh));
      factorial *= i + 1;
      hPhiK = f(f(hPhiK / hh) - f(1 / factorial));
    }
    return { rks, R, b, hPhi1, Bh };
  }

  /** (m_k - m_0) / r_k for the earlier outputs (newest first), then rho . D (einsum as mul and adds). Call inside tf.tidy. */
  private weighted(rks: number[], rhos: readonly number[], m0: tf.Tensor): tf.Tensor | null {
    let acc: tf.Tensor | null = null;
    rks.forEach((rk, k) => {
      const mk = this.history[this.history.length - 2 - k] as tf.Tensor;
      const term = tf.mul(tf.div(tf.sub(mk, m0), rk), rhos[k]);
      acc = acc ? tf.add(acc, term) : term;
    });
    return acc;
  }

  /** diffusers `multistep_uni_p_bh_update` from sigma_i to sigma_{i+1}. Call inside tf.tidy. */
  private predictor(x: tf.Tensor, order: number, i: number): tf.Tensor {
    const m0 = this.history[this.history.length - 1] as tf.Tensor;
    const t = alphaSigmaOf(this.currentSigmas[i + 1]);
    const s0 = alphaSigmaOf(this.currentSigmas[i]);
    const l0 = lambdaOf(s0);
    const h = f(lambdaOf(t) - l0);
    const c = this.coefficients(h, l0, (k) => i - k, order);
    let rhos: number[] = [];
    if (order === 2) rhos = [0.5];
    else if (order > 2) rhos = solveF32(c.R.slice(0, -1).map((row) => row.slice(0, -1)), c.b.slice(0, -1));
    const res = this.weighted(c.rks, rhos, m0);
    const [scaleX, scaleM, scaleRes] = this.predictX0 ? [f(t.sigma / s0.sigma), f(t.alpha * c.hPhi1), f(t.alpha * c.Bh)] : [f(t.alpha / s0.alpha), f(t.sigma * c.hPhi1), f(t.sigma * c.Bh)];
    const xt = tf.sub(tf.mul(x, scaleX), tf.mul(m0, scaleM));
    return res ? tf.sub(xt, tf.mul(res, scaleRes)) : xt;
  }

  /** diffusers `multistep_uni_c_bh_update`: the previous step sigma_{i-1} -> sigma_i again, with m_t. Call inside tf.tidy. */
  private corrector(modelT: tf.Tensor, lastSample: tf.Tensor, order: number, i: number): tf.Tensor {
    const m0 = this.history[this.history.length - 1] as tf.Tensor;
    const t = alphaSigmaOf(this.currentSigmas[i]);
    const s0 = alphaSigmaOf(this.currentSigmas[i - 1]);
    const l0 = lambdaOf(s0);
    const h = f(lambdaOf(t) - l0);
    const c = this.coefficients(h, l0, (k) => i - (k + 1), order);
    const rhos = order === 1 ? [0.5] : solveF32(c.R, c.b);
    const corr = this.weighted(c.rks, rhos, m0);
    const d1t = tf.mul(tf.sub(modelT, m0), rhos[rhos.length - 1]);
    const inner = corr ? tf.add(corr, d1t) : d1t;
    const [scaleX, scaleM, scaleRes] = this.predictX0 ? [f(t.sigma / s0.sigma), f(t.alpha * c.hPhi1), f(t.alpha * c.Bh)] : [f(t.alpha / s0.alpha), f(t.sigma * c.hPhi1), f(t.sigma * c.Bh)];
    return tf.sub(tf.sub(tf.mul(lastSample, scaleX), tf.mul(m0, scaleM)), tf.mul(inner, scaleRes));
  }

  toDiffusersConfig(): DiffusersSchedulerConfig {
    const main = { use_exponential_sigmas: false, use_beta_sigmas: false, use_flow_sigmas: false, flow_shift: 1, use_dynamic_shifting: false, time_shift_type: 'exponential', ...this.mainSigmaKeys };
    return {
      _class_name: 'UniPCMultistepScheduler',
      ...scheduleKeysFor(this.schedule, 'UniPCMultistepScheduler'),
      solver_order: this.solverOrder,
      prediction_type: this.predictionType,
      thresholding: this.thresholding,
      dynamic_thresholding_ratio: this.dynamicThresholdingRatio,
      sample_max_value: this.sampleMaxValue,
      predict_x0: this.predictX0,
      solver_type: this.solverType,
      lower_order_final: this.lowerOrderFinal,
      disable_corrector: [...this.disableCorrector],
      solver_p: null,
      use_karras_sigmas: this.useKarrasSigmas,
      ...main,
      timestep_spacing: this.timestepSpacing,
      steps_offset: this.stepsOffset,
      final_sigmas_type: this.finalSigmasType,
      ...this.passthrough,
    };
  }

  /**
   * A sampler from a diffusers `UniPCMultistepScheduler` config (missing keys take diffusers' defaults; solver_type
   * 'midpoint' / 'heun' / 'logrho' map to 'bh2' as diffusers' constructor does). `solver_p` must be null; orders
   * above 3, flow_prediction and exponential / beta / flow sigmas are a ConfigError; keys this class does not know
   * are kept in `unknownDiffusersKeys` and written back by toDiffusersConfig.
   */
  static fromDiffusersConfig(json: unknown, schedule: NoiseSchedule | ScheduleFactory, extra: Pick<UniPCOptions, 'numInferenceSteps'> = {}): UniPCSampler {
    const r = DiffusersConfigReader.of(json, 'UniPCMultistepScheduler');
    checkDiffusersBetaSchedule(r);
    const mainSigmaKeys = readMainSigmaKeys(r);
    if (r.json.solver_p !== undefined && r.json.solver_p !== null) throw new ConfigError(`${r.path}.solver_p`, `unsupported value ${JSON.stringify(r.json.solver_p)}; supported: null`);
    const order = r.number('solver_order', 2, 1, true);
    if (order > 3) throw new ConfigError(`${r.path}.solver_order`, `must be 1, 2 or 3, got ${order}`);
    const solver = r.choice('solver_type', 'bh2', ['bh1', 'bh2', 'midpoint', 'heun', 'logrho'] as const);
    const disable = r.json.disable_corrector ?? [];
    if (!Array.isArray(disable) || !disable.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new ConfigError(`${r.path}.disable_corrector`, `must be a list of step indices (integers >= 0), got ${JSON.stringify(disable)}`);
    }
    return new UniPCSampler(resolveSigmaSchedule(r, schedule, true), {
      ...extra,
      solverOrder: order,
      predictionType: r.choice('prediction_type', 'epsilon', PREDICTION_TYPES),
      thresholding: r.bool('thresholding', false),
      dynamicThresholdingRatio: readRatio(r),
      sampleMaxValue: r.number('sample_max_value', 1, Number.MIN_VALUE),
      predictX0: r.bool('predict_x0', true),
      solverType: solver === 'bh1' ? 'bh1' : 'bh2',
      lowerOrderFinal: r.bool('lower_order_final', true),
      disableCorrector: disable as number[],
      useKarrasSigmas: r.bool('use_karras_sigmas', false),
      timestepSpacing: r.choice('timestep_spacing', 'linspace', TIMESTEP_SPACINGS),
      stepsOffset: r.number('steps_offset', 0, 0, true),
      finalSigmasType: r.choice('final_sigmas_type', 'zero', FINAL_SIGMAS_TYPES),
      diffusersPassthrough: diffusersPassthrough(r.json, UNIPC_KNOWN_KEYS),
      diffusersMainSigmaKeys: mainSigmaKeys,
    });
  }
}

const UNIPC_KNOWN_KEYS: ReadonlySet<string> = new Set([
  ...DIFFUSERS_SCHEDULE_KEYS,
  ...DIFFUSERS_MAIN_SIGMA_KEYS,
  'solver_order',
  'prediction_type',
  'thresholding',
  'dynamic_thresholding_ratio',
  'sample_max_value',
  'predict_x0',
  'solver_type',
  'lower_order_final',
  'disable_corrector',
  'solver_p',
  'use_karras_sigmas',
  'timestep_spacing',
  'steps_offset',
  'final_sigmas_type',
]);

export const unipcOptions = z
  .object({
    numInferenceSteps: z.number().int().min(1).nullable().default(null).describe('inference steps; null: min(20, T)'),
    predictionType: commonSamplerOptionShape.predictionType,
    solverOrder: z.number().int().min(1).max(3).default(2).describe('predictor order p (UniC makes it p + 1)'),
    solverType: z.enum(['bh1', 'bh2']).default('bh2').describe('B(h) = h (bh1) or e^h - 1 (bh2)'),
    predictX0: z.boolean().default(true).describe('solve for x_0 (true) or eps'),
    lowerOrderFinal: z.boolean().default(true).describe('lower orders on the last steps'),
    disableCorrector: z.array(z.number().int().min(0)).default([]).describe('step indices after which UniC is skipped'),
    thresholding: z.boolean().default(false).describe('dynamic thresholding of x_0 (Saharia et al. 2022)'),
    dynamicThresholdingRatio: z.number().min(0).max(1).default(0.995),
    sampleMaxValue: z.number().positive().default(1),
    useKarrasSigmas: z.boolean().default(false).describe('Karras et al. 2022 sigmas (rho = 7)'),
    finalSigmasType: z.enum(['zero', 'sigma_min']).default('zero').describe("sigma after the last step ('zero' needs bh2 and predictX0)"),
    timestepSpacing: z.enum(TIMESTEP_SPACINGS as ['leading', 'linspace', 'trailing']).default('linspace'),
    stepsOffset: z.number().int().min(0).default(0),
  })
  .strict();

export const unipcPlugin = definePlugin<Sampler, typeof unipcOptions>({
  kind: 'sampler',
  id: 'unipc',
  summary: 'UniPC: multistep predictor-corrector, order p + 1 at one model call per step (Zhao et al. 2023; diffusers UniPCMultistepScheduler)',
  options: unipcOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    const T = schedule.numTrainTimesteps;
    return new UniPCSampler(schedule, {
      numInferenceSteps: checkSteps(o.numInferenceSteps ?? Math.min(20, T), T),
      predictionType: resolvePredictionType(container, o.predictionType),
      solverOrder: o.solverOrder,
      solverType: o.solverType,
      predictX0: o.predictX0,
      lowerOrderFinal: o.lowerOrderFinal,
      disableCorrector: o.disableCorrector,
      thresholding: o.thresholding,
      dynamicThresholdingRatio: o.dynamicThresholdingRatio,
      sampleMaxValue: o.sampleMaxValue,
      useKarrasSigmas: o.useKarrasSigmas,
      finalSigmasType: o.finalSigmasType,
      timestepSpacing: o.timestepSpacing,
      stepsOffset: o.stepsOffset,
    });
  },
});
