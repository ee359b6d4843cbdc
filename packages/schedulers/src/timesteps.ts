import { ConfigError, type TimestepSpacing } from '@difflab/core';

export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'linspace', 'trailing'];

/** numpy's `round` (and `ndarray.round`): round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; numpy rounds it to the even neighbour.
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/**
 * Inference timesteps (descending) for `n` steps over T training steps, as diffusers'
 * DDPMScheduler / DDIMScheduler `set_timesteps` compute them with numpy:
 *
 * - linspace: `np.linspace(0, T - 1, n).round()[::-1]`
 * - leading:  `(np.arange(0, n) * (T // n)).round()[::-1] + steps_offset`
 * - trailing: `np.round(np.arange(T, 0, -T / n)) - 1`
 *
 * For 'trailing', numpy's float `arange` sometimes makes n + 1 entries (the last one rounds to
 * -1, e.g. T = 1000, n = 61) because ceil(T / (T / n)) exceeds n by rounding; we keep exactly n.
 * `stepsOffset` applies to 'leading' only, as in diffusers.
 */
export function inferenceTimesteps(T: number, n: number, spacing: TimestepSpacing = 'leading', stepsOffset = 0): number[] {
  if (!Number.isInteger(n) || n < 1 || n > T) {
    throw new ConfigError('numInferenceSteps', `must be an integer in [1, ${T}] (the number of training timesteps), got ${n}`);
  }
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) {
    throw new ConfigError('stepsOffset', `must be a non-negative integer, got ${stepsOffset}`);
  }
  const out: number[] = new Array(n);
  if (spacing === 'linspace') {
    // np.linspace: i * step + start, with the last entry set to stop exactly.
    const step = (T - 1) / (n - 1 || 1);
    for (let i = 0; i < n; i++) {
      const v = n > 1 && i === n - 1 ? T - 1 : i * step;
      out[n - 1 - i] = roundHalfEven(v);
    }
  } else if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    for (let i = 0; i < n; i++) out[n - 1 - i] = i * ratio + stepsOffset;
    if (out[0] > T - 1) {
      throw new ConfigError('stepsOffset', `${stepsOffset} puts timestep ${out[0]} past T - 1 = ${T - 1} with ${n} 'leading' steps`);
    }
  } else if (spacing === 'trailing') {
    // np.arange(T, 0, -r) fills start + i * delta with delta = (start - r) - start.
    const r = T / n;
    const delta = T - r - T;
    for (let i = 0; i < n; i++) out[i] = roundHalfEven(T + i * delta) - 1;
  } else {
    throw new ConfigError('timestepSpacing', `unknown spacing '${String(spacing)}'; allowed: ${TIMESTEP_SPACINGS.join(', ')}`);
  }
  return out;
}
