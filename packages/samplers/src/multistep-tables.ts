/**
 * The set_timesteps machinery diffusers' multistep schedulers (DPMSolverMultistepScheduler,
 * UniPCMultistepScheduler) share: their float32 tables, timesteps (spacings, Karras and Lu
 * lambdas) and the alpha / sigma / lambda of a sigma.
 */
import { ConfigError, type NoiseSchedule, type TimestepSpacing } from '@difflab/core';
import { TIMESTEP_SPACINGS } from './discrete-sampler.js';
import { roundHalfEven } from '@difflab/schedulers';
import { diffusersSigmaToT, type FinalSigmasType, numpyLinspace } from './sigma-sampler.js';
import { torchLog } from './torch-float32.js';

const f = Math.fround;

/** np.linspace as a plain array (sigma-sampler.ts's numpyLinspace). */
function npLinspace(start: number, stop: number, num: number): number[] {
  return Array.from(numpyLinspace(start, stop, num));
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
