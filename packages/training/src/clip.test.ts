import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { clipFlatByGlobalNorm, clipGradNorm } from './index.js';

describe('clip by global norm (torch clip_grad_norm_)', () => {
  it('scales by maxNorm / (norm + 1e-6) when over the limit and leaves gradients under it unchanged', () => {
    tf.tidy(() => {
      // global norm of [3, 4] and [12] is 13
      const { grads, norm } = clipGradNorm([tf.tensor1d([3, 4]), tf.tensor1d([12])], 1);
      expect(norm.dataSync()[0]).toBeCloseTo(13, 5);
      expect(grads[0].dataSync()[0]).toBeCloseTo(3 / 13, 6);
      expect(grads[1].dataSync()[0]).toBeCloseTo(12 / 13, 6);
      const unchanged = clipGradNorm([tf.tensor1d([3, 4]), tf.tensor1d([12])], 100);
      expect(Array.from(unchanged.grads[1].dataSync())).toEqual([12]);
      const flat = clipFlatByGlobalNorm(tf.tensor1d([3, 4, 12]), 6.5);
      expect(flat.norm.dataSync()[0]).toBeCloseTo(13, 5);
      expect(Array.from(flat.grad.dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([1.5, 2, 6]);
    });
    expect(() => clipGradNorm([], 0)).toThrow('maxNorm must be > 0, got 0');
  });
});
