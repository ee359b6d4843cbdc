import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SinusoidalTimestepEmbedding, sinusoidalFrequencies, timestepEmbedding } from './sinusoidal.js';

function rows(x: tf.Tensor2D): number[][] {
  const out = x.arraySync();
  x.dispose();
  return out;
}

function expectClose(a: number[], b: number[], tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(tol);
}

describe('timestepEmbedding (diffusers get_timestep_embedding)', () => {
  it('t = 0 gives [0 ... 0, 1 ... 1]', () => {
    const [r] = rows(timestepEmbedding([0], 8));
    expect(r).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('dim 4, defaults: frequencies 1 and 1e-4 (hand-computed)', () => {
    // half = 2, shift 1: freq_k = exp(-ln(1e4) * k / 1) -> [1, 1e-4]
    const [r1, r2] = rows(timestepEmbedding([1, 7.5], 4));
    expectClose(r1, [Math.sin(1), Math.sin(1e-4), Math.cos(1), Math.cos(1e-4)], 1e-6);
    expectClose(r2, [Math.sin(7.5), Math.sin(7.5e-4), Math.cos(7.5), Math.cos(7.5e-4)], 1e-6);
  });

  it('matches a float64 evaluation of the formula, including large t', () => {
    const dim = 16;
    const ts = [0, 1, 3, 49, 999];
    const got = rows(timestepEmbedding(ts, dim));
    ts.forEach((t, i) => {
      const want: number[] = [];
      for (let k = 0; k < 8; k++) want.push(Math.sin(t * 10000 ** (-k / 7)));
      for (let k = 0; k < 8; k++) want.push(Math.cos(t * 10000 ** (-k / 7)));
      expectClose(got[i], want, 2e-4);
    });
  });

  it('downscaleFreqShift 0, maxPeriod and scale follow the formula', () => {
    expectClose(Array.from(sinusoidalFrequencies(8, { downscaleFreqShift: 0 })), [1, 10000 ** -0.25, 10000 ** -0.5, 10000 ** -0.75], 1e-12);
    expectClose(Array.from(sinusoidalFrequencies(6, { maxPeriod: 100, scale: 2 })), [2, 2 / 10, 2 / 100], 1e-12);
    const [r] = rows(timestepEmbedding([0.5], 4, { scale: 3 }));
    expectClose(r, [Math.sin(1.5), Math.sin(1.5e-4), Math.cos(1.5), Math.cos(1.5e-4)], 1e-6);
  });

  it('flipSinToCos puts cos first', () => {
    const [r] = rows(timestepEmbedding([2], 4, { flipSinToCos: true }));
    expectClose(r, [Math.cos(2), Math.cos(2e-4), Math.sin(2), Math.sin(2e-4)], 1e-6);
  });

  it('odd dim appends one zero column', () => {
    const out = timestepEmbedding([3, 5], 5);
    expect(out.shape).toEqual([2, 5]);
    const [r] = rows(out);
    expectClose(r, [Math.sin(3), Math.sin(3e-4), Math.cos(3), Math.cos(3e-4), 0], 1e-6);
    expect(rows(timestepEmbedding([4], 1))).toEqual([[0]]);
  });

  it('dim 2 with shift 1 is [sin t, cos t] (diffusers would give NaN)', () => {
    const [r] = rows(timestepEmbedding([0.3], 2));
    expectClose(r, [Math.sin(0.3), Math.cos(0.3)], 1e-6);
  });

  it('accepts int32 tensors and rejects non-1-D ones', () => {
    const t = tf.tensor1d([1, 2], 'int32');
    const out = timestepEmbedding(t, 6);
    expect(out.shape).toEqual([2, 6]);
    expect(out.dtype).toBe('float32');
    out.dispose();
    t.dispose();
    const bad = tf.zeros([2, 1]);
    expect(() => timestepEmbedding(bad as unknown as tf.Tensor1D, 4)).toThrow(/1-D/);
    bad.dispose();
    expect(() => timestepEmbedding([1], 0)).toThrow(/dim/);
  });

  it('class: defaults (dim 128), no variables, no leaks', () => {
    const emb = new SinusoidalTimestepEmbedding();
    expect(emb.dim).toBe(128);
    expect(emb.trainableVariables).toEqual([]);
    const t = tf.tensor1d([0, 10, 20]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) emb.embed(t).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const out = emb.embed(t);
    expect(out.shape).toEqual([3, 128]);
    out.dispose();
    t.dispose();
    expect(() => new SinusoidalTimestepEmbedding({ dim: 0 })).toThrow(/sinusoidal\.dim/);
    expect(() => new SinusoidalTimestepEmbedding({ bogus: 1 } as never)).toThrow(/unknown option/);
  });
});
