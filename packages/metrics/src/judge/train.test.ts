import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DifflabError, Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { ImageJudge, judgeAccuracy } from './judge.js';
import { JudgeNet } from './network.js';
import { checkTrainingKernels, trainJudge } from './train.js';

const SIDE = 12;
const CONFIG = {
  name: 'shapes',
  inputShape: [SIDE, SIDE, 3] as [number, number, number],
  channels: [8, 16],
  strides: [1, 2] as (1 | 2)[],
  featureDim: 32,
  attributes: [
    { name: 'shape', values: ['hbar', 'vbar', 'box'] },
    { name: 'tint', values: ['red', 'green'] },
  ],
};

/**
 * A synthetic labelled set: on a -1 background, a horizontal bar, a vertical bar or a 4x4 box
 * outline at a random place, drawn at +1 in the red or the green channel (and 0 in blue), with
 * N(0, 0.2^2) noise. Class = shape * 2 + tint.
 */
function shapes(n: number, seed: number): { x: tf.Tensor4D; labels: number[] } {
  const rng = new Rng(seed);
  const per = SIDE * SIDE * 3;
  const data = new Float32Array(n * per);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const shape = rng.int(3);
    const tint = rng.int(2);
    labels.push(shape * 2 + tint);
    const img = data.subarray(i * per, (i + 1) * per);
    for (let p = 0; p < SIDE * SIDE; p++) img.set([-1, -1, -1], 3 * p);
    const y0 = 2 + rng.int(SIDE - 7);
    const x0 = 2 + rng.int(SIDE - 7);
    const on = (y: number, x: number) => {
      img[3 * (y * SIDE + x) + tint] = 1;
      img[3 * (y * SIDE + x) + 2] = 0;
    };
    for (let k = 0; k < 5; k++) {
      if (shape === 0) on(y0 + 2, x0 + k);
      else if (shape === 1) on(y0 + k, x0 + 2);
      else if (k < 4) {
        on(y0, x0 + k);
        on(y0 + 3, x0 + k);
        on(y0 + k, x0);
        on(y0 + k, x0 + 3);
      }
    }
    for (let k = 0; k < per; k++) img[k] += rng.normal(0, 0.2);
  }
  return { x: tf.tensor4d(data, [n, SIDE, SIDE, 3]), labels };
}

describe('trainJudge', () => {
  it('lowers the loss and learns a synthetic two-attribute set, reproducibly, without leaking tensors', () => {
    const train = shapes(480, 1);
    const test = shapes(120, 2);
    const net = new JudgeNet(CONFIG, new Rng(0));
    const untrained = judgeAccuracy(new ImageJudge(net), test.x, test.labels);
    const before = tf.memory().numTensors;
    const epochs: number[] = [];
    const r = trainJudge(net, train.x, train.labels, { epochs: 8, batchSize: 16, learningRate: 1e-2, seed: 4 }, (e) => epochs.push(e.epoch));
    expect(tf.memory().numTensors).toBe(before);
    expect(epochs).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.stepLosses).toHaveLength(8 * 30);
    expect(r.epochLosses).toHaveLength(8);
    console.log(`synthetic judge: epoch losses ${r.epochLosses.map((l) => l.toFixed(3)).join(' ')}`);
    expect(r.stepLosses[0]).toBeGreaterThan(Math.log(3) + Math.log(2) - 0.5); // about ln 3 + ln 2 at init
    expect(r.epochLosses[7]).toBeLessThan(0.3 * r.epochLosses[0]);
    const acc = judgeAccuracy(new ImageJudge(net), test.x, test.labels);
    expect(untrained.accuracy).toBeLessThan(0.5);
    expect(acc.accuracy).toBeGreaterThan(0.9);
    expect(acc.attributes.shape).toBeGreaterThan(0.9);
    expect(acc.attributes.tint).toBeGreaterThan(0.97);

    // same seeds: the same losses, step for step
    const again = new JudgeNet(CONFIG, new Rng(0));
    const r2 = trainJudge(again, train.x, train.labels, { epochs: 8, batchSize: 16, learningRate: 1e-2, seed: 4 });
    expect(r2.stepLosses).toEqual(r.stepLosses);
    expect(Array.from(again.namedWeights()['fc.weight'].dataSync())).toEqual(Array.from(net.namedWeights()['fc.weight'].dataSync()));
    tf.dispose([train.x, test.x]);
    net.dispose();
    again.dispose();
  });

  it('rejects bad options and labels with one-line ConfigErrors', () => {
    const net = new JudgeNet(CONFIG, new Rng(0));
    const { x, labels } = shapes(4, 0);
    expect(() => trainJudge(net, x, labels, { epochs: 0 })).toThrow(ConfigError);
    expect(() => trainJudge(net, x, labels, { epochs: 0 })).toThrow(/^judge\.train\.epochs: /);
    expect(() => trainJudge(net, x, labels, { lr: 1 } as never)).toThrow("judge.train: unknown option(s) 'lr'");
    expect(() => trainJudge(net, x, labels.slice(1))).toThrow('judge.train.labels: got 4 images but 3 labels; give one label per image');
    expect(() => trainJudge(net, x, [0, 1, 6, 2])).toThrow('judge.train.labels.2: is 6; labels must be class indices 0..5');
    tf.dispose(x);
    net.dispose();
  });

  it('says which kernel is missing when the backend cannot differentiate conv2d', () => {
    const backend = tf.getBackend();
    const saved = tf.getKernel(tf.Conv2DBackpropFilter, backend);
    expect(saved).toBeDefined();
    tf.unregisterKernel(tf.Conv2DBackpropFilter, backend);
    try {
      expect(() => checkTrainingKernels()).toThrow(DifflabError);
      expect(() => checkTrainingKernels()).toThrow(
        `training a judge on the ${backend} backend needs the Conv2DBackpropFilter kernel, which it lacks: call registerWasmConvKernels() from @difflab/runtime (startBackend does) or use the cpu backend`,
      );
    } finally {
      tf.registerKernel(saved as tf.KernelConfig);
    }
    expect(() => checkTrainingKernels()).not.toThrow();
  });
});
