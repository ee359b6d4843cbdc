import { ConfigError } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { linearSchedule } from './linear.js';
import { inferenceTimesteps, roundHalfEven } from './timesteps.js';

const range = (start: number, step: number, n: number) => Array.from({ length: n }, (_, i) => start + i * step);

describe('inference timesteps (diffusers set_timesteps spacings)', () => {
  it('T = 1000, n = 10: leading + offset 1, trailing, linspace', () => {
    expect(inferenceTimesteps(1000, 10, 'leading', 1)).toEqual(range(901, -100, 10));
    expect(inferenceTimesteps(1000, 10, 'leading')).toEqual(range(900, -100, 10));
    expect(inferenceTimesteps(1000, 10, 'trailing')).toEqual(range(999, -100, 10));
    expect(inferenceTimesteps(1000, 10, 'linspace')).toEqual(range(999, -111, 10));
  });

  it('rounds half to even like numpy', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 499.5, 937.5, 812.5].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 500, 938, 812]);
    // np.linspace(0, 999, 3) = [0, 499.5, 999] -> round -> [0, 500, 999]
    expect(inferenceTimesteps(1000, 3, 'linspace')).toEqual([999, 500, 0]);
    // trailing n = 16: 1000 - 62.5 i -> 1000, 937.5 (938), 875, 812.5 (812), ... ; minus 1
    expect(inferenceTimesteps(1000, 16, 'trailing')).toEqual([999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61]);
  });

  it('handles ratios that do not divide T', () => {
    expect(inferenceTimesteps(1000, 3, 'leading')).toEqual([666, 333, 0]);
    expect(inferenceTimesteps(1000, 3, 'trailing')).toEqual([999, 666, 332]);
    // numpy's arange would make 62 entries here; we keep n
    const t61 = inferenceTimesteps(1000, 61, 'trailing');
    expect(t61.length).toBe(61);
    expect(t61[60]).toBe(15);
    expect(inferenceTimesteps(50, 8, 'linspace')).toEqual(range(49, -7, 8));
    expect(inferenceTimesteps(40, 40, 'leading')).toEqual(range(39, -1, 40));
    expect(inferenceTimesteps(40, 1, 'linspace')).toEqual([0]);
    expect(inferenceTimesteps(40, 1, 'trailing')).toEqual([39]);
  });

  it('rejects n outside [1, T] and offsets past T - 1 with one-line ConfigErrors', () => {
    for (const n of [0, 1001, 2.5]) {
      expect(() => inferenceTimesteps(1000, n)).toThrow(ConfigError);
      expect(() => inferenceTimesteps(1000, n)).toThrow(/^numInferenceSteps: must be an integer in \[1, 1000\]/);
    }
    expect(() => inferenceTimesteps(10, 10, 'leading', 1)).toThrow(/stepsOffset: 1 puts timestep 10 past T - 1 = 9/);
    expect(() => inferenceTimesteps(10, 5, 'middle' as never)).toThrow(/timestepSpacing: unknown spacing 'middle'; allowed: leading, linspace, trailing/);
  });

  it('is what NoiseSchedule.timesteps returns', () => {
    expect(linearSchedule(50).timesteps(5, 'trailing')).toEqual([49, 39, 29, 19, 9]);
    expect(linearSchedule(50).timesteps(5)).toEqual([40, 30, 20, 10, 0]);
  });
});
