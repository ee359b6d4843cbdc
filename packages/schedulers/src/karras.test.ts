import { describe, expect, it } from 'vitest';
import { karrasSigmas, karrasSigmasFor, sigmaToTimestep } from './karras.js';
import { linearSchedule } from './linear.js';

describe('Karras sigmas (EDM eq. 5, rho = 7)', () => {
  it('runs from sigma_max to sigma_min, uniform in sigma^(1/rho)', () => {
    const s = karrasSigmas(5, 0.002, 80);
    expect(s[0]).toBeCloseTo(80, 10);
    expect(s[4]).toBeCloseTo(0.002, 12);
    // (80^(1/7) + r (0.002^(1/7) - 80^(1/7)))^7 at r = 1/4 and 1/2, evaluated by hand with node
    expect(s[1]).toBeCloseTo(17.52783196464411, 9);
    expect(s[2]).toBeCloseTo(2.515218976147159, 9);
    for (let i = 1; i < 5; i++) expect(s[i]).toBeLessThan(s[i - 1]);
    const root = Array.from(s, (v) => v ** (1 / 7));
    expect(root[1] - root[0]).toBeCloseTo(root[4] - root[3], 10);
  });

  it('spans a schedule sigma range and rejects bad input', () => {
    const sch = linearSchedule(50, 1e-4, 0.2);
    const k = karrasSigmasFor(sch, 6);
    expect(k[0]).toBeCloseTo(sch.sigmas[49], 6);
    expect(k[5]).toBeCloseTo(sch.sigmas[0], 8);
    expect(() => karrasSigmas(0, 0.1, 1)).toThrow(RangeError);
    expect(() => karrasSigmas(3, 1, 0.1)).toThrow(RangeError);
  });

  it('sigmaToTimestep inverts the table (log-sigma interpolation)', () => {
    const sch = linearSchedule(50, 1e-4, 0.2);
    for (const t of [0, 7, 30, 49]) expect(sigmaToTimestep(sch.sigmas, sch.sigmas[t])).toBeCloseTo(t, 6);
    const mid = Math.sqrt(sch.sigmas[10] * sch.sigmas[11]);
    expect(sigmaToTimestep(sch.sigmas, mid)).toBeCloseTo(10.5, 6);
  });
});
