import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { linearSchedule } from './linear.js';

const sch = linearSchedule(50, 1e-4, 0.2);
const abar = (t: number) => sch.alphasCumprod[t];

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(tol);
}

describe('DiscreteSchedule tables', () => {
  it('sigma_t = sqrt((1 - abar_t) / abar_t)', () => {
    for (const t of [0, 20, 49]) expect(Math.abs(sch.sigmas[t] / Math.sqrt((1 - abar(t)) / abar(t)) - 1)).toBeLessThan(1e-6);
  });
});

describe('forward process', () => {
  const x0v = [1, 2, 3, 4];
  const nv = [0.5, -1, 2, 0];

  it('addNoise = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, per row or for the batch', () => {
    const x0 = tf.tensor2d(x0v, [2, 2]);
    const noise = tf.tensor2d(nv, [2, 2]);
    const before = tf.memory().numTensors;
    const perRow = sch.addNoise(x0, noise, [10, 37]);
    const scalar = sch.addNoise(x0, noise, 37);
    const asTensor = sch.addNoise(x0, noise, tf.tensor1d([10, 37], 'int32'));
    const f = (t: number, i: number) => Math.sqrt(abar(t)) * x0v[i] + Math.sqrt(1 - abar(t)) * nv[i];
    expectClose(perRow.dataSync(), [f(10, 0), f(10, 1), f(37, 2), f(37, 3)]);
    expectClose(scalar.dataSync(), [0, 1, 2, 3].map((i) => f(37, i)));
    expectClose(asTensor.dataSync(), perRow.dataSync() as unknown as number[]);
    tf.dispose([perRow, scalar, asTensor]);
    // the int32 t tensor above was created inside the count window: 1 leaked by the test itself
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x0, noise]);
  });

  it('addNoise works for image-shaped batches and does not leak', () => {
    const x0 = tf.ones([3, 2, 2, 1]);
    const noise = tf.zeros([3, 2, 2, 1]);
    const before = tf.memory().numTensors;
    const y = sch.addNoise(x0, noise, [0, 1, 49]);
    expect(y.shape).toEqual([3, 2, 2, 1]);
    const d = y.dataSync();
    expect(d[0]).toBeCloseTo(Math.sqrt(abar(0)), 6);
    expect(d[11]).toBeCloseTo(Math.sqrt(abar(49)), 6);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x0, noise]);
  });

  it('velocity = sqrt(abar) noise - sqrt(1 - abar) x0, and x0 = sqrt(abar) x_t - sqrt(1 - abar) v', () => {
    const x0 = tf.tensor2d(x0v, [2, 2]);
    const noise = tf.tensor2d(nv, [2, 2]);
    const v = sch.velocity(x0, noise, [5, 40]);
    const ts = [5, 5, 40, 40];
    expectClose(
      v.dataSync(),
      ts.map((t, i) => Math.sqrt(abar(t)) * nv[i] - Math.sqrt(1 - abar(t)) * x0v[i]),
    );
    const xt = sch.addNoise(x0, noise, [5, 40]);
    const xtv = xt.dataSync();
    const vv = v.dataSync();
    expectClose(
      ts.map((t, i) => Math.sqrt(abar(t)) * xtv[i] - Math.sqrt(1 - abar(t)) * vv[i]),
      x0v,
    );
    tf.dispose([x0, noise, v, xt]);
  });

  it('rejects mismatched shapes and out-of-range timesteps', () => {
    const a = tf.zeros([2, 2]);
    const b = tf.zeros([2, 3]);
    expect(() => sch.addNoise(a, b, 1)).toThrow(/shapes \[2,2\] and \[2,3\] differ/);
    expect(() => sch.addNoise(a, a, 50)).toThrow(/timestep 50 outside \[0, 49\]/);
    expect(() => sch.addNoise(a, a, [1, 2, 3])).toThrow(/3 timesteps for a batch of 2/);
    tf.dispose([a, b]);
  });
});

describe('posterior q(x_{t-1} | x_t, x_0) (Ho et al. eq. 6-7)', () => {
  it('has the closed-form coefficients', () => {
    const t = 20;
    const p = sch.posterior(t);
    const beta = sch.betas[t];
    expect(p.coefX0).toBeCloseTo((Math.sqrt(abar(t - 1)) * beta) / (1 - abar(t)), 10);
    expect(p.coefXt).toBeCloseTo((Math.sqrt(1 - beta) * (1 - abar(t - 1))) / (1 - abar(t)), 7);
    expect(p.variance).toBeCloseTo(((1 - abar(t - 1)) / (1 - abar(t))) * beta, 10);
  });

  it('at t = 0 the mean is x_0 and the variance 0 (abar_{-1} = 1)', () => {
    const p = sch.posterior(0);
    expect(p.coefX0).toBe(1);
    expect(p.coefXt).toBe(0);
    expect(p.variance).toBe(0);
    expect(() => sch.posterior(50)).toThrow(RangeError);
  });

  it('posteriorMean equals 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps) for x_t = q-sample (Ho et al. eq. 10)', () => {
    const t = 30;
    const x0 = tf.tensor2d([0.3, -1.2, 0.8, 0.1], [2, 2]);
    const eps = tf.tensor2d([1.1, 0.4, -0.7, -2], [2, 2]);
    const xt = sch.addNoise(x0, eps, t);
    const before = tf.memory().numTensors;
    const mean = sch.posteriorMean(x0, xt, t);
    expect(tf.memory().numTensors).toBe(before + 1);
    const xtv = xt.dataSync();
    const ev = eps.dataSync();
    const beta = sch.betas[t];
    const expected = Array.from(xtv, (x, i) => (x - (beta / Math.sqrt(1 - abar(t))) * ev[i]) / Math.sqrt(1 - beta));
    expectClose(mean.dataSync(), expected, 2e-5);
    tf.dispose([x0, eps, xt, mean]);
  });
});
