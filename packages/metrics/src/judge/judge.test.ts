import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FileFormatError, Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { ImageJudge, judgeAccuracy, prepareJudgeInput } from './judge.js';
import { JudgeNet } from './network.js';
import { judgeFromFiles, saveJudgeWeights } from './weights.js';

const TWO_HEADS = {
  name: 'toy',
  inputShape: [8, 8, 3] as [number, number, number],
  channels: [4, 8],
  strides: [2, 2] as (1 | 2)[],
  featureDim: 16,
  attributes: [
    { name: 'shape', values: ['bar', 'dot', 'ring'] },
    { name: 'tint', values: ['red', 'green'] },
  ],
};

function images(b: number, h: number, w: number, c: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(b * h * w * c, -1, 1), [b, h, w, c]);
}

describe('prepareJudgeInput', () => {
  it('centre-crops larger and pads smaller images with -1, and clips values to [-1, 1]', () => {
    const x = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 4, 4, 1],
    );
    const small = tf.tensor4d([0.5, -0.5, 2, -3], [1, 2, 2, 1]);
    const before = tf.memory().numTensors;
    const cropped = prepareJudgeInput(x, [2, 2, 1], 'toy');
    expect(Array.from(cropped.dataSync())).toEqual([1, 1, 1, 1]); // 5, 6, 9, 10 clipped to 1
    const padded = prepareJudgeInput(small, [4, 4, 1], 'toy');
    expect(Array.from(padded.dataSync())).toEqual([-1, -1, -1, -1, -1, 0.5, -0.5, -1, -1, 1, -1, -1, -1, -1, -1, -1]);
    const same = prepareJudgeInput(small, [2, 2, 1], 'toy');
    expect(same).not.toBe(small);
    tf.dispose([cropped, padded, same]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, small]);
  });

  it('rejects other ranks, channels and odd size differences with one-line ConfigErrors', () => {
    const x = tf.zeros([2, 31, 32, 1]);
    expect(() => prepareJudgeInput(x, [28, 28, 1], 'mnist')).toThrow(ConfigError);
    expect(() => prepareJudgeInput(x, [28, 28, 1], 'mnist')).toThrow('judge.mnist: image height 31 cannot be centre-cropped or padded to 28: give 28 + an even number of pixels (e.g. 28 or 32)');
    const rgb = tf.zeros([2, 28, 28, 3]);
    expect(() => prepareJudgeInput(rgb, [28, 28, 1], 'mnist')).toThrow('judge.mnist: images have 3 channel(s), the mnist judge reads 1: give [B, H, W, 1]');
    const flat = tf.zeros([2, 784]);
    expect(() => prepareJudgeInput(flat, [28, 28, 1], 'mnist')).toThrow('judge.mnist: images must be a Tensor4D [B, H, W, C], got shape [2, 784]');
    tf.dispose([x, rgb, flat]);
  });
});

describe('ImageJudge', () => {
  it('classifies: per-head softmax, class probabilities as their product, labels as the argmax combination', () => {
    const judge = new ImageJudge(new JudgeNet(TWO_HEADS, new Rng(3)), {}, 4);
    expect(judge.classes).toEqual(['bar red', 'bar green', 'dot red', 'dot green', 'ring red', 'ring green']);
    expect(judge.inputShape).toEqual([8, 8, 3]);
    const x = images(10, 8, 8, 3, 1);
    const before = tf.memory().numTensors;
    const r = judge.classify(x);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.labels).toHaveLength(10);
    expect(r.probs).toHaveLength(10 * 6);
    expect(r.attributes.map((a) => [a.name, a.probs.length])).toEqual([
      ['shape', 30],
      ['tint', 20],
    ]);
    for (let i = 0; i < 10; i++) {
      const row = Array.from(r.probs.subarray(i * 6, i * 6 + 6));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(row.indexOf(Math.max(...row))).toBe(r.labels[i]);
      const [s, t] = [r.attributes[0].labels[i], r.attributes[1].labels[i]];
      expect(r.labels[i]).toBe(s * 2 + t);
      // p(ring green) = p(ring) p(green)
      expect(r.probs[i * 6 + 5]).toBeCloseTo(r.attributes[0].probs[i * 3 + 2] * r.attributes[1].probs[i * 2 + 1], 6);
    }
    // chunks of 4 give the same numbers as one pass
    const whole = new ImageJudge(judge.net, {}, 256).classify(x);
    expect(Array.from(whole.probs)).toEqual(Array.from(r.probs));
    tf.dispose(x);
    judge.dispose();
    expect(() => judge.classify(images(1, 8, 8, 3, 0))).toThrow("judge 'toy' was disposed");
  });

  it('gives features [B, F] in chunks, equal to one pass, and the caller owns only the result', () => {
    const net = new JudgeNet(TWO_HEADS, new Rng(5));
    const chunked = new ImageJudge(net, {}, 3);
    const x = images(7, 10, 10, 3, 2); // 10x10 is centre-cropped to 8x8
    const before = tf.memory().numTensors;
    const f = chunked.features(x);
    expect(f.shape).toEqual([7, 16]);
    expect(tf.memory().numTensors).toBe(before + 1);
    const crop = tf.slice(x, [0, 1, 1, 0], [7, 8, 8, 3]) as tf.Tensor4D;
    const g = net.featuresOf(crop);
    const fa = f.dataSync();
    const ga = g.dataSync();
    for (let i = 0; i < fa.length; i++) expect(fa[i]).toBeCloseTo(ga[i], 5);
    tf.dispose([f, g, crop, x]);
    chunked.dispose();
  });

  it('judgeAccuracy scores the class and each attribute', () => {
    const judge = new ImageJudge(new JudgeNet(TWO_HEADS, new Rng(3)));
    const x = images(6, 8, 8, 3, 4);
    const { labels, attributes } = judge.classify(x);
    // flip the tint of the first two, the shape of the third
    const truth = labels.map((l, i) => (i < 2 ? l ^ 1 : i === 2 ? ((Math.floor(l / 2) + 1) % 3) * 2 + (l % 2) : l));
    const acc = judgeAccuracy(judge, x, truth);
    expect(acc.accuracy).toBeCloseTo(3 / 6, 12);
    expect(acc.attributes).toEqual({ shape: 5 / 6, tint: 4 / 6 });
    expect(acc.count).toBe(6);
    expect(attributes[0].labels).toHaveLength(6);
    expect(() => judgeAccuracy(judge, x, [0])).toThrow('judge.toy: got 6 images but 1 labels; give one label per image');
    expect(() => judgeAccuracy(judge, x, [0, 0, 0, 0, 0, 6])).toThrow('judge.toy: labels[5] is 6; labels must be class indices 0..5');
    tf.dispose(x);
    judge.dispose();
  });
});

describe('judge weights (tfjs model.json + weights.bin)', () => {
  it('round-trips the weights, config and metadata exactly', () => {
    const net = new JudgeNet(TWO_HEADS, new Rng(9));
    const { modelJson, weightsBin } = saveJudgeWeights(net, { testAccuracy: 0.5 });
    expect(modelJson.format).toBe('difflab-judge');
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(modelJson.weightsManifest[0].weights[0]).toEqual({ name: 'convs.0.weight', shape: [3, 3, 3, 4], dtype: 'float32' });
    expect(weightsBin.byteLength).toBe(4 * net.parameterCount());
    const before = tf.memory().numTensors;
    const judge = judgeFromFiles(JSON.stringify(modelJson), weightsBin);
    expect(tf.memory().numTensors).toBe(before + 10); // 5 layers, weight and bias each
    expect(judge.metadata).toEqual({ testAccuracy: 0.5 });
    expect(judge.net.config).toEqual(net.config);
    const a = net.namedWeights();
    const b = judge.net.namedWeights();
    for (const k of Object.keys(a)) expect(Array.from(b[k].dataSync())).toEqual(Array.from(a[k].dataSync()));
    judge.dispose();
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('names the file and the weight when a file does not fit, and frees what it built', () => {
    const net = new JudgeNet(TWO_HEADS, new Rng(9));
    const { modelJson, weightsBin } = saveJudgeWeights(net);
    net.dispose();
    const before = tf.memory().numTensors;
    expect(() => judgeFromFiles(modelJson, weightsBin.subarray(4))).toThrow(FileFormatError);
    expect(() => judgeFromFiles(modelJson, weightsBin.subarray(4), { weights: 'judges/toy/weights.bin' })).toThrow(
      `judges/toy/weights.bin: holds ${weightsBin.byteLength - 4} bytes but model.json lists ${weightsBin.byteLength} bytes of float32 weights`,
    );
    const renamed = structuredClone(modelJson);
    renamed.weightsManifest[0].weights[7].name = 'fc.offset';
    expect(() => judgeFromFiles(renamed, weightsBin)).toThrow(/^model\.json: weight 'fc\.offset' is not a weight of this judge/);
    const reshaped = structuredClone(modelJson);
    reshaped.weightsManifest[0].weights[0].shape = [3, 3, 4, 3];
    expect(() => judgeFromFiles(reshaped, weightsBin)).toThrow("model.json: weight 'convs.0.weight' has shape [3,3,4,3] in the file but [3,3,3,4] in the judge");
    expect(() => judgeFromFiles('{ nope', weightsBin)).toThrow(/^model\.json: is not valid JSON/);
    expect(() => judgeFromFiles({ format: 'difflab-denoiser' }, weightsBin)).toThrow("model.json: is not a difflab judge (format 'difflab-denoiser', class 'undefined'; expected 'difflab-judge', 'JudgeNet')");
    const badConfig = structuredClone(modelJson) as unknown as { modelTopology: { config: Record<string, unknown> } };
    badConfig.modelTopology.config.featureDim = 0;
    expect(() => judgeFromFiles(badConfig, weightsBin)).toThrow(/^model\.json: modelTopology\.config\.featureDim: /);
    expect(tf.memory().numTensors).toBe(before);
  });
});
