import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FourierTimestepEmbedding, fourierTimestepEmbedding, gaussianFourierWeights } from './fourier.js';

describe('Gaussian Fourier timestep embedding', () => {
  it('W is N(0, scale^2), deterministic under the seed', () => {
    const a = gaussianFourierWeights(4000, 16, 7);
    const b = gaussianFourierWeights(4000, 16, 7);
    const c = gaussianFourierWeights(4000, 16, 8);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    // standard error of the std ~ 16 / sqrt(2 * 4000) = 0.18
    expect(Math.abs(std - 16)).toBeLessThan(0.8);
    expect(Math.abs(mean)).toBeLessThan(1.2);
  });

  it('emb = [sin(2 pi t W), cos(2 pi t W)]', () => {
    const w = [0.5, -0.25, 0.125];
    const out = fourierTimestepEmbedding([0, 1, 0.3], w);
    expect(out.shape).toEqual([3, 6]);
    const got = out.arraySync();
    out.dispose();
    [0, 1, 0.3].forEach((t, i) => {
      const want = [...w.map((v) => Math.sin(2 * Math.PI * t * v)), ...w.map((v) => Math.cos(2 * Math.PI * t * v))];
      for (let k = 0; k < 6; k++) expect(got[i][k]).toBeCloseTo(want[k], 5);
    });
  });

  it('log feeds ln(t) (clamped at 1e-5) and inputScale multiplies t first', () => {
    const w = [0.1];
    const out = fourierTimestepEmbedding([Math.E, 0], w, { log: true });
    const [r1, r0] = out.arraySync();
    out.dispose();
    expect(r1[0]).toBeCloseTo(Math.sin(2 * Math.PI * 0.1), 5);
    expect(r0[0]).toBeCloseTo(Math.sin(2 * Math.PI * 0.1 * Math.log(1e-5)), 4);
    const s = fourierTimestepEmbedding([10], w, { inputScale: 0.05 });
    expect(s.dataSync()[0]).toBeCloseTo(Math.sin(2 * Math.PI * 0.1 * 0.5), 5);
    s.dispose();
  });

  it('class: same seed -> same features, normalize divides by T, no leaks', () => {
    const a = new FourierTimestepEmbedding({ dim: 8, seed: 1 });
    const b = new FourierTimestepEmbedding({ dim: 8, seed: 1 });
    const n = new FourierTimestepEmbedding({ dim: 8, seed: 1, normalize: true }, 50);
    expect(a.weights).toHaveLength(4);
    const t = tf.tensor1d([0, 3, 25]);
    const before = tf.memory().numTensors;
    const ea = a.embed(t);
    const eb = b.embed(t);
    const en = n.embed(t);
    expect(Array.from(ea.dataSync())).toEqual(Array.from(eb.dataSync()));
    const row2 = en.arraySync()[2];
    expect(row2[0]).toBeCloseTo(Math.sin(2 * Math.PI * 0.5 * a.weights[0]), 4);
    tf.dispose([ea, eb, en]);
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
    expect(() => new FourierTimestepEmbedding({ dim: 7 })).toThrow(/fourier\.dim/);
    expect(() => new FourierTimestepEmbedding({ normalize: true })).toThrow(/numTrainTimesteps/);
  });
});
