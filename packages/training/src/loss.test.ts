import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Denoiser, PredictionType } from '@difflab/core';
import { diffusionLoss, mseLoss } from './index.js';
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
});
