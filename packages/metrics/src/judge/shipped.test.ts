/**
 * The judges shipped in packages/metrics/judges, measured on the test splits of the datasets.
 * @difflab/datasets is loaded by a dynamic import of a computed specifier: this package does not
 * depend on it (not even for types), vitest resolves it to the sources.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FileFormatError } from '@difflab/core';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classHistogram } from './conditional.js';
import { frechetDistance } from './frechet.js';
import { type Judge, judgeAccuracy } from './judge.js';
import { judgeFileUrl, loadJudge, readJudgeFile, setJudgeFileReader } from './load.js';

interface LabelledImages {
  x: tf.Tensor4D;
  labels: number[];
}
interface DatasetsModule {
  MnistDataset: new (o: { split: 'train' | 'test'; pad?: 0 | 2 }) => { all(): LabelledImages };
  FacesDataset: new (o: { split: 'train' | 'test'; size: number }) => { size: number; classes: readonly string[]; image(i: number): Float32Array; label(i: number): number };
}

const DATASETS = '@difflab/datasets';
const datasets = async () => (await import(/* @vite-ignore */ DATASETS)) as DatasetsModule;

describe('loadJudge', () => {
  it('rejects unknown names and names a missing file', () => {
    expect(() => loadJudge('cifar' as never)).toThrow(ConfigError);
    expect(() => loadJudge('cifar' as never)).toThrow("judge: unknown judge 'cifar'; available: mnist, faces");
    const missing = fileURLToPath(judgeFileUrl('nobody', 'model.json'));
    expect(missing.endsWith('packages/metrics/judges/nobody/model.json')).toBe(true);
    expect(() => readJudgeFile('nobody', 'model.json')).toThrow(FileFormatError);
    expect(() => readJudgeFile('nobody', 'model.json')).toThrow(`${missing}: is missing: the 'nobody' judge's weights are not installed`);
  });

  it('reads through a replaceable reader (the browser hook) and names the file in format errors', () => {
    const previous = setJudgeFileReader((_name, file) => (file === 'model.json' ? new TextEncoder().encode('{}') : new Uint8Array(0)));
    try {
      expect(() => loadJudge('mnist')).toThrow("judges/mnist/model.json: is not a difflab judge (format 'undefined', class 'undefined'; expected 'difflab-judge', 'JudgeNet')");
    } finally {
      setJudgeFileReader(previous);
    }
  });

  it('ships each judge in under 2 MB', () => {
    for (const name of ['mnist', 'faces']) {
      const bytes = statSync(judgeFileUrl(name, 'weights.bin')).size + statSync(judgeFileUrl(name, 'model.json')).size;
      expect(bytes, name).toBeLessThan(2 * 1024 * 1024);
    }
  });
});

describe('the shipped mnist judge', () => {
  let judge: Judge;
  let test: LabelledImages;
  beforeAll(async () => {
    const { MnistDataset } = await datasets();
    judge = loadJudge('mnist');
    test = new MnistDataset({ split: 'test' }).all();
  });
  afterAll(() => {
    judge?.dispose();
    tf.dispose(test?.x);
  });

  it('classifies >= 97% of the 2000 test digits right, at 28x28 and padded to 32x32, as its metadata says', async () => {
    expect(judge.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(judge.inputShape).toEqual([28, 28, 1]);
    const before = tf.memory().numTensors;
    const acc = judgeAccuracy(judge, test.x, test.labels);
    expect(test.labels).toHaveLength(2000);
    expect(acc.accuracy).toBeGreaterThanOrEqual(0.97);
    // as measured when it was trained (98.25%); a kernel change may flip a borderline digit or two
    const recorded = (judge as unknown as { metadata: { testAccuracy: number } }).metadata.testAccuracy;
    expect(Math.abs(acc.accuracy - recorded)).toBeLessThanOrEqual(3 / 2000);
    const { MnistDataset } = await datasets();
    const padded = new MnistDataset({ split: 'test', pad: 2 }).all();
    const acc32 = judgeAccuracy(judge, padded.x, padded.labels);
    expect(acc32.accuracy).toBe(acc.accuracy); // the 2-pixel border is background: the crop is exact
    tf.dispose(padded.x);
    expect(tf.memory().numTensors).toBe(before);
    console.log(`mnist judge: test accuracy ${(100 * acc.accuracy).toFixed(2)}%`);
  });

  it('gives Fréchet distances near the floor for real digits and far above it for wrong ones', () => {
    const before = tf.memory().numTensors;
    const half = 1000;
    const a = tf.slice(test.x, [0, 0, 0, 0], [half, -1, -1, -1]) as tf.Tensor4D;
    const b = tf.slice(test.x, [half, 0, 0, 0], [half, -1, -1, -1]) as tf.Tensor4D;
    const fa = judge.features(a);
    const fb = judge.features(b);
    expect(fa.shape).toEqual([half, 128]);
    const floor = frechetDistance(fa, fb);
    // "generated" sets that are wrong: blurred digits, digits of one class only, noise
    const blurred = tf.tidy(() => tf.avgPool(a, 3, 1, 'same') as tf.Tensor4D);
    const ones = tf.tidy(() => {
      const idx = test.labels.map((l, i) => (l === 1 ? i : -1)).filter((i) => i >= 0);
      return tf.gather(test.x, idx) as tf.Tensor4D;
    });
    const noise = tf.randomUniform([half, 28, 28, 1], -1, 1, 'float32', 5) as tf.Tensor4D;
    const fBlur = judge.features(blurred);
    const fOnes = judge.features(ones);
    const fNoise = judge.features(noise);
    const blur = frechetDistance(fBlur, fb);
    const single = frechetDistance(fOnes, fb);
    const far = frechetDistance(fNoise, fb);
    console.log(`mnist judge FD: floor ${floor.toFixed(2)}, blurred ${blur.toFixed(2)}, only 1s ${single.toFixed(2)}, noise ${far.toFixed(2)}`);
    expect(blur).toBeGreaterThan(5 * floor);
    expect(single).toBeGreaterThan(30 * floor);
    expect(far).toBeGreaterThan(100 * floor);
    const hist = classHistogram(judge.classify(ones).labels, 10);
    expect(hist[1]).toBeGreaterThan(0.97);
    tf.dispose([a, b, fa, fb, blurred, ones, noise, fBlur, fOnes, fNoise]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the shipped faces judge', () => {
  it('uses the faces dataset classes and gets every attribute of the test faces right', async () => {
    const { FacesDataset } = await datasets();
    const ds = new FacesDataset({ split: 'test', size: 1200 });
    const judge = loadJudge('faces');
    expect(judge.classes).toEqual(ds.classes);
    expect(judge.attributes.map((a) => a.name)).toEqual(['expression', 'color', 'eyes', 'accessory']);
    const per = 32 * 32 * 3;
    const data = new Float32Array(ds.size * per);
    const labels: number[] = [];
    for (let i = 0; i < ds.size; i++) {
      data.set(ds.image(i), i * per);
      labels.push(ds.label(i));
    }
    const x = tf.tensor4d(data, [ds.size, 32, 32, 3]);
    const before = tf.memory().numTensors;
    const acc = judgeAccuracy(judge, x, labels);
    expect(tf.memory().numTensors).toBe(before);
    console.log(`faces judge on ${ds.size} test faces: class ${(100 * acc.accuracy).toFixed(2)}%, ${JSON.stringify(acc.attributes)}`);
    // measured when trained (tools/judges, 2400 test faces): 100% on every attribute
    for (const a of ['expression', 'color', 'eyes', 'accessory']) expect(acc.attributes[a], a).toBeGreaterThanOrEqual(0.99);
    expect(acc.accuracy).toBeGreaterThanOrEqual(0.98);
    const first = tf.slice(x, [0, 0, 0, 0], [8, -1, -1, -1]) as tf.Tensor4D;
    const f = judge.features(first);
    expect(f.shape).toEqual([8, 128]);
    tf.dispose([f, first]);
    tf.dispose(x);
    judge.dispose();
  });
});
