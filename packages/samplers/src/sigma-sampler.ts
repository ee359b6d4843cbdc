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
import { inferenceTimesteps, linspaceF32, sigmasFromAlphasCumprod } from '@difflab/schedulers';
import { z } from 'zod';
import { type DiffusersConfigReader, resolveSchedule, type ScheduleFactory, scheduleToDiffusersKeys } from './diffusers-config.js';
import { diffusersPassthrough } from './diffusers-keys.js';

/**
 * What the sigma-based samplers share (diffusers' EulerDiscrete, EulerAncestralDiscrete,
 * HeunDiscrete and LMSDiscrete schedulers): the variance-exploding view x = x_0 + sigma eps of the
 * schedule (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
 * Models", sec. 2: sigma_t = sqrt((1 - abar_t) / abar_t), and the model sees x / sqrt(sigma^2 + 1),
 * the variance-preserving x_t it was trained on), the inference sigma tables (timestep spacing,
 * linear / log-linear interpolation, Karras sigmas, the final sigma), and diffusers' step-index
 * bookkeeping (`index_for_timestep`, `_init_step_index`, `begin_index`).
 *
 * Numbers are diffusers', float32 included: every table holds the float32 values that torch /
 * numpy produce (stored in Float64Arrays), scalar coefficients are rounded to float32 after each
 * operation the way torch evaluates them on 0-d float32 tensors, and the tensor operations run in
 * the same order, so with a float32 backend the loops agree with diffusers' to the last bit in most
 * steps (see sigma-torch-reference.test.ts). Where numpy's arithmetic is involved (np.interp,
 * np.linspace, `_sigma_to_t`, the Karras ramp) it is reproduced in float64 as numpy computes it.
 */

const f = Math.fround;

export type InterpolationType = 'linear' | 'log_linear';
export const INTERPOLATION_TYPES: readonly InterpolationType[] = ['linear', 'log_linear'];
export type FinalSigmasType = 'zero' | 'sigma_min';
export const FINAL_SIGMAS_TYPES: readonly FinalSigmasType[] = ['zero', 'sigma_min'];
export type TimestepType = 'discrete' | 'continuous';
export const TIMESTEP_TYPES: readonly TimestepType[] = ['discrete', 'continuous'];
export const SIGMA_TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['linspace', 'leading', 'trailing'];

/** diffusers' `beta_schedule` values the four sigma schedulers accept (Heun also has 'exp', which difflab has not). */
export const SIGMA_BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;

/** The schedule keys of every diffusers scheduler config (rescale_betas_zero_snr only where the class has it). */
export const SCHEDULE_DIFFUSERS_KEYS = ['num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas'] as const;

/** Options every sigma sampler takes (camelCase of diffusers' config keys). */
export interface SigmaSamplerOptions {
  /** Call `setTimesteps(n)` at construction; null/undefined keeps diffusers' state after `__init__`. */
  numInferenceSteps?: number | null;
  /** What the model predicts (diffusers `prediction_type`). Default 'epsilon'. */
  predictionType?: PredictionType;
  /** Default 'linspace' (diffusers' default for these schedulers). */
  timestepSpacing?: TimestepSpacing;
  /** Added to 'leading' timesteps (diffusers `steps_offset`). Default 0. */
  stepsOffset?: number;
  /** Seed of the sampler's own Rng (used when `step` gets neither `noise` nor `rng`). Default 0. */
  seed?: number;
  /** The sampler's own Rng (wins over `seed`). */
  rng?: Rng;
  /**
   * Keys of a diffusers config that this class does not know (e.g. `_diffusers_version`, or
   * `skip_prk_steps` from a PNDM config): kept as they are and written back by `toDiffusersConfig`.
   */
  unknownDiffusersConfig?: Record<string, unknown>;
}

/** How a subclass builds its tables: the diffusers class and its set_timesteps variant. */
export interface SigmaTableSpec {
  /** diffusers class name (`_class_name`). */
  className: string;
  /** Every key of the class's diffusers config (its `__init__` arguments); the rest is "unknown". */
  diffusersKeys: readonly string[];
  /** Prediction types the class's `step` implements. */
  predictionTypes: readonly PredictionType[];
  /** Heun and LMS call `set_timesteps(T)` in `__init__`; Euler and Euler ancestral keep the full table. */
  setTimestepsAtInit: boolean;
  /** Whether the class has `rescale_betas_zero_snr` (then alpha-bar_{T-1} := 2^-24, as diffusers). */
  zeroSnr: boolean;
  useKarrasSigmas?: boolean;
  /** Karras bounds from the config (Euler's `sigma_min` / `sigma_max`); null: the interpolated sigmas' own. */
  karrasSigmaMin?: number | null;
  karrasSigmaMax?: number | null;
  interpolationType?: InterpolationType;
  finalSigmasType?: FinalSigmasType;
  /** Euler with `timestep_type` 'continuous' and v-prediction: timesteps are 0.25 log(sigma). */
  continuousTimesteps?: boolean;
  /** Heun: every sigma and timestep after the first repeated (two model calls per step). */
  interleave?: boolean;
}

/** Result of `gaussKronrod21`: the integral and QUADPACK's error estimate and acceptance. */
export interface QuadResult {
  value: number;
  abserr: number;
  /** Whether QUADPACK's dqagse (scipy.integrate.quad) would return this first estimate as is. */
  accepted: boolean;
}

// QUADPACK dqk21 abscissae and weights (Piessens et al. 1983; its 33-digit literals, here as the
// nearest doubles, which is what the Fortran d0 constants are): xgk[1], xgk[3], ... are the 10-point
// Gauss nodes, wg their Gauss weights, wgk the 21-point Kronrod weights; xgk[10] = 0 is the centre.
const XGK = [
  0.9956571630258081, 0.9739065285171717, 0.9301574913557082, 0.8650633666889845, 0.7808177265864169, 0.6794095682990244, 0.5627571346686047, 0.4333953941292472,
  0.2943928627014602, 0.14887433898163122, 0,
];
const WGK = [
  0.011694638867371874, 0.032558162307964725, 0.054755896574351995, 0.07503967481091996, 0.0931254545836976, 0.10938715880229764, 0.12349197626206584,
  0.13470921731147334, 0.14277593857706009, 0.14773910490133849, 0.1494455540029169,
];
const WG = [0.06667134430868814, 0.1494513491505806, 0.21908636251598204, 0.26926671930999635, 0.29552422471475287];
const EPMACH = 2 ** -52;
const UFLOW = 2.2250738585072014e-308;

/**
 * The 21-point Gauss-Kronrod rule of QUADPACK's dqk21, evaluated in the same order (so the sum
 * rounds the same way), and dqagse's test whether that first estimate is returned. scipy's
 * `integrate.quad(fn, a, b, epsrel)` (what diffusers' LMS uses) returns exactly this value whenever
 * `accepted` is true. The rule is exact for polynomials of degree <= 31, so for LMS's Lagrange
 * basis products (degree order - 1) it is the exact integral up to rounding either way.
 */
export function gaussKronrod21(fn: (x: number) => number, a: number, b: number, epsrel = 1e-4, epsabs = 1.49e-8): QuadResult {
  const centr = 0.5 * (a + b);
  const hlgth = 0.5 * (b - a);
  const dhlgth = Math.abs(hlgth);
  const fv1 = new Array<number>(10);
  const fv2 = new Array<number>(10);
  let resg = 0;
  const fc = fn(centr);
  let resk = WGK[10] * fc;
  let resabs = Math.abs(resk);
  for (let j = 1; j <= 5; j++) {
    const jtw = 2 * j - 1; // Fortran jtw = 2j, 0-based
    const absc = hlgth * XGK[jtw];
    const fval1 = fn(centr - absc);
    const fval2 = fn(centr + absc);
    fv1[jtw] = fval1;
    fv2[jtw] = fval2;
    const fsum = fval1 + fval2;
    resg = resg + WG[j - 1] * fsum;
    resk = resk + WGK[jtw] * fsum;
    resabs = resabs + WGK[jtw] * (Math.abs(fval1) + Math.abs(fval2));
  }
  for (let j = 1; j <= 5; j++) {
    const jtwm1 = 2 * j - 2; // Fortran jtwm1 = 2j - 1, 0-based
    const absc = hlgth * XGK[jtwm1];
    const fval1 = fn(centr - absc);
    const fval2 = fn(centr + absc);
    fv1[jtwm1] = fval1;
    fv2[jtwm1] = fval2;
    const fsum = fval1 + fval2;
    resk = resk + WGK[jtwm1] * fsum;
    resabs = resabs + WGK[jtwm1] * (Math.abs(fval1) + Math.abs(fval2));
  }
  const reskh = resk * 0.5;
  let resasc = WGK[10] * Math.abs(fc - reskh);
  for (let j = 0; j < 10; j++) resasc = resasc + WGK[j] * (Math.abs(fv1[j] - reskh) + Math.abs(fv2[j] - reskh));
  const value = resk * hlgth;
  resabs = resabs * dhlgth;
  resasc = resasc * dhlgth;
  let abserr = Math.abs((resk - resg) * hlgth);
  if (resasc !== 0 && abserr !== 0) abserr = resasc * Math.min(1, (200 * abserr / resasc) ** 1.5);
  if (resabs > UFLOW / (50 * EPMACH)) abserr = Math.max(EPMACH * 50 * resabs, abserr);
  // dqagse after its first dqk21 call (defabs = resabs, its "resabs" = resasc here)
  const errbnd = Math.max(epsabs, epsrel * Math.abs(value));
  const roundoff = abserr <= 100 * EPMACH * resabs && abserr > errbnd; // ier = 2
  const accepted = roundoff || (abserr <= errbnd && abserr !== resasc) || abserr === 0;
  return { value, abserr, accepted };
}

/**
 * `np.linspace(start, stop, n)` in float64 as numpy computes it: start + i * ((stop - start) / (n - 1)),
 * the last entry set to `stop` exactly; [start] for n = 1.
 */
export function numpyLinspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  out[n - 1] = stop;
  return out;
}

/**
 * `np.interp(x, np.arange(len(fp)), fp)`: linear interpolation on the integer grid, clamped to the
 * end values, with numpy's formula slope * (x - j) + fp[j] (and fp[j] itself at grid points).
 */
export function interpOnIntegerGrid(x: number, fp: ArrayLike<number>): number {
  const n = fp.length;
  if (Number.isNaN(x)) return x;
  if (x < 0) return fp[0];
  if (x >= n - 1) return fp[n - 1];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  const slope = (fp[j + 1] - fp[j]) / 1;
  return slope * (x - j) + fp[j];
}

/**
 * diffusers' `_convert_to_karras` (Karras et al. 2022, eq. 5, rho = 7) as numpy evaluates it:
 * ramp = np.linspace(0, 1, n), sigma_i = (max^(1/rho) + ramp_i (min^(1/rho) - max^(1/rho)))^rho in
 * float64. `karrasSigmas` of @difflab/schedulers is the same formula with ramp i / (n - 1), which
 * can differ from numpy's i * (1 / (n - 1)) in the last bit; and `karrasSigmasFor` spans the
 * schedule's whole sigma range, while diffusers spans the interpolated inference sigmas (for
 * 'leading' / 'trailing' spacing those stop short of sigma_{T-1} and sigma_0). So this variant.
 */
export function diffusersKarrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const ramp = numpyLinspace(0, 1, n);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (maxInv + ramp[i] * (minInv - maxInv)) ** rho;
  return out;
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose sigma is `sigma`, interpolating
 * log-sigma linearly between the two table entries around it, clamped to [0, T - 1].
 * `logSigmas` are the float32 logs of the training sigmas (`np.log` of a float32 array).
 *
 * Under numpy 1.x (the reference's numpy) the float64 `log_sigma` meets float32 arrays with
 * value-based casting, so `dists` and the weight w are computed in float32, and t = (1 - w) low +
 * w high in float64; that is what this function does. (numpy 2 computes w in float64: the float32
 * timesteps then differ by at most a few ulps.) `sigmaToTimestep` of @difflab/schedulers is the
 * all-float64 version of the same interpolation.
 */
export function diffusersSigmaToT(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = f(Math.log(Math.max(sigma, 1e-10)));
  const n = logSigmas.length;
  let low = 0;
  for (let i = 0; i < n; i++) if (f(logSigma - logSigmas[i]) >= 0) low = i;
  low = Math.min(low, n - 2);
  const high = low + 1;
  const lo = logSigmas[low];
  const hi = logSigmas[high];
  let w = f(f(lo - logSigma) / f(lo - hi));
  w = Math.min(1, Math.max(0, w));
  return f(1 - w) * low + w * high;
}

/** sqrt(sigma^2 + 1) as torch evaluates `(sigma**2 + 1) ** 0.5` on a float32 scalar. */
export function inputScale(sigma: number): number {
  return f(Math.sqrt(f(f(sigma * sigma) + 1)));
}

/** The diffusers config keys of `json` that are not in `known` (and not `_class_name`), with their values. */
export function unknownDiffusersConfigOf(json: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return diffusersPassthrough(json, new Set(known));
}

/** A nullable number of a diffusers config (e.g. Euler's `sigma_min`): null when absent or null. */
export function nullableNumber(r: DiffusersConfigReader, key: string, min = Number.NEGATIVE_INFINITY): number | null {
  const v = r.json[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ConfigError(`${r.path}.${key}`, `must be null or a number >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Fail on diffusers sigma options difflab does not implement (exponential and beta sigmas). */
export function rejectUnsupportedSigmas(r: DiffusersConfigReader): void {
  for (const key of ['use_exponential_sigmas', 'use_beta_sigmas']) {
    if (r.bool(key, false)) throw new ConfigError(`${r.path}.${key}`, 'is not supported; set it to false (use_karras_sigmas is)');
  }
}

/** Fail on a `beta_schedule` the diffusers class itself rejects (unless trained_betas win). */
export function checkSigmaBetaSchedule(r: DiffusersConfigReader): void {
  const tb = r.json.trained_betas;
  if (tb !== undefined && tb !== null) return;
  r.choice('beta_schedule', 'linear', SIGMA_BETA_SCHEDULES);
}

/**
 * The schedule of a sigma sampler's diffusers config: `schedule` itself (its T must match) or built
 * by the factory from the config with the class's own defaults filled in (Heun's beta_start /
 * beta_end differ from the other classes'). For a class without `rescale_betas_zero_snr` the key is
 * not applied (diffusers ignores it there; it stays an unknown key); for one with it, a given
 * schedule must agree with the config.
 */
export function resolveSigmaSchedule(
  r: DiffusersConfigReader,
  schedule: NoiseSchedule | ScheduleFactory,
  zeroSnr: boolean,
  defaults: Record<string, unknown> = {},
): NoiseSchedule {
  const json: Record<string, unknown> = { ...r.json };
  for (const [k, v] of Object.entries(defaults)) if (json[k] === undefined) json[k] = v;
  if (!zeroSnr) {
    delete json.rescale_betas_zero_snr;
    const s = resolveSchedule(json, schedule, r.path);
    if (s.config?.rescale_betas_zero_snr) throw new ConfigError(`${r.path}.rescale_betas_zero_snr`, 'the given schedule is rescaled to zero terminal SNR, which this scheduler does not support');
    return s;
  }
  const rescale = r.bool('rescale_betas_zero_snr', false);
  const s = resolveSchedule(json, schedule, r.path);
  if ((s.config?.rescale_betas_zero_snr ?? false) !== rescale) {
    throw new ConfigError(`${r.path}.rescale_betas_zero_snr`, `is ${rescale} but the given schedule has rescale_betas_zero_snr = ${s.config?.rescale_betas_zero_snr}`);
  }
  return s;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Base of the sigma samplers. Subclasses implement one step at a given step index (`stepAt`) and
 * say in a `SigmaTableSpec` how their diffusers class builds its tables.
 *
 * Stepping follows diffusers: the step index is set on the first `scaleModelInput` or `step` of a
 * loop from the timestep (`indexForTimestep`, the second match when a timestep repeats, as in Heun),
 * or from `setBeginIndex`, and advances by one per `step`. Unlike diffusers, a `t` that is not the
 * timestep at the current index is an error (diffusers silently uses the index). `reset()` starts a
 * new loop; multistep state (Heun's first-order half, LMS's derivatives) is released after the last
 * step, on `reset()` and on `setTimesteps()`, so a finished loop holds no tensors.
 */
export abstract class SigmaSampler implements Sampler {
  abstract readonly id: string;
  abstract readonly order: number;
  readonly predictionType: PredictionType;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** The sampler's own generator, used when `step` gets neither `noise` nor `rng`. */
  readonly rng: Rng;
  readonly spec: SigmaTableSpec;
  /** alpha-bar as the diffusers class holds it (alpha-bar_{T-1} = 2^-24 under rescale_betas_zero_snr). */
  readonly alphasCumprod: Float64Array;
  /** Training sigmas sqrt((1 - abar) / abar), float32 values, ascending in t. */
  readonly trainSigmas: Float64Array;
  /** np.log of the float32 training sigmas (float32 values). */
  readonly logSigmas: Float64Array;
  private readonly unknownConfig: Record<string, unknown>;
  private currentTimesteps: number[] = [];
  private currentSigmas: Float64Array = new Float64Array(0);
  private currentSteps: number | null = null;
  private index: number | null = null;
  private begin: number | null = null;

  constructor(
    readonly schedule: NoiseSchedule,
    o: SigmaSamplerOptions,
    spec: SigmaTableSpec,
  ) {
    if (!schedule || !(schedule.alphasCumprod instanceof Float64Array)) throw new ConfigError('schedule', 'a sampler needs a NoiseSchedule');
    this.spec = spec;
    this.predictionType = o.predictionType ?? 'epsilon';
    if (!spec.predictionTypes.includes(this.predictionType)) {
      throw new ConfigError('predictionType', `'${this.predictionType}' is not supported by ${spec.className}; supported: ${spec.predictionTypes.join(', ')}`);
    }
    this.timestepSpacing = o.timestepSpacing ?? 'linspace';
    if (!SIGMA_TIMESTEP_SPACINGS.includes(this.timestepSpacing)) {
      throw new ConfigError('timestepSpacing', `unknown spacing '${this.timestepSpacing}'; allowed: ${SIGMA_TIMESTEP_SPACINGS.join(', ')}`);
    }
    this.stepsOffset = o.stepsOffset ?? 0;
    if (!Number.isInteger(this.stepsOffset) || this.stepsOffset < 0) throw new ConfigError('stepsOffset', `must be a non-negative integer, got ${this.stepsOffset}`);
    if (spec.interpolationType !== undefined && !INTERPOLATION_TYPES.includes(spec.interpolationType)) {
      throw new ConfigError('interpolationType', `unknown interpolation '${spec.interpolationType}'; allowed: ${INTERPOLATION_TYPES.join(', ')}`);
    }
    if (spec.finalSigmasType !== undefined && !FINAL_SIGMAS_TYPES.includes(spec.finalSigmasType)) {
      throw new ConfigError('finalSigmasType', `unknown final sigma '${spec.finalSigmasType}'; allowed: ${FINAL_SIGMAS_TYPES.join(', ')}`);
    }
    for (const [key, v] of [
      ['sigmaMin', spec.karrasSigmaMin],
      ['sigmaMax', spec.karrasSigmaMax],
    ] as const) {
      if (v !== undefined && v !== null && !(v > 0 && Number.isFinite(v))) throw new ConfigError(key, `must be null or a number > 0, got ${v}`);
    }
    this.rng = o.rng ?? new Rng(o.seed ?? 0);
    this.unknownConfig = { ...(o.unknownDiffusersConfig ?? {}) };
    for (const k of Object.keys(this.unknownConfig)) {
      if (k === '_class_name' || spec.diffusersKeys.includes(k)) {
        throw new ConfigError('unknownDiffusersConfig', `'${k}' is a ${spec.className} key, not an unknown one`);
      }
    }

    const rescaled = schedule.config?.rescale_betas_zero_snr === true;
    if (rescaled && !spec.zeroSnr) {
      throw new ConfigError('schedule.rescale_betas_zero_snr', `${spec.className} has no zero-terminal-SNR support; use a schedule without rescale (or euler / euler-ancestral)`);
    }
    const ac = Float64Array.from(schedule.alphasCumprod);
    // diffusers (Euler, Euler ancestral): "Close to 0 without being 0 so first sigma is not inf" -- alphas_cumprod[-1] = 2**-24
    if (rescaled) ac[ac.length - 1] = 2 ** -24;
    this.alphasCumprod = ac;
    // sigmasFromAlphasCumprod (@difflab/schedulers) rounds after each operation, f(sqrt(f(f(1 - a) / a))): what
    // torch computes for `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5` in float32 (pow 0.5 is sqrt there);
    // bit-exact against the reference on torch's own alpha-bar tables
    this.trainSigmas = sigmasFromAlphasCumprod(ac);
    // np.log of the float32 table; numpy's SIMD float32 log is up to ~2 ulp from this correctly rounded one
    this.logSigmas = this.trainSigmas.map((s) => f(Math.log(s)));

    const T = schedule.numTrainTimesteps;
    if (spec.setTimestepsAtInit) {
      this.setTimesteps(T);
    } else {
      // diffusers' state after __init__: every training step, descending, num_inference_steps = None
      const sig = new Float64Array(T + 1);
      for (let i = 0; i < T; i++) sig[i] = this.trainSigmas[T - 1 - i];
      this.currentSigmas = sig;
      this.currentTimesteps = spec.continuousTimesteps
        ? Array.from(sig.subarray(0, T), (s) => f(0.25 * f(Math.log(s))))
        : Array.from({ length: T }, (_, i) => T - 1 - i);
    }
    if (o.numInferenceSteps !== undefined && o.numInferenceSteps !== null) this.setTimesteps(o.numInferenceSteps);
  }

  /** Current timesteps (float32 values; fractional with Karras sigmas or non-integer linspace). */
  get timesteps(): readonly number[] {
    return this.currentTimesteps;
  }

  /** Current sigmas: one per timestep plus the final one (float32 values). */
  get sigmas(): readonly number[] {
    return Array.from(this.currentSigmas);
  }

  get numInferenceSteps(): number | null {
    return this.currentSteps;
  }

  get numTrainTimesteps(): number {
    return this.schedule.numTrainTimesteps;
  }

  /** Index of the next step (diffusers `step_index`); null before the first step of a loop. */
  get stepIndex(): number | null {
    return this.index;
  }

  /** diffusers `begin_index`: where the next loop starts when set (img2img). */
  get beginIndex(): number | null {
    return this.begin;
  }

  /** Keys of the diffusers config this sampler was read from that its class does not know (kept for `toDiffusersConfig`). */
  get unknownDiffusersKeys(): string[] {
    return Object.keys(this.unknownConfig);
  }

  /** Standard deviation of x_T: sigma_max for 'linspace' / 'trailing' spacing, sqrt(sigma_max^2 + 1) otherwise (diffusers). */
  get initNoiseSigma(): number {
    let max = Number.NEGATIVE_INFINITY;
    for (const s of this.currentSigmas) if (s > max) max = s;
    return this.timestepSpacing === 'linspace' || this.timestepSpacing === 'trailing' ? max : inputScale(max);
  }

  /** Choose n inference steps (diffusers `set_timesteps(n)`); clears the step and begin index and any multistep state. */
  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    const T = this.numTrainTimesteps;
    if (!Number.isInteger(n) || n < 1 || (this.timestepSpacing !== 'linspace' && n > T)) {
      const range = this.timestepSpacing === 'linspace' ? '>= 1' : `in [1, ${T}] (the number of training timesteps) with '${this.timestepSpacing}' spacing`;
      throw new ConfigError('numInferenceSteps', `must be an integer ${range}, got ${n}`);
    }
    const spec = this.spec;
    // 1. timesteps by spacing (float32 values)
    let ts: number[];
    if (this.timestepSpacing === 'linspace') {
      // np.linspace(0, T - 1, n, dtype=np.float32)[::-1]
      ts = Array.from(numpyLinspace(0, T - 1, n), (v) => f(v)).reverse();
    } else if (this.timestepSpacing === 'leading') {
      // (np.arange(0, n) * (T // n)).round()[::-1] + steps_offset. Unlike DDPM/DDIM, no bound check: Heun and LMS
      // call set_timesteps(T) in __init__, which with steps_offset = 1 (Stable Diffusion's configs) gives t = T;
      // np.interp clamps its sigma to sigma_{T-1} and diffusers carries on, so difflab does too.
      const ratio = Math.floor(T / n);
      ts = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + this.stepsOffset);
    } else {
      // np.arange(T, 0, -T / n).round() - 1 (exactly n entries; see inferenceTimesteps)
      ts = inferenceTimesteps(T, n, 'trailing');
    }
    // 2. sigmas at those timesteps
    let sig: Float64Array;
    if ((spec.interpolationType ?? 'linear') === 'linear') {
      sig = Float64Array.from(ts, (t) => interpOnIntegerGrid(t, this.trainSigmas));
    } else {
      // torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), n + 1).exp(): n + 1 sigmas from sigma_{T-1} to sigma_0
      const logs = linspaceF32(this.logSigmas[T - 1], this.logSigmas[0], n + 1);
      sig = logs.map((l) => f(Math.exp(l)));
    }
    // 3. Karras sigmas and their fractional timesteps
    let tsOut: number[] = ts;
    if (spec.useKarrasSigmas) {
      sig = diffusersKarrasSigmas(n, spec.karrasSigmaMin ?? sig[sig.length - 1], spec.karrasSigmaMax ?? sig[0]);
      tsOut = Array.from(sig, (s) => diffusersSigmaToT(s, this.logSigmas));
    }
    // 4. the final sigma, then float32
    const last = spec.finalSigmasType === 'sigma_min' ? this.trainSigmas[0] : 0;
    let sigmas = Float64Array.from([...sig, last], (s) => f(s));
    let timesteps: number[];
    if (spec.continuousTimesteps) {
      timesteps = Array.from(sigmas.subarray(0, sigmas.length - 1), (s) => f(0.25 * f(Math.log(s))));
    } else {
      timesteps = tsOut.map((t) => f(t));
    }
    if (spec.interleave) {
      // torch.cat([sigmas[:1], sigmas[1:-1].repeat_interleave(2), sigmas[-1:]]) and the same for timesteps[1:]
      const s2: number[] = [sigmas[0]];
      for (let i = 1; i < sigmas.length - 1; i++) s2.push(sigmas[i], sigmas[i]);
      s2.push(sigmas[sigmas.length - 1]);
      sigmas = Float64Array.from(s2);
      const t2: number[] = [timesteps[0]];
      for (let i = 1; i < timesteps.length; i++) t2.push(timesteps[i], timesteps[i]);
      timesteps = t2;
    }
    this.releaseState();
    this.currentTimesteps = timesteps;
    this.currentSigmas = sigmas;
    this.currentSteps = n;
    this.index = null;
    this.begin = null;
  }

  /** diffusers `set_begin_index`: the next loop starts at this index of `timesteps` (img2img). */
  setBeginIndex(beginIndex = 0): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0 || beginIndex >= this.currentTimesteps.length) {
      throw new RangeError(`${this.id}.setBeginIndex: ${beginIndex} must be an integer in [0, ${this.currentTimesteps.length - 1}]`);
    }
    this.begin = beginIndex;
  }

  /**
   * diffusers `index_for_timestep`: the position of t in `timesteps` (compared in float32, as torch
   * compares a Python float with a float32 tensor); the second match when t occurs more than once, so
   * that a loop started mid-schedule does not skip a sigma.
   */
  indexForTimestep(t: number): number {
    const t32 = f(t);
    const hits: number[] = [];
    this.currentTimesteps.forEach((v, i) => {
      if (v === t32) hits.push(i);
    });
    if (hits.length === 0) throw new RangeError(`${this.id}: timestep ${t} is not one of this sampler's timesteps (set with setTimesteps)`);
    return hits[hits.length > 1 ? 1 : 0];
  }

  /** Divide x by sqrt(sigma^2 + 1) at the current step (diffusers `scale_model_input`); returns a new tensor. */
  scaleModelInput(x: tf.Tensor, t: number): tf.Tensor {
    const i = this.enterStep(t, 'scaleModelInput');
    const scale = inputScale(this.currentSigmas[i]);
    return tf.tidy(() => tf.div(x, scale));
  }

  /**
   * x_0 + sigma(t) noise (diffusers `add_noise` of these schedulers), t one of `timesteps` (or, after
   * `setBeginIndex`, the sigma at the begin index / the current step). Returns a new tensor.
   */
  addNoise(original: tf.Tensor, noise: tf.Tensor, t: number): tf.Tensor {
    if (!sameShape(original.shape, noise.shape)) throw new RangeError(`${this.id}.addNoise: noise shape [${noise.shape}] differs from sample shape [${original.shape}]`);
    let i: number;
    if (this.begin === null) i = this.indexForTimestep(t);
    else if (this.index !== null) i = this.index;
    else i = this.begin;
    const sigma = this.currentSigmas[i];
    return tf.tidy(() => tf.add(original, tf.mul(noise, sigma)));
  }

  /** Start a new loop: clears the step index and multistep state (keeps timesteps and begin index). */
  reset(): void {
    this.releaseState();
    this.index = null;
  }

  step(modelOutput: tf.Tensor, t: number, x: tf.Tensor, opts?: StepOptions): StepResult {
    if (!sameShape(modelOutput.shape, x.shape)) throw new RangeError(`${this.id}: model output shape [${modelOutput.shape}] differs from sample shape [${x.shape}]`);
    const i = this.enterStep(t, 'step');
    const r = this.stepAt(i, modelOutput, x, opts);
    this.index = i + 1;
    // the loop is over: nothing later can use the multistep state, so do not keep tensors alive
    if (this.index >= this.currentTimesteps.length) this.releaseState();
    return r;
  }

  /** diffusers `scheduler_config.json` of this sampler: every key of its class, snake_case, plus the unknown keys it was read with. */
  abstract toDiffusersConfig(): DiffusersSchedulerConfig;

  /** One step at step index i (sigma_i = sigmas[i]); returns new tensors, keeps any state with tf.keep. */
  protected abstract stepAt(i: number, modelOutput: tf.Tensor, x: tf.Tensor, opts: StepOptions | undefined): StepResult;

  /** Dispose multistep state (Heun's first half, LMS's derivatives). */
  protected releaseState(): void {}

  /** The sigma table as float32 values (index i of the current loop). */
  protected sigmaAt(i: number): number {
    return this.currentSigmas[i];
  }

  protected get sigmaCount(): number {
    return this.currentSigmas.length;
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

  /**
   * x_0 from the model output at noise level sigma, with x = x_0 + sigma eps and the model fed
   * x / sqrt(sigma^2 + 1) (diffusers' Euler-family formulas, float32 scalars):
   * epsilon: x - sigmaEps eps; v_prediction: -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1)
   * (Salimans & Ho 2022 in the VE parametrisation); sample: the output itself. `sigmaEps` is
   * Euler's sigma_hat (diffusers uses plain sigma in the v branch). Call inside tf.tidy.
   */
  protected predictX0(modelOutput: tf.Tensor, x: tf.Tensor, sigma: number, sigmaEps = sigma): tf.Tensor {
    switch (this.predictionType) {
      case 'epsilon':
        return tf.sub(x, tf.mul(modelOutput, sigmaEps));
      case 'v_prediction': {
        const cOut = f(-sigma / inputScale(sigma));
        const cSkipDen = f(f(sigma * sigma) + 1);
        return tf.add(tf.mul(modelOutput, cOut), tf.div(x, cSkipDen));
      }
      case 'sample':
        return modelOutput;
      default:
        throw new ConfigError('predictionType', `unknown prediction type '${String(this.predictionType)}'; allowed: ${PREDICTION_TYPES.join(', ')}`);
    }
  }

  /** The schedule keys of toDiffusersConfig (betas written out where diffusers has no such beta_schedule). */
  protected scheduleDiffusersKeys(): Record<string, unknown> {
    const keys = scheduleToDiffusersKeys(this.schedule.config);
    if (keys.trained_betas === null && !(SIGMA_BETA_SCHEDULES as readonly unknown[]).includes(keys.beta_schedule)) {
      if (keys.rescale_betas_zero_snr) {
        throw new ConfigError('schedule', `beta_schedule '${String(keys.beta_schedule)}' with rescale_betas_zero_snr cannot be written for ${this.spec.className}`);
      }
      // e.g. 'sigmoid': not a beta_schedule of these classes, but its betas load as trained_betas
      keys.beta_schedule = 'linear';
      keys.trained_betas = Array.from(this.schedule.betas);
    }
    if (!this.spec.zeroSnr) delete keys.rescale_betas_zero_snr;
    return keys;
  }

  /** `_class_name`, the known keys, then the unknown keys as they were read. */
  protected withUnknownKeys(known: Record<string, unknown>): DiffusersSchedulerConfig {
    return { _class_name: this.spec.className, ...known, ...this.unknownConfig };
  }

  /** The step index for a call at t: set from t (or the begin index) on the first call of a loop, then checked. */
  private enterStep(t: number, what: string): number {
    if (this.index === null) this.index = this.begin ?? this.indexForTimestep(t);
    const i = this.index;
    const n = this.currentTimesteps.length;
    if (i >= n) throw new RangeError(`${this.id}.${what}: the loop of ${n} steps is finished; call reset() (or setTimesteps) to start a new one`);
    if (this.currentTimesteps[i] !== f(t)) {
      throw new RangeError(`${this.id}.${what}: timestep ${t} is not the next one (${this.currentTimesteps[i]} at step ${i} of ${n}); call reset() to start a new loop`);
    }
    return i;
  }
}

/** zod option fields shared by the sigma sampler plugins (camelCase of diffusers' config keys). */
export const sigmaSamplerOptionShape = {
  numInferenceSteps: z.number().int().min(1).nullable().default(null).describe('inference steps; null: min(50, T)'),
  predictionType: z
    .enum(PREDICTION_TYPES as [PredictionType, ...PredictionType[]])
    .nullable()
    .default(null)
    .describe("what the model predicts; null: the registered Denoiser's, else 'epsilon'"),
  timestepSpacing: z.enum(SIGMA_TIMESTEP_SPACINGS as ['linspace', 'leading', 'trailing']).default('linspace'),
  stepsOffset: z.number().int().min(0).default(0),
  seed: z.number().int().nullable().default(null).describe("seed of the sampler's noise; null: a fork of the job's Rng, else 0"),
};

/** The Karras option of Euler, Heun and LMS. */
export const useKarrasSigmasOption = z.boolean().default(false).describe('Karras et al. (2022) sigmas (rho = 7) between the inference sigmas');
