import { describe, expect, it } from 'vitest';
import { linearBetas, linearSchedule } from './linear.js';

/** Independent float64 reference: linspace and a running product. */
function abarF64(betaStart: number, betaEnd: number, T: number): number[] {
  let p = 1;
  return Array.from({ length: T }, (_, i) => (p *= 1 - (betaStart + ((betaEnd - betaStart) * i) / (T - 1))));
}

describe('linear schedule', () => {
  it('has betas from betaStart to betaEnd in float32', () => {
    const b = linearBetas(1000);
    expect(b[0]).toBe(Math.fround(1e-4));
    expect(b[999]).toBe(Math.fround(0.02));
    expect(b[500]).toBeCloseTo(1e-4 + (0.0199 * 500) / 999, 8);
    for (const v of b) expect(Math.fround(v)).toBe(v);
  });

  it('alpha-bar is torch.cumprod of float32 1 - beta on the CPU (float64 running product, each output rounded to float32)', () => {
    const s = linearSchedule(50, 1e-4, 0.2);
    let acc = 1;
    for (let t = 0; t < 50; t++) {
      expect(s.alphas[t]).toBe(Math.fround(1 - s.betas[t]));
      acc *= s.alphas[t];
      expect(s.alphasCumprod[t]).toBe(Math.fround(acc));
    }
  });

  it('ends at alpha-bar[999] ~ 4.04e-5 for 1e-4..0.02 at T = 1000 (DDPM)', () => {
    const s = linearSchedule();
    expect(s.numTrainTimesteps).toBe(1000);
    expect(Math.abs(s.alphasCumprod[999] - 4.04e-5) / 4.04e-5).toBeLessThan(0.01);
    // float32 cumprod stays within 1e-4 relative of the float64 product
    const ref = abarF64(1e-4, 0.02, 1000);
    expect(Math.abs(s.alphasCumprod[999] - ref[999]) / ref[999]).toBeLessThan(1e-4);
  });

  it('1e-4..0.2 at T = 50 gives alpha-bar 0.996 / 0.048 / 0.005 at t = 1 / 37 / 49 (the spiral setting)', () => {
    const a = linearSchedule(50, 1e-4, 0.2).alphasCumprod;
    // float64 reference values: 0.995721, 0.048284, 0.004616
    expect(Math.abs(a[1] - 0.996)).toBeLessThan(0.002);
    expect(Math.abs(a[37] - 0.048)).toBeLessThan(0.003);
    expect(Math.abs(a[49] - 0.005)).toBeLessThan(0.003);
    const ref = abarF64(1e-4, 0.2, 50);
    for (const t of [0, 1, 10, 37, 49]) expect(Math.abs(a[t] - ref[t]) / ref[t]).toBeLessThan(1e-5);
  });

  it('records a diffusers config', () => {
    expect(linearSchedule(50, 1e-4, 0.2).config).toEqual({
      num_train_timesteps: 50,
      beta_schedule: 'linear',
      beta_start: 1e-4,
      beta_end: 0.2,
      trained_betas: null,
      rescale_betas_zero_snr: false,
    });
  });
});
