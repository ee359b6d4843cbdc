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
import { DiffusersConfigReader, type ScheduleFactory, scheduleToDiffusersKeys } from './diffusers-config.js';
import { TIMESTEP_SPACINGS } from './discrete-sampler.js';
import { checkSteps, commonSamplerOptionShape, resolvePredictionType } from './plugin-support.js';
import { diffusersSigmaToT, resolveSigmaSchedule } from './sigma-sampler.js';
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

/** The largest finite float32: `lambda_min_clipped = -inf` is written as its negative (JSON has no -Infinity). */
export const FLOAT32_MAX = 3.4028234663852886e38;

export type DPMSolverAlgorithmType = 'dpmsolver++' | 'dpmsolver';
export const DPM_SOLVER_ALGORITHM_TYPES: readonly DPMSolverAlgorithmType[] = ['dpmsolver++', 'dpmsolver'];
export type DPMSolverType = 'midpoint' | 'heun';
export const DPM_SOLVER_TYPES: readonly DPMSolverType[] = ['midpoint', 'heun'];
/** The sigma after the last step: 0 (x_0 itself) or the schedule's smallest sigma (diffusers `final_sigmas_type`). */
export type FinalSigmasType = 'zero' | 'sigma_min';
export const FINAL_SIGMAS_TYPES: readonly FinalSigmasType[] = ['zero', 'sigma_min'];

// ------------------------------------------------------------------------------------------------
// torch's float32 exp / log / expm1 on the CPU (also used by UniPC)
// ------------------------------------------------------------------------------------------------

/*
 * diffusers computes the scalar coefficients on 0-d float32 CPU tensors (it keeps `sigmas` on the CPU), and
 * torch's CPU exp / log / expm1 for float32 are SLEEF's vectorised expf_u10 / logf_u10 / expm1f_u10 (with FMA),
 * also for a single element. They are not correctly rounded: expf_u10 differs from the correctly rounded float32
 * exp in ~9% of arguments (by one ulp), logf_u10 in ~0.2%. These functions reproduce SLEEF's algorithms
 * (shibatch/sleef src/libm/sleefsimdsp.c xexpf / xlogf_u1 / xexpm1f, src/common/df.h with ENABLE_FMA_SP), with each float32 FMA computed
 * exactly in double and rounded once more to float32 (the product of two float32 is exact in double, so this
 * differs from a true FMA only when the double sum lands on a float32 rounding tie). Checked against torch 1.13
 * (AVX2) on 200,000+ arguments each: identical (the fixture keeps 600 of each for the unit tests). Arguments
 * whose result is subnormal are outside their use here.
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function fma32(a: number, b: number, c: number): number {
  return f(a * b + c);
}

/** round to nearest, ties to even (vrint / _mm256_cvtps_epi32). */
function rintEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// SLEEF's float constants (R_LN2f, L2Uf, L2Lf and the polynomial), written as their exact float32 values
const R_LN2F = 1.4426950216293335;
const L2UF = 0.693145751953125;
const L2LF = 0.000001428606765330187;
const EXP_P0 = 0.00019852761761285365;
const EXP_POLY = [0.0013930435525253415, 0.008333360776305199, 0.041666485369205475, 0.1666666716337204, 0.5];

/** torch.exp of a float32 (SLEEF xexpf, 1.0 ulp). */
export function torchExp(x: number): number {
  const d = f(x);
  if (Number.isNaN(d)) return Number.NaN;
  if (d > 100) return Number.POSITIVE_INFINITY;
  if (d < -104) return 0;
  const q = rintEven(f(d * R_LN2F));
  let s = fma32(q, -L2UF, d);
  s = fma32(q, -L2LF, s);
  let u = EXP_P0;
  for (const c of EXP_POLY) u = fma32(u, s, c);
  u = f(1 + fma32(f(s * s), u, s));
  return f(u * 2 ** q);
}

function bitsOf(x: number): number {
  F32[0] = x;
  return U32[0];
}

function fromBits(b: number): number {
  U32[0] = b >>> 0;
  return F32[0];
}

/** torch.log of a float32 (SLEEF xlogf_u1: double-float arithmetic, 1.0 ulp). */
export function torchLog(x: number): number {
  let d = f(x);
  if (Number.isNaN(d) || d < 0) return Number.NaN;
  if (d === 0) return Number.NEGATIVE_INFINITY;
  if (d === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const tiny = d < 1.1754943508222875e-38; // FLT_MIN
  if (tiny) d = f(d * 2 ** 64);
  let e = ((bitsOf(f(d * f(1 / 0.75))) >>> 23) & 0xff) - 0x7f;
  const m = fromBits(bitsOf(d) + ((-e << 23) | 0));
  if (tiny) e -= 64;
  // s = dfmul((ln2 hi, ln2 lo), e)
  const ln2h = 0.6931471824645996; // 0.69314718246459960938f
  const ln2l = -1.9046542121259336e-9; // -1.904654323148236017e-09f
  const sx0 = f(ln2h * e);
  let s: F2 = [sx0, fma32(ln2l, e, fma32(ln2h, e, -sx0))];
  // x = dfdiv(dfadd2(-1, m), dfadd2(1, m))
  const add2 = (a: number, b: number): F2 => {
    const sum = f(a + b);
    const v = f(sum - a);
    return [sum, f(f(a - f(sum - v)) + f(b - v))];
  };
  const n = add2(-1, m);
  const dd = add2(1, m);
  const t0 = f(1 / dd[0]);
  const q0 = f(n[0] * t0);
  const u0 = fma32(t0, n[0], -q0);
  const v0 = fma32(-dd[1], t0, fma32(-dd[0], t0, 1));
  const xx: F2 = [q0, fma32(q0, v0, fma32(n[1], t0, u0))];
  const x2 = f(xx[0] * xx[0]);
  let t = f(0.3027294874);
  t = fma32(t, x2, f(0.3996108174));
  t = fma32(t, x2, f(0.666669488));
  // s = dfadd(s, dfscale(x, 2)); s = dfadd(s, x2 * x * t)
  const sc: F2 = [f(xx[0] * 2), f(xx[1] * 2)];
  let sum = f(s[0] + sc[0]);
  s = [sum, f(f(f(f(s[0] - sum) + sc[0]) + s[1]) + sc[1])];
  const tail = f(f(x2 * xx[0]) * t);
  sum = f(s[0] + tail);
  s = [sum, f(f(f(s[0] - sum) + tail) + s[1])];
  return f(s[0] + s[1]);
}

type F2 = readonly [number, number];

// SLEEF df.h double-float helpers (ENABLE_FMA_SP), each operation rounded to float32
const df = {
  add2F: (x: F2, y: number): F2 => {
    const s = f(x[0] + y);
    const v = f(s - x[0]);
    return [s, f(f(f(x[0] - f(s - v)) + f(y - v)) + x[1])];
  },
  add2FF: (x: F2, y: F2): F2 => {
    const s = f(x[0] + y[0]);
    const v = f(s - x[0]);
    return [s, f(f(f(x[0] - f(s - v)) + f(y[0] - v)) + f(x[1] + y[1]))];
  },
  mulF: (x: F2, y: number): F2 => {
    const s = f(x[0] * y);
    return [s, fma32(x[1], y, fma32(x[0], y, -s))];
  },
  mulFF: (x: F2, y: F2): F2 => {
    const s = f(x[0] * y[0]);
    return [s, fma32(x[0], y[1], fma32(x[1], y[0], fma32(x[0], y[0], -s)))];
  },
  squ: (x: F2): F2 => {
    const s = f(x[0] * x[0]);
    return [s, fma32(f(x[0] + x[0]), x[1], fma32(x[0], x[0], -s))];
  },
  addScalarF: (x: number, y: F2): F2 => {
    const s = f(x + y[0]);
    return [s, f(f(f(x - s) + y[0]) + y[1])];
  },
};

// SLEEF expk2f's polynomial, as exact float32 values (+0.1980960224e-3f, +0.1394256484e-2f, ...)
const EXPK2_POLY = [0.00019809602, 0.0013942565, 0.008333457, 0.041666374].map(f);
const EXPK2_C5 = 0.1666666567325592; // +0.166666659414234244790680580464e+0f

/** torch.expm1 of a float32 (SLEEF xexpm1f: double-float expk2f(a) - 1, 1.0 ulp). Checked like torchExp. */
export function torchExpm1(x: number): number {
  const a = f(x);
  if (Number.isNaN(a)) return Number.NaN;
  if (a > 88.72283172607422) return Number.POSITIVE_INFINITY;
  if (a < -16.63553237915039) return -1; // -16.635532333438687426013570f
  if (a === 0) return a;
  // expk2f((a, 0))
  const q = rintEven(f(a * R_LN2F));
  let s = df.add2F([a, 0], f(q * -L2UF));
  s = df.add2F(s, f(q * -L2LF));
  let u = EXPK2_POLY[0];
  for (const c of EXPK2_POLY.slice(1)) u = fma32(u, s[0], c);
  let t = df.add2F(df.mulF(s, u), EXPK2_C5);
  t = df.add2F(df.mulFF(s, t), 0.5);
  t = df.add2FF(s, df.mulFF(df.squ(s), t));
  t = df.addScalarF(1, t);
  const scale = 2 ** q;
  const d = df.add2F([f(t[0] * scale), f(t[1] * scale)], -1);
  return f(d[0] + d[1]);
}

// ------------------------------------------------------------------------------------------------
// numpy / torch helpers shared with UniPC (same set_timesteps machinery)
// ------------------------------------------------------------------------------------------------

/** numpy's round (half to even). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, num): i * step + start, the last entry set to stop. */
function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) for floats: ceil((stop - start) / step) entries start + i * ((start + step) - start). */
function npArange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const second = start + step;
  const delta = second - start;
  return Array.from({ length: n }, (_, i) => (i === 0 ? start : i === 1 ? second : start + i * delta));
}

/**
 * The float32 tables diffusers' multistep schedulers build in `__init__`: alphas_cumprod (with
 * alphas_cumprod[-1] = 2^-24 under rescale_betas_zero_snr, so that the first sigma is finite),
 * sigmas = ((1 - abar) / abar) ** 0.5, their float32 logs (numpy), and lambda_t = log(alpha_t) - log(sigma_t).
 */
export interface MultistepTables {
  readonly alphasCumprod: Float64Array;
  readonly sigmas: Float64Array;
  readonly logSigmas: Float64Array;
  readonly lambdas: Float64Array;
}

export function multistepTables(schedule: NoiseSchedule): MultistepTables {
  const T = schedule.numTrainTimesteps;
  const ac = Float64Array.from(schedule.alphasCumprod, (v) => f(v));
  // `if rescale_betas_zero_snr: self.alphas_cumprod[-1] = 2**-24`
  if (schedule.config.rescale_betas_zero_snr) ac[T - 1] = 2 ** -24;
  const sigmas = new Float64Array(T);
  const logSigmas = new Float64Array(T);
  const lambdas = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    sigmas[t] = f(Math.sqrt(f(f(1 - ac[t]) / ac[t])));
    logSigmas[t] = f(Math.log(sigmas[t]));
    lambdas[t] = f(torchLog(f(Math.sqrt(ac[t]))) - torchLog(f(Math.sqrt(f(1 - ac[t])))));
  }
  return { alphasCumprod: ac, sigmas, logSigmas, lambdas };
}

/** How a multistep scheduler spreads its timesteps and sigmas (diffusers' config keys in camelCase). */
export interface SigmaScheduleOptions {
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  useKarrasSigmas: boolean;
  useLuLambdas: boolean;
  finalSigmasType: FinalSigmasType;
  /** Timesteps whose lambda(t) is below this are not used (DPM-Solver only; -Infinity: none). */
  lambdaMinClipped: number;
  /** UniPC: under Karras sigmas, 'sigma_min' ends at the last Karras sigma instead of the table's sigma_0. */
  karrasFinalIsLastKarras?: boolean;
}

/**
 * diffusers' DPMSolverMultistepScheduler / UniPCMultistepScheduler `set_timesteps`: integer timesteps
 * (descending) and float32 sigmas (one more entry: the final sigma). With Karras sigmas or Lu's uniform
 * lambdas the timesteps are the rounded `_sigma_to_t` of each sigma (truncated for squaredcos_cap_v2, as
 * diffusers main does), so they can repeat; diffusers keeps the repeats and so does this.
 *
 * One deliberate difference: numpy's float `arange` can make n + 1 'trailing' entries, the last rounding
 * to timestep -1 (e.g. T = 1000, n = 61); timesteps below 0 are dropped here.
 */
export function multistepTimesteps(
  tables: MultistepTables,
  n: number,
  o: SigmaScheduleOptions,
  cosineSchedule: boolean,
): { timesteps: number[]; sigmas: Float64Array } {
  const T = tables.sigmas.length;
  let last = T;
  if (o.lambdaMinClipped > Number.NEGATIVE_INFINITY) {
    // `torch.searchsorted(torch.flip(self.lambda_t, [0]), lambda_min_clipped)`: how many (ascending) entries are below it
    const v = f(o.lambdaMinClipped);
    let clipped = 0;
    while (clipped < T && tables.lambdas[T - 1 - clipped] < v) clipped++;
    last = T - clipped;
    if (last < 1) throw new ConfigError('lambdaMinClipped', `${o.lambdaMinClipped} clips every timestep (lambda(t) is below it for all t)`);
  }
  let timesteps: number[];
  if (o.timestepSpacing === 'linspace') {
    timesteps = npLinspace(0, last - 1, n + 1)
      .map(roundHalfEven)
      .reverse()
      .slice(0, n);
  } else if (o.timestepSpacing === 'leading') {
    const ratio = Math.floor(last / (n + 1));
    timesteps = Array.from({ length: n }, (_, k) => (n - k) * ratio + o.stepsOffset);
  } else if (o.timestepSpacing === 'trailing') {
    timesteps = npArange(last, 0, -T / n)
      .map((v) => roundHalfEven(v) - 1)
      .filter((t) => t >= 0);
  } else {
    throw new ConfigError('timestepSpacing', `unknown spacing '${String(o.timestepSpacing)}'; allowed: ${TIMESTEP_SPACINGS.join(', ')}`);
  }
  const toInt = cosineSchedule ? Math.trunc : roundHalfEven;
  let sigmas: number[];
  if (o.useKarrasSigmas) {
    // `_convert_to_karras` over the flipped table: sigma_min = sigmas[0], sigma_max = sigmas[T - 1], rho = 7
    const rho = 7;
    const minInv = tables.sigmas[0] ** (1 / rho);
    const maxInv = tables.sigmas[T - 1] ** (1 / rho);
    sigmas = npLinspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
    timesteps = sigmas.map((s) => toInt(diffusersSigmaToT(s, tables.logSigmas)));
  } else if (o.useLuLambdas) {
    // `_convert_to_lu` over the flipped log-sigmas (rho = 1), then sigmas = exp(lambdas)
    const lMin = tables.logSigmas[0];
    const lMax = tables.logSigmas[T - 1];
    sigmas = npLinspace(0, 1, n).map((r) => Math.exp(lMax + r * (lMin - lMax)));
    timesteps = sigmas.map((s) => toInt(diffusersSigmaToT(s, tables.logSigmas)));
  } else {
    sigmas = timesteps.map((t) => tables.sigmas[t]);
  }
  let sigmaLast = 0;
  if (o.finalSigmasType === 'sigma_min') sigmaLast = o.useKarrasSigmas && o.karrasFinalIsLastKarras ? sigmas[sigmas.length - 1] : tables.sigmas[0];
  const out = new Float64Array(sigmas.length + 1);
  sigmas.forEach((s, i) => {
    out[i] = f(s);
  });
  out[sigmas.length] = f(sigmaLast);
  return { timesteps, sigmas: out };
}

/** diffusers' `_sigma_to_alpha_sigma_t` in float32: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha_t. */
export function alphaSigmaOf(sigma: number): { alpha: number; sigma: number } {
  const alpha = f(1 / f(Math.sqrt(f(f(sigma * sigma) + 1))));
  return { alpha, sigma: f(sigma * alpha) };
}

/** lambda = log(alpha_t) - log(sigma_t) in float32, torch's log (+Infinity at sigma = 0). */
export function lambdaOf(a: { alpha: number; sigma: number }): number {
  return f(torchLog(a.alpha) - torchLog(a.sigma));
}

/**
 * diffusers config keys a class does not read (all but `_class_name`, `_diffusers_version` included): kept with
 * their values so that `toDiffusersConfig` writes them back unchanged.
 */
export function diffusersPassthrough(json: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (k !== '_class_name' && !known.has(k)) out[k] = v;
  return out;
}

/** The keys of `diffusersPassthrough`, for `unknownDiffusersKeys`. */
export function unknownKeysOf(passthrough: Record<string, unknown>): string[] {
  return Object.keys(passthrough);
}

/** The schedule keys diffusers reads (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr). */
export const DIFFUSERS_SCHEDULE_KEYS = ['num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'rescale_betas_zero_snr'] as const;

/**
 * The schedule keys for a diffusers class that knows only linear / scaled_linear / squaredcos_cap_v2 (and
 * trained_betas): other kinds (sigmoid) are written as their betas. `rescale` false: the class has no
 * `rescale_betas_zero_snr` key (PNDM), so a rescaled schedule is written as its betas too.
 */
export function scheduleKeysFor(schedule: NoiseSchedule, className: string, rescaleKey = true): Record<string, unknown> {
  const keys = scheduleToDiffusersKeys(schedule.config);
  const supported = ['linear', 'scaled_linear', 'squaredcos_cap_v2'].includes(keys.beta_schedule as string);
  const rescaled = keys.rescale_betas_zero_snr === true;
  if (supported && (rescaleKey || !rescaled)) return rescaleKey ? keys : withoutKey(keys, 'rescale_betas_zero_snr');
  if (rescaled && schedule.betas[schedule.numTrainTimesteps - 1] >= 1) {
    throw new ConfigError('schedule', `${className} cannot express this rescaled (zero terminal SNR) '${schedule.config.beta_schedule}' schedule`);
  }
  const explicit = { ...keys, beta_schedule: 'linear', trained_betas: Array.from(schedule.betas), rescale_betas_zero_snr: false };
  return rescaleKey ? explicit : withoutKey(explicit, 'rescale_betas_zero_snr');
}

function withoutKey(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _, ...rest } = o;
  return rest;
}

/** diffusers' beta_schedule values the multistep classes accept (else NotImplementedError there). */
export function checkDiffusersBetaSchedule(r: DiffusersConfigReader): void {
  const tb = r.json.trained_betas;
  if (tb !== undefined && tb !== null) return;
  const v = r.json.beta_schedule;
  if (v !== undefined && !['linear', 'scaled_linear', 'squaredcos_cap_v2'].includes(v as string)) {
    throw new ConfigError(`${r.path}.beta_schedule`, `unsupported value ${JSON.stringify(v)}; supported: linear, scaled_linear, squaredcos_cap_v2 (or trained_betas)`);
  }
}

/** A diffusers option this package does not implement: accepted only at its default (false / null). */
export function rejectEnabled(r: DiffusersConfigReader, keys: readonly string[]): void {
  for (const k of keys) {
    const v = r.json[k];
    if (v !== undefined && v !== null && v !== false) throw new ConfigError(`${r.path}.${k}`, `is not supported; set it to false (got ${JSON.stringify(v)})`);
  }
}

/**
 * The sigma-schedule keys diffusers main (2025) has on DPMSolverMultistepScheduler and UniPCMultistepScheduler
 * for exponential / beta / flow-matching sigmas and dynamic shifting. This package implements none of them: the
 * switches must be false, and `flow_shift` / `time_shift_type` (used only with them) are kept as given.
 */
export const DIFFUSERS_MAIN_SIGMA_KEYS = ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'flow_shift', 'use_dynamic_shifting', 'time_shift_type'] as const;

/** Read (and check) the DIFFUSERS_MAIN_SIGMA_KEYS of a config; returns their values with diffusers' defaults. */
export function readMainSigmaKeys(r: DiffusersConfigReader): Record<string, unknown> {
  rejectEnabled(r, ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'use_dynamic_shifting']);
  const shiftType = r.json.time_shift_type ?? 'exponential';
  if (typeof shiftType !== 'string') throw new ConfigError(`${r.path}.time_shift_type`, `must be a string, got ${JSON.stringify(shiftType)}`);
  return {
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    use_flow_sigmas: false,
    flow_shift: r.number('flow_shift', 1),
    use_dynamic_shifting: false,
    time_shift_type: shiftType,
  };
}

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
      const threshold = (v: tf.Tensor) => (this.thresholding ? dynamicThreshold(v, { ratio: this.dynamicThresholdingRatio, maxValue: this.sampleMaxValue }) : v);
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
      if (this.thresholding) {
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

/** dynamic_thresholding_ratio in [0, 1]. */
export function readRatio(r: DiffusersConfigReader): number {
  const v = r.number('dynamic_thresholding_ratio', 0.995, 0);
  if (v > 1) throw new ConfigError(`${r.path}.dynamic_thresholding_ratio`, `must be a number in [0, 1], got ${v}`);
  return v;
}

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
