import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('is deterministic under a seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    const xb = Array.from({ length: 5 }, () => b.nextUint32());
    const xc = Array.from({ length: 5 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it('uniform draws have mean 1/2 and variance 1/12', () => {
    const r = new Rng(1);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      s += u;
      s2 += u * u;
    }
    const mean = s / n;
    expect(outside).toBe(0);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(s2 / n - mean * mean).toBeCloseTo(1 / 12, 3);
  });

  it('normal draws have mean 0, variance 1 and the right tail mass', () => {
    const r = new Rng(2);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let tail = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
      if (Math.abs(z) > 1.96) tail++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(s2 / n).toBeGreaterThan(0.98);
    expect(s2 / n).toBeLessThan(1.02);
    expect(tail / n).toBeGreaterThan(0.045);
    expect(tail / n).toBeLessThan(0.055);
  });

  it('state round-trips through JSON and continues the same stream', () => {
    const r = new Rng(3);
    r.normal(); // leaves a cached spare normal
    const saved = JSON.parse(JSON.stringify(r.getState()));
    const next = [r.normal(), r.uniform(), r.tfSeed()];
    const restored = Rng.fromState(saved);
    expect([restored.normal(), restored.uniform(), restored.tfSeed()]).toEqual(next);
  });

  it('tfSeed gives non-negative 31-bit integers and forks are independent but reproducible', () => {
    const r = new Rng(4);
    for (let i = 0; i < 100; i++) {
      const s = r.tfSeed();
      expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    }
    const f1 = new Rng(5).fork();
    const f2 = new Rng(5).fork();
    expect(f1.uniform()).toBe(f2.uniform());
  });

  it('rejects bad seeds and states with a clear message', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed must be a finite number/);
    expect(() => Rng.fromState({ s: [1, 2, 3] as unknown as [number, number, number, number], spare: null })).toThrow(/four unsigned 32-bit integers/);
    expect(() => new Rng(1).int(0)).toThrow(/positive integer/);
  });
});
