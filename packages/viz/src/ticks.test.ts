import { describe, expect, it } from 'vitest';
import { decimalsOf, formatNumber, formatTick, logTicks, niceLimits, niceNumber, niceStep, niceTicks } from './ticks.js';

describe('nice numbers (Heckbert 1990)', () => {
  it('rounds to 1, 2, 5 or 10 times a power of ten at the 1.5 / 3 / 7 thresholds', () => {
    expect(niceNumber(1.4, true)).toBe(1);
    expect(niceNumber(1.5, true)).toBe(2);
    expect(niceNumber(2.9, true)).toBe(2);
    expect(niceNumber(3, true)).toBe(5);
    expect(niceNumber(6.9, true)).toBe(5);
    expect(niceNumber(7, true)).toBe(10);
    expect(niceNumber(0.6, true)).toBe(0.5);
    expect(niceNumber(0.0032, true)).toBe(0.005);
    expect(niceNumber(420, true)).toBe(500);
  });
  it('ceils without rounding', () => {
    expect(niceNumber(1.01, false)).toBe(2);
    expect(niceNumber(2.5, false)).toBe(5);
    expect(niceNumber(0.051, false)).toBe(0.1);
  });
  it('steps', () => {
    expect(niceStep(-1.3, 1.7)).toBe(0.5); // 3 / 5 = 0.6 -> 0.5
    expect(niceStep(0, 100)).toBe(20);
    expect(niceStep(0, 1, 10)).toBe(0.1);
  });
});

describe('niceTicks', () => {
  it('gives the multiples of the nice step inside the range, exactly', () => {
    expect(niceTicks(-1.3, 1.7)).toEqual([-1, -0.5, 0, 0.5, 1, 1.5]);
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.1, 0.3)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3]);
    expect(niceTicks(-1.6, 1.6)).toEqual([-1.5, -1, -0.5, 0, 0.5, 1, 1.5]);
    expect(niceTicks(0, 299)).toEqual([0, 50, 100, 150, 200, 250]);
    expect(niceTicks(1e-5, 5e-5)).toEqual([1e-5, 2e-5, 3e-5, 4e-5, 5e-5]);
    expect(Object.is(niceTicks(-1, 1)[2], 0)).toBe(true); // no -0
  });
  it('handles reversed and degenerate ranges', () => {
    expect(niceTicks(1.7, -1.3)).toEqual([-1, -0.5, 0, 0.5, 1, 1.5]);
    expect(niceTicks(2, 2)).toEqual([2]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });
  it('loose limits snap outwards to the step', () => {
    expect(niceLimits(-1.3, 1.7)).toEqual([-1.5, 2]);
    expect(niceLimits(3, 97)).toEqual([0, 100]);
  });
});

describe('log ticks', () => {
  it('powers of ten over several decades', () => {
    expect(logTicks(1e-4, 1)).toEqual([1e-4, 1e-3, 1e-2, 0.1, 1]);
    expect(logTicks(0.5, 2000)).toEqual([1, 10, 100, 1000]);
  });
  it('thins decades beyond target + 2', () => {
    expect(logTicks(1e-10, 1, 4)).toEqual([1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1]);
  });
  it('1-2-5 multiples over a short range', () => {
    expect(logTicks(0.06, 1.1)).toEqual([0.1, 0.2, 0.5, 1]);
    expect(logTicks(1.5, 9)).toEqual([2, 5]);
  });
});

describe('tick labels', () => {
  it('uses the decimals of the step', () => {
    expect(decimalsOf(0.05)).toBe(2);
    expect(decimalsOf(20)).toBe(0);
    expect(decimalsOf(2e-7)).toBe(7);
    expect(formatTick(-0.5, 0.5)).toBe('-0.5');
    expect(formatTick(1, 0.5)).toBe('1.0');
    expect(formatTick(0, 0.5)).toBe('0');
    expect(formatTick(150, 50)).toBe('150');
    expect(formatTick(0.25, 0.05)).toBe('0.25');
  });
  it('switches to exponent form for tiny steps and huge values', () => {
    expect(formatTick(3e-5, 1e-5)).toBe('3e-5');
    expect(formatTick(2.5e6, 5e5)).toBe('2.5e6');
    expect(formatNumber(1e-3)).toBe('0.001');
    expect(formatNumber(1e-5)).toBe('1e-5');
    expect(formatNumber(250)).toBe('250');
  });
});
