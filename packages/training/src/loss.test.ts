import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Denoiser, PredictionType } from '@difflab/core';
import { diffusionLoss, minSnrWeights, mseLoss } from './index.js';
import { FakeLinearSchedule } from './testing/fakes.js';

/** A denoiser that returns x_t unchanged. */
function identityModel(predictionType: PredictionType): Denoiser {
  return {
    predictionType,
    sampleShape: [2],
    predict: (xt) => tf.clone(xt),
    trainableVariables: [],
    namedWeights: () => ({}),
    dispose: () => {},
  };
}

describe('diffusionLoss', () => {
  const sched = new FakeLinearSchedule(50);
  const x0 = [
    [1, 2],
    [-0.5, 0.25],
  ];
  const eps = [
    [0.3, -1],
    [2, 0.5],
  ];
  const t = [3, 40];
  const ab = t.map((k) => sched.alphasCumprod[k]);
  const xt = x0.map((r, i) => r.map((v, j) => Math.sqrt(ab[i]) * v + Math.sqrt(1 - ab[i]) * eps[i][j]));
  const mse = (target: number[][]) => xt.flat().reduce((s, v, k) => s + (v - target.flat()[k]) ** 2, 0) / 4;

  for (const [type, target] of [
    ['epsilon', eps],
    ['v_prediction', x0.map((r, i) => r.map((v, j) => Math.sqrt(ab[i]) * eps[i][j] - Math.sqrt(1 - ab[i]) * v))],
    ['sample', x0],
  ] as [PredictionType, number[][]][]) {
    it(`${type}: MSE between the prediction and its target`, () => {
      const before = tf.memory().numTensors;
      const loss = tf.tidy(() => diffusionLoss(identityModel(type), sched.asSchedule(), tf.tensor2d(x0), t, tf.tensor2d(eps)));
      expect(loss.dataSync()[0]).toBeCloseTo(mse(target), 5);
      loss.dispose();
      expect(tf.memory().numTensors).toBe(before);
      // t as a tensor gives the same value
      const l2 = tf.tidy(() => diffusionLoss(identityModel(type), sched.asSchedule(), tf.tensor2d(x0), tf.tensor1d(t, 'int32'), tf.tensor2d(eps)).dataSync()[0]);
      expect(l2).toBeCloseTo(mse(target), 5);
    });
  }

  it('mseLoss has gradient 2 (pred - target) / N', () => {
    tf.tidy(() => {
      const target = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
      const g = tf.grad((p: tf.Tensor) => mseLoss(p, target))(tf.tensor2d([
        [0, 2],
        [5, 3],
      ]));
      expect(Array.from(g.dataSync())).toEqual([-0.5, 0, 1, -0.5]);
    });
  });

  it('mseLoss with row weights: mean_i(w_i mean_j d_ij^2), gradient 2 w_i d_ij / N, checked by finite differences', () => {
    const before = tf.memory().numTensors;
    const p0 = [0.3, -1.2, 2, 0.5, -0.7, 1.1];
    const y = [1, 0.5, -0.25, 0.75, 0, -2];
    const w = [0.2, 3, 1.5];
    // [3 rows, 2 entries]: diffusers' (mse(reduction='none').mean(1) * w).mean()
    const value = (p: number[]) => w.reduce((s, wi, i) => s + (wi * ((p[2 * i] - y[2 * i]) ** 2 + (p[2 * i + 1] - y[2 * i + 1]) ** 2)) / 2, 0) / 3;
    tf.tidy(() => {
      const target = tf.tensor2d(y, [3, 2]);
      const loss = mseLoss(tf.tensor2d(p0, [3, 2]), target, w);
      expect(loss.dataSync()[0]).toBeCloseTo(value(p0), 5);
      const g = Array.from(tf.grad((p: tf.Tensor) => mseLoss(p, target, w))(tf.tensor2d(p0, [3, 2])).dataSync());
      const h = 1e-4;
      const fd = p0.map((_, k) => (value(p0.map((v, j) => (j === k ? v + h : v))) - value(p0.map((v, j) => (j === k ? v - h : v)))) / (2 * h));
      for (const [k, gk] of g.entries()) expect(gk).toBeCloseTo(fd[k], 4);
      // all weights 1 is the plain loss
      expect(mseLoss(tf.tensor2d(p0, [3, 2]), target, [1, 1, 1]).dataSync()[0]).toBeCloseTo(mseLoss(tf.tensor2d(p0, [3, 2]), target).dataSync()[0], 6);
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => mseLoss(tf.zeros([3, 2]), tf.zeros([3, 2]), [1, 2])).toThrow('mseLoss: 2 row weights for a batch of 3');
  });

  it('minSnrWeights: min(SNR, gamma) / SNR (epsilon), / (SNR + 1) (v), min(SNR, gamma) (sample), SNR = abar / (1 - abar)', () => {
    const schedule = sched.asSchedule();
    const ts = [0, 3, 10, 25, 40, 49];
    for (const gamma of [1, 5]) {
      const snr = ts.map((k) => sched.alphasCumprod[k] / (1 - sched.alphasCumprod[k]));
      const eps = minSnrWeights(schedule, ts, gamma, 'epsilon');
      const v = minSnrWeights(schedule, ts, gamma, 'v_prediction');
      const x0w = minSnrWeights(schedule, ts, gamma, 'sample');
      ts.forEach((_, i) => {
        expect(eps[i]).toBeCloseTo(Math.min(snr[i], gamma) / snr[i], 6);
        expect(v[i]).toBeCloseTo(Math.min(snr[i], gamma) / (snr[i] + 1), 6);
        expect(x0w[i]).toBeCloseTo(Math.min(snr[i], gamma), 5);
      });
      // epsilon: weight 1 where SNR <= gamma (noisy steps), below 1 for the clean ones
      expect(Array.from(eps).every((e, i) => (snr[i] <= gamma ? e === 1 : e < 1))).toBe(true);
    }
    expect(() => minSnrWeights(schedule, ts, 0, 'epsilon')).toThrow('snrGamma must be positive, got 0');
  });
});

