import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { combinationNames, decodeCombination, encodeCombination, numCombinations } from './attributes.js';
import { JudgeNet, parseJudgeConfig } from './network.js';

const FACE_LIKE = [
  { name: 'expression', values: ['happy', 'sad', 'surprised', 'angry', 'neutral'] },
  { name: 'color', values: ['yellow', 'pink', 'green', 'blue'] },
  { name: 'eyes', values: ['open', 'closed'] },
  { name: 'accessory', values: ['none', 'glasses', 'hat'] },
];

describe('attribute combinations', () => {
  it("number classes as the faces dataset does: ((expression * 4 + color) * 2 + eyes) * 3 + accessory", () => {
    expect(numCombinations(FACE_LIKE)).toBe(120);
    const names = combinationNames(FACE_LIKE);
    expect(names[0]).toBe('happy yellow open none');
    expect(names[1]).toBe('happy yellow open glasses');
    expect(names[3]).toBe('happy yellow closed none');
    expect(names[119]).toBe('neutral blue closed hat');
    const label = ((3 * 4 + 2) * 2 + 1) * 3 + 2; // angry green closed hat
    expect(names[label]).toBe('angry green closed hat');
    expect(decodeCombination(FACE_LIKE, label)).toEqual([3, 2, 1, 2]);
    for (let k = 0; k < 120; k++) expect(encodeCombination(FACE_LIKE, decodeCombination(FACE_LIKE, k))).toBe(k);
    expect(() => decodeCombination(FACE_LIKE, 120)).toThrow('class label must be an integer in 0..119, got 120');
  });
});

describe('JudgeNet', () => {
  const digits = { name: 'digits', inputShape: [28, 28, 1] as [number, number, number], attributes: [{ name: 'digit', values: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] }] };

  it('has the documented layers, torch-default init bounds and parameter count', () => {
    const net = new JudgeNet(digits, new Rng(0));
    const w = net.namedWeights();
    expect(Object.keys(w)).toEqual(['convs.0.weight', 'convs.0.bias', 'convs.1.weight', 'convs.1.bias', 'convs.2.weight', 'convs.2.bias', 'fc.weight', 'fc.bias', 'heads.digit.weight', 'heads.digit.bias']);
    expect(w['convs.0.weight'].shape).toEqual([3, 3, 1, 16]);
    expect(w['convs.1.weight'].shape).toEqual([3, 3, 16, 32]);
    expect(w['convs.2.weight'].shape).toEqual([3, 3, 32, 32]);
    expect(w['fc.weight'].shape).toEqual([7 * 7 * 32, 128]); // 28 -> 28 -> 14 -> 7
    expect(w['heads.digit.weight'].shape).toEqual([128, 10]);
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)): the max |w| is just under the bound
    const maxAbs = (v: tf.Variable) => (v.dataSync() as Float32Array).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbs(w['convs.0.weight'])).toBeLessThanOrEqual(Math.fround(1 / 3));
    expect(maxAbs(w['convs.0.weight'])).toBeGreaterThan(0.3);
    expect(maxAbs(w['convs.1.bias'])).toBeLessThanOrEqual(Math.fround(1 / 12));
    expect(maxAbs(w['fc.weight'])).toBeLessThanOrEqual(Math.fround(1 / Math.sqrt(1568))); // float32 rounding of the bound
    expect(maxAbs(w['fc.weight'])).toBeGreaterThan(0.99 / Math.sqrt(1568));
    expect(net.parameterCount()).toBe(160 + 4640 + 9248 + 1568 * 128 + 128 + 1290);
    expect(net.parameterCount() * 4).toBeLessThan(2 * 1024 * 1024);
    net.dispose();
  });

  it('gives features [B, F] (ReLU, so >= 0) and one logits tensor per head, deterministic under a seed, without leaks', () => {
    const cfg = { name: 'faces', inputShape: [32, 32, 3] as [number, number, number], featureDim: 64, attributes: FACE_LIKE };
    const a = new JudgeNet(cfg, new Rng(7));
    const b = new JudgeNet(cfg, new Rng(7));
    const c = new JudgeNet(cfg, new Rng(8));
    const x = tf.tensor4d(new Rng(1).uniformArray(3 * 32 * 32 * 3, -1, 1), [3, 32, 32, 3]);
    const before = tf.memory().numTensors;
    const out = a.forward(x);
    expect(out.features.shape).toEqual([3, 64]);
    expect(out.logits.map((l) => l.shape)).toEqual([
      [3, 5],
      [3, 4],
      [3, 2],
      [3, 3],
    ]);
    expect(Math.min(...out.features.dataSync())).toBeGreaterThanOrEqual(0);
    const fb = b.featuresOf(x);
    const fc = c.featuresOf(x);
    expect(Array.from(fb.dataSync())).toEqual(Array.from(out.features.dataSync()));
    expect(Array.from(fc.dataSync())).not.toEqual(Array.from(out.features.dataSync()));
    tf.dispose([out.features, ...out.logits, fb, fc]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => a.featuresOf(tf.zeros([1, 28, 28, 3]) as tf.Tensor4D)).toThrow('judge network expects [B, 32, 32, 3], got [1, 28, 28, 3]');
    tf.dispose([x]);
    for (const n of [a, b, c]) n.dispose();
  });

  it('rejects bad configurations with one-line ConfigErrors naming the field', () => {
    expect(() => parseJudgeConfig({ ...digits, channels: [8, 8], strides: [2] })).toThrow(ConfigError);
    expect(() => parseJudgeConfig({ ...digits, channels: [8, 8], strides: [2] })).toThrow('judge.strides: channels and strides must have the same length (one per conv)');
    expect(() => parseJudgeConfig({ ...digits, attributes: [{ name: 'digit', values: ['0'] }] })).toThrow('judge.attributes.0.values: an attribute needs at least 2 values');
    expect(() => parseJudgeConfig({ ...digits, depth: 3 })).toThrow("judge: unknown option(s) 'depth'");
    expect(() => parseJudgeConfig({ ...digits, strides: [1, 3, 2] })).toThrow(/^judge\.strides\.1: /);
  });
});
