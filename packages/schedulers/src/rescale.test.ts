import { describe, expect, it } from 'vitest';
import { cosineSchedule } from './cosine.js';
import { linearSchedule } from './linear.js';
import { rescaleZeroTerminalSnr } from './rescale.js';
import { scaledLinearSchedule } from './scaled-linear.js';

describe('zero terminal SNR rescale (Lin et al., alg. 1)', () => {
  for (const [name, plain, rescaled] of [
    ['linear T=1000', linearSchedule(1000), linearSchedule(1000, 1e-4, 0.02, true)],
    ['scaled-linear SD', scaledLinearSchedule(1000, 0.00085, 0.012), scaledLinearSchedule(1000, 0.00085, 0.012, true)],
    ['cosine T=40', cosineSchedule(40), cosineSchedule(40, true)],
  ] as const) {
    it(`${name}: alpha-bar[T-1] = 0, alpha-bar[0] kept, sqrt(alpha-bar) an affine map of the original`, () => {
      const T = plain.numTrainTimesteps;
      expect(rescaled.alphasCumprod[T - 1]).toBe(0);
      expect(rescaled.betas[T - 1]).toBe(1);
      expect(Math.abs(rescaled.alphasCumprod[0] - plain.alphasCumprod[0])).toBeLessThan(1e-6);
      expect(rescaled.config.rescale_betas_zero_snr).toBe(true);
      // sqrt(abar') = (sqrt(abar) - sqrt(abar_T)) * sqrt(abar_0) / (sqrt(abar_0) - sqrt(abar_T)), in float64
      const s = Array.from(plain.alphasCumprod, Math.sqrt);
      const k = s[0] / (s[0] - s[T - 1]);
      for (const t of [1, Math.floor(T / 2), T - 2]) {
        const expected = ((s[t] - s[T - 1]) * k) ** 2;
        expect(Math.abs(rescaled.alphasCumprod[t] - expected)).toBeLessThan(2e-5 * Math.max(expected, 1e-3));
      }
      expect(rescaled.sigmas[T - 1]).toBe(Number.POSITIVE_INFINITY);
    });
  }

  it('works on a plain array of betas', () => {
    const b = rescaleZeroTerminalSnr([0.1, 0.2, 0.3]);
    expect(b[2]).toBe(1);
    expect(b[0]).toBeCloseTo(0.1, 6);
  });
});
