import { cumprodF32, oneMinusF32 } from './float32.js';

const f = Math.fround;

/**
 * Rescale betas to zero terminal SNR (Lin et al. 2024, "Common Diffusion Noise Schedules and
 * Sample Steps are Flawed", Algorithm 1; diffusers `rescale_zero_terminal_snr`).
 *
 * sqrt(alpha-bar) is shifted so its last value is 0 and scaled so its first value is unchanged;
 * the betas are recovered from the ratios of consecutive alpha-bars. The last beta becomes 1,
 * so alpha-bar_{T-1} = 0 exactly. Computed in float32 like diffusers (torch float32 tensors).
 */
export function rescaleZeroTerminalSnr(betas: ArrayLike<number>): Float64Array {
  const n = betas.length;
  const abar = cumprodF32(oneMinusF32(betas));
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) s[i] = f(Math.sqrt(abar[i]));
  const s0 = s[0];
  const sT = s[n - 1];
  const scale = f(s0 / f(s0 - sT));
  for (let i = 0; i < n; i++) s[i] = f(f(s[i] - sT) * scale);
  const abarNew = new Float64Array(n);
  for (let i = 0; i < n; i++) abarNew[i] = f(s[i] * s[i]);
  const out = new Float64Array(n);
  out[0] = f(1 - abarNew[0]);
  for (let i = 1; i < n; i++) out[i] = f(1 - f(abarNew[i] / abarNew[i - 1]));
  return out;
}
