import type { NoiseSchedule } from '@difflab/core';

/**
 * Karras et al. 2022 ("Elucidating the Design Space of Diffusion-Based Generative Models"),
 * eq. 5: sigma_i = (sigma_max^(1/rho) + i / (n - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
 * i = 0..n-1, descending from sigma_max to sigma_min (rho = 7 by default). The trailing
 * sigma_n = 0 of the paper is not included (append it where a sampler needs it).
 */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`karrasSigmas: n must be a positive integer, got ${n}`);
  if (!(sigmaMin > 0) || !(sigmaMax >= sigmaMin) || !Number.isFinite(sigmaMax)) {
    throw new RangeError(`karrasSigmas: need 0 < sigmaMin <= sigmaMax < Infinity, got ${sigmaMin}, ${sigmaMax}`);
  }
  if (!(rho > 0)) throw new RangeError(`karrasSigmas: rho must be > 0, got ${rho}`);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ramp = n === 1 ? 0 : i / (n - 1);
    out[i] = (maxInv + ramp * (minInv - maxInv)) ** rho;
  }
  return out;
}

/**
 * Karras sigmas spanning a schedule's own sigma range [sigma_0, sigma_{T-1}]. With a zero
 * terminal SNR schedule sigma_{T-1} is infinite; as diffusers' Euler scheduler does, alpha-bar_{T-1}
 * is then taken as 2^-24 (sigma_max ~ 4096).
 */
export function karrasSigmasFor(schedule: NoiseSchedule, n: number, rho = 7): Float64Array {
  const s = schedule.sigmas;
  let max = s[s.length - 1];
  if (!Number.isFinite(max)) {
    const a = 2 ** -24;
    max = Math.sqrt((1 - a) / a);
  }
  return karrasSigmas(n, s[0], max, rho);
}

/**
 * The fractional training timestep whose sigma is `sigma`, interpolating linearly in log-sigma
 * between neighbouring table entries (diffusers `_sigma_to_t`). Clamped to [0, T-1].
 */
export function sigmaToTimestep(sigmas: ArrayLike<number>, sigma: number): number {
  const n = sigmas.length;
  const logS = Math.log(Math.max(sigma, 1e-10));
  const logs = Array.from(sigmas, (v) => Math.log(Math.max(v, 1e-10)));
  let low = 0;
  for (let i = 0; i < n; i++) if (logS - logs[i] >= 0) low = i;
  low = Math.min(low, n - 2);
  const high = low + 1;
  const lo = logs[low];
  const hi = logs[high];
  let w = hi === lo ? 0 : (lo - logS) / (lo - hi);
  w = Math.min(1, Math.max(0, w));
  return (1 - w) * low + w * high;
}
