import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { erf64 } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { SIMD_MATH_SOURCE_SHA256 } from './simd-math.generated.js';
import { simdGelu, simdGeluGrad, simdMath, simdMathAvailable } from './simd-math.js';


/** |got - want| (want exact, float64) in units in the last place of the float32 value nearest `want`: a correctly rounded result is within 0.5. */
function ulps(got: number, want: number): number {
  const w = Math.fround(want);
  if (got === w || (Number.isNaN(got) && Number.isNaN(w))) return 0;
  if (!Number.isFinite(w) || !Number.isFinite(got)) return Number.POSITIVE_INFINITY;
  const e = w === 0 ? -149 : Math.max(-149, Math.floor(Math.log2(Math.abs(w))) - 23);
  return Math.abs(got - want) / 2 ** e;
}

function maxUlps(fn: 'sin' | 'cos' | 'exp' | 'erf', xs: Float32Array, ref: (v: number) => number): number {
  const out = new Float32Array(xs.length);
  simdMath(fn, xs, out);
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, ulps(out[i], ref(xs[i])));
  return m;
}

const range = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

describe('simd-math module', () => {
  it('was generated from the current assembly/simd-math.ts (run `npm run build:simd -w @difflab/runtime` after editing it)', () => {
    const src = readFileSync(new URL('../../assembly/simd-math.ts', import.meta.url), 'utf8');
    expect(createHash('sha256').update(src).digest('hex')).toBe(SIMD_MATH_SOURCE_SHA256);
  });

  it('runs in Node 20 (WebAssembly SIMD)', () => {
    expect(simdMathAvailable()).toBe(true);
  });

  it('sin and cos are within 1.5 ulp of the exact value (1 ulp of the rounded one) on |x| < 100, and exact at 0, -0, NaN, +-inf', () => {
    const xs = range(200_001, -100, 100);
    expect(maxUlps('sin', xs, Math.sin)).toBeLessThanOrEqual(1.5);
    expect(maxUlps('cos', xs, Math.cos)).toBeLessThanOrEqual(1.5);
    const special = Float32Array.from([0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e6, -3e4]);
    const s = new Float32Array(special.length);
    simdMath('sin', special, s);
    expect(Object.is(s[0], 0)).toBe(true);
    expect(Object.is(s[1], -0)).toBe(true);
    expect([s[2], s[3], s[4]].every(Number.isNaN)).toBe(true);
    expect(s[5]).toBe(Math.fround(Math.sin(1e6)));
    expect(s[6]).toBe(Math.fround(Math.sin(-3e4)));
  });

  it('exp is within 1.5 ulp of the exact value from the denormal range to overflow', () => {
    expect(maxUlps('exp', range(200_001, -103, 88.7), Math.exp)).toBeLessThanOrEqual(1.5);
    const edge = Float32Array.from([89, -104, -200, 200, Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 0]);
    const e = new Float32Array(edge.length);
    simdMath('exp', edge, e);
    expect(Array.from(e.slice(0, 4))).toEqual([Number.POSITIVE_INFINITY, 0, 0, Number.POSITIVE_INFINITY]);
    expect(Number.isNaN(e[4])).toBe(true);
    expect(Array.from(e.slice(5))).toEqual([0, Number.POSITIVE_INFINITY, 1]);
  });

  it('erf is within 8 ulp and 5e-7 of the exact value (also relative near 0), odd, and saturates at +-1', () => {
    const xs = range(200_001, -6, 6);
    expect(maxUlps('erf', xs, erf64)).toBeLessThanOrEqual(8);
    expect(maxUlps('erf', range(20_001, -1e-3, 1e-3), erf64)).toBeLessThanOrEqual(8);
    const out = new Float32Array(xs.length);
    simdMath('erf', xs, out);
    let worstAbs = 0;
    for (let i = 0; i < xs.length; i++) worstAbs = Math.max(worstAbs, Math.abs(out[i] - erf64(xs[i])));
    expect(worstAbs).toBeLessThanOrEqual(5e-7);
    const e = new Float32Array(4);
    simdMath('erf', Float32Array.from([10, -10, 0.3, -0.3]), e);
    expect(Array.from(e.slice(0, 2))).toEqual([1, -1]);
    expect(e[3]).toBe(-e[2]);
  });

  it('handles any length (padding to 4, chunks of 2^20) and in-place output', () => {
    for (const n of [1, 3, 5, (1 << 20) + 7]) {
      const xs = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 3));
      const want = xs.map((v) => Math.fround(Math.exp(v)));
      simdMath('exp', xs, xs);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, ulps(xs[i], Math.exp(Math.fround(Math.sin(i) * 3))));
      expect(worst).toBeLessThanOrEqual(1.5);
      expect(xs.length).toBe(want.length);
    }
    expect(() => simdMath('sin', new Float32Array(3), new Float32Array(4))).toThrow(/output length 4 differs from input length 3/);
  });

  it('gelu and its gradient in one pass each match float64 (1e-6 relative), any length', () => {
    for (const n of [3, 1001]) {
      const z = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.7) * 5));
      const dy = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.cos(i)));
      const y = new Float32Array(n);
      const cdf = new Float32Array(n);
      const dz = new Float32Array(n);
      simdGelu(z, y, cdf);
      simdGeluGrad(dy, z, cdf, dz);
      for (let i = 0; i < n; i++) {
        const phi = 0.5 * (1 + erf64(z[i] / Math.SQRT2));
        expect(Math.abs(cdf[i] - phi)).toBeLessThan(1e-6);
        expect(Math.abs(y[i] - z[i] * phi)).toBeLessThan(1e-6 * Math.max(1, Math.abs(z[i])));
        const g = dy[i] * (phi + (z[i] * Math.exp(-0.5 * z[i] * z[i])) / Math.sqrt(2 * Math.PI));
        expect(Math.abs(dz[i] - g)).toBeLessThan(1e-6 * Math.max(1, Math.abs(g)));
      }
    }
  });
});
