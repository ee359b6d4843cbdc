import { describe, expect, it } from 'vitest';
import { betasForAlphaBar, cosineAlphaBar, cosineSchedule } from './cosine.js';

describe('cosine schedule (squaredcos_cap_v2)', () => {
  it('alpha-bar_t = f((t+1)/T) / f(0) with f(u) = cos^2((u + 0.008)/1.008 pi/2) (Nichol & Dhariwal eq. 17)', () => {
    const T = 40;
    const s = cosineSchedule(T);
    const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (const t of [0, 1, 10, 20, 37]) expect(s.alphasCumprod[t]).toBeCloseTo(f((t + 1) / T) / f(0), 6);
  });

  it('T = 40 gives alpha-bar 0.992 at t = 1 and 0.006 at t = 37', () => {
    const a = cosineSchedule(40).alphasCumprod;
    expect(Math.abs(a[1] - 0.992)).toBeLessThan(0.001);
    expect(Math.abs(a[37] - 0.006)).toBeLessThan(0.001);
  });

  it('caps beta at 0.999 (the last step at T = 1000)', () => {
    const s = cosineSchedule(1000);
    expect(s.betas[999]).toBe(Math.fround(0.999));
    expect(Math.max(...s.betas)).toBeLessThanOrEqual(Math.fround(0.999));
    expect(s.config.beta_schedule).toBe('squaredcos_cap_v2');
    expect(s.id).toBe('cosine');
  });

  it('betasForAlphaBar discretises any alpha-bar function', () => {
    // alpha-bar(u) = 1 - u/2: beta_i = 1 - (1 - (i+1)/2T) / (1 - i/2T)
    const b = betasForAlphaBar(4, (u) => 1 - u / 2);
    expect(b[0]).toBeCloseTo(1 - (1 - 1 / 8) / 1, 7);
    expect(b[3]).toBeCloseTo(1 - (1 - 4 / 8) / (1 - 3 / 8), 7);
    expect(cosineAlphaBar(1)).toBeCloseTo(0, 12);
  });
});
