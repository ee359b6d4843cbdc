import { Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { SwissRollDataset, swissRollPoints } from './swiss-roll.js';

function moments(p: Float32Array): { mx: number; mz: number; sx: number; sz: number } {
  const n = p.length / 2;
  let mx = 0;
  let mz = 0;
  for (let i = 0; i < n; i++) {
    mx += p[2 * i];
    mz += p[2 * i + 1];
  }
  mx /= n;
  mz /= n;
  let vx = 0;
  let vz = 0;
  for (let i = 0; i < n; i++) {
    vx += (p[2 * i] - mx) ** 2;
    vz += (p[2 * i + 1] - mz) ** 2;
  }
  return { mx, mz, sx: Math.sqrt(vx / n), sz: Math.sqrt(vz / n) };
}

describe('swiss roll (sklearn make_swiss_roll, (x, z), scaled)', () => {
  it('without noise every point is t (cos t, sin t) * scale with t = |p| / scale in [1.5 pi, 4.5 pi]', () => {
    const p = swissRollPoints(2000, new Rng(3), { noise: 0, scale: 0.1 });
    let tMin = Number.POSITIVE_INFINITY;
    let tMax = 0;
    let worst = 0;
    for (let i = 0; i < 2000; i++) {
      const x = p[2 * i] / 0.1;
      const z = p[2 * i + 1] / 0.1;
      const t = Math.hypot(x, z);
      tMin = Math.min(tMin, t);
      tMax = Math.max(tMax, t);
      worst = Math.max(worst, Math.abs(x - t * Math.cos(t)), Math.abs(z - t * Math.sin(t)));
    }
    expect(tMin).toBeGreaterThanOrEqual(1.5 * Math.PI - 1e-4);
    expect(tMax).toBeLessThanOrEqual(4.5 * Math.PI + 1e-4);
    expect(worst).toBeLessThan(1e-4);
    // the draws cover the whole range of t
    expect(tMin).toBeLessThan(1.5 * Math.PI + 0.1);
    expect(tMax).toBeGreaterThan(4.5 * Math.PI - 0.1);
  });

  it('mean and std match the closed form of the formula (noise 0.5, scale 0.1)', () => {
    // t ~ U(a, b), a = 1.5 pi, b = 4.5 pi:
    //   E[t cos t] = [t sin t + cos t]_a^b / (b - a) = 6 pi / 3 pi = 2
    //   E[t sin t] = [sin t - t cos t]_a^b / (b - a) = 2 / (3 pi)
    //   E[t^2 cos^2 t] = (E[t^2] - 1/2) / 2,  E[t^2 sin^2 t] = (E[t^2] + 1/2) / 2,  E[t^2] = (b^3 - a^3) / (3 (b - a))
    const a = 1.5 * Math.PI;
    const b = 4.5 * Math.PI;
    const et2 = (b ** 3 - a ** 3) / (3 * (b - a));
    const noise = 0.5;
    const mx = 2;
    const mz = 2 / (3 * Math.PI);
    const sx = Math.sqrt((et2 - 0.5) / 2 - mx ** 2 + noise ** 2);
    const sz = Math.sqrt((et2 + 0.5) / 2 - mz ** 2 + noise ** 2);
    const ds = new SwissRollDataset({ size: 40000, seed: 11 });
    const all = ds.all();
    const m = moments(all.dataSync() as Float32Array);
    all.dispose();
    // standard errors at n = 40000: means ~0.0035, stds ~0.003 (scaled units)
    expect(Math.abs(m.mx - 0.1 * mx)).toBeLessThan(0.02);
    expect(Math.abs(m.mz - 0.1 * mz)).toBeLessThan(0.02);
    expect(Math.abs(m.sx - 0.1 * sx)).toBeLessThan(0.015);
    expect(Math.abs(m.sz - 0.1 * sz)).toBeLessThan(0.015);
  });

  it('noise is N(0, noise^2) around the noise-free spiral (same stream, scaled)', () => {
    const clean = swissRollPoints(1, new Rng(0), { noise: 0, scale: 1 });
    // with noise the first uniform gives the same t; the following normals perturb it
    const noisy = swissRollPoints(1, new Rng(0), { noise: 0.5, scale: 1 });
    const r = new Rng(0);
    r.uniform();
    expect(noisy[0]).toBeCloseTo(clean[0] + 0.5 * r.normal(), 4);
    expect(noisy[1]).toBeCloseTo(clean[1] + 0.5 * r.normal(), 4);
  });

  it('defaults, shapes and plausible range', () => {
    const ds = new SwissRollDataset();
    expect(ds.size).toBe(10000);
    expect(ds.options).toEqual({ noise: 0.5, scale: 0.1, size: 10000, seed: 0 });
    const { x } = ds.sample(256, new Rng(1));
    expect(x.shape).toEqual([256, 2]);
    expect(Math.max(...Array.from(x.dataSync(), Math.abs))).toBeLessThan(1.8);
    x.dispose();
    expect(() => new SwissRollDataset({ noise: -1 })).toThrow(/swiss-roll\.noise/);
  });
});
