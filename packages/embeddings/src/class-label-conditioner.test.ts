import { ConfigError, type Conditioner, createRootContainer, type DataBatch, type Dataset, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ClassLabelConditioner } from './class-label-conditioner.js';
import { register } from './index.js';

const CLASSES = ['circle', 'square', 'triangle'];
const CAPTIONS = [
  ['a circle', 'a round red shape'],
  ['a square', 'a blue box with four corners'],
  ['a triangle', 'a green shape with three corners'],
];

class FakeCaptionedDataset implements Dataset {
  readonly id = 'shapes';
  readonly sampleShape = [2];
  readonly size = 30;
  readonly classes = CLASSES;
  readonly vocabulary = [...new Set(CAPTIONS.flat().flatMap((c) => c.split(' ')))].sort();
  captionsOfClass(k: number): readonly string[] {
    return CAPTIONS[k];
  }
  sample(n: number, rng: Rng): DataBatch {
    const labels = Array.from({ length: n }, () => rng.int(3));
    return { x: tf.zeros([n, 2]), labels, captions: labels.map((k) => CAPTIONS[k][rng.int(2)]) };
  }
}

/** Digits: class names only, no captions. */
const DIGITS = { id: 'digits', classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };

const rowsOf = (t: tf.Tensor) => t.arraySync() as number[][];
const isZero = (r: number[]) => r.every((v) => v === 0);

describe('class-label conditioner', () => {
  it('is a [classes, dim] table, N(0, 1) from its seed', () => {
    const a = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 64, seed: 2 });
    const b = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 64, seed: 2 });
    const c = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 64, seed: 3 });
    expect(a.id).toBe('class-label');
    expect(a.dim).toBe(64);
    expect(a.table.shape).toEqual([3, 64]);
    expect(a.trainableVariables).toEqual([a.table]);
    expect(a.namedWeights()).toEqual({ table: a.table });
    expect(a.table.trainable).toBe(true);
    expect(Array.from(a.table.dataSync())).toEqual(Array.from(b.table.dataSync()));
    expect(Array.from(a.table.dataSync())).not.toEqual(Array.from(c.table.dataSync()));
    expect(Array.from(a.table.dataSync())).toEqual(Array.from(new Rng(2).normalArray(3 * 64)));
    for (const m of [a, b, c]) m.dispose();
  });

  it('encodeBatch gives the labels rows, zeros for dropped rows', () => {
    const m = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 8 });
    const table = rowsOf(m.table);
    const x = tf.zeros([4, 2]);
    const e = m.encodeBatch({ x, labels: [2, 0, 2, 1] }, [false, false, true, false]);
    expect(e.shape).toEqual([4, 8]);
    const r = rowsOf(e);
    expect(r[0]).toEqual(table[2]);
    expect(r[1]).toEqual(table[0]);
    expect(isZero(r[2])).toBe(true);
    expect(r[3]).toEqual(table[1]);
    const nd = rowsOf(m.encodeBatch({ x, labels: [2, 0, 2, 1] }));
    expect(nd[2]).toEqual(table[2]);
    expect(() => m.encodeBatch({ x, captions: ['a circle'] })).toThrow(/'class-label' conditioner needs labels/);
    expect(() => m.encodeBatch({ x, labels: [0, 3] })).toThrow('class-label conditioner: label 3 is not a class index 0..2');
    expect(() => m.encodeBatch({ x, labels: [0, 1] }, [false])).toThrow('encodeBatch: drop has 1 entries for 2 labels');
    tf.dispose([x, e]);
    m.dispose();
  });

  it('maps prompts to classes by name or by caption, normalised; the empty prompt is zeros', () => {
    const m = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 8 });
    const table = rowsOf(m.table);
    expect(m.classOf('square')).toBe(1);
    expect(m.classOf('  A Green shape, with THREE corners! ')).toBe(2);
    expect(m.classOf('a round red shape')).toBe(0);
    expect(m.classOf('')).toBeNull();
    expect(m.classOf(' ... ')).toBeNull();
    const e = rowsOf(m.encodePrompts(['', 'a blue box with four corners', 'Triangle.', '']));
    expect(isZero(e[0])).toBe(true);
    expect(isZero(e[3])).toBe(true);
    expect(e[1]).toEqual(table[1]);
    expect(e[2]).toEqual(table[2]);
    m.dispose();
  });

  it('refuses a prompt that names no class, listing what is allowed', () => {
    const m = new ClassLabelConditioner(new FakeCaptionedDataset());
    let err: unknown;
    try {
      m.encodePrompts(['a circle', 'the happiest image in the world']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe("prompt: 'the happiest image in the world' names no class; use one of: circle, square, triangle or a caption such as 'a circle'");
    const d = new ClassLabelConditioner(DIGITS, { dim: 4 });
    expect(d.classOf('7')).toBe(7);
    expect(() => d.classOf('seven')).toThrow("prompt: 'seven' names no class; use one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9");
    const many = new ClassLabelConditioner({ classes: Array.from({ length: 120 }, (_, k) => `face ${k}`), captionsOfClass: (k) => [`a face number ${k}`] }, { dim: 4 });
    expect(() => many.classOf('a face')).toThrow("prompt: 'a face' names no class; use one of: face 0, face 1, face 2, ... (120 classes) or a caption such as 'a face number 0'");
    expect(many.classOf('A face number 119')).toBe(119);
    for (const c of [m, d, many]) c.dispose();
  });

  it('reports words that are in no class name or caption', () => {
    const m = new ClassLabelConditioner(new FakeCaptionedDataset());
    expect(m.unknownWords('the happiest image in the world')).toEqual(['the', 'happiest', 'image', 'in', 'world']);
    expect(m.unknownWords('A round, red TRIANGLE')).toEqual([]);
    expect(m.unknownWords('')).toEqual([]);
    m.dispose();
  });

  it('its gradient is the one-hot transpose times the upstream gradient', () => {
    const m = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 3 });
    const r = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
      [10, 11, 12],
    ]);
    const x = tf.zeros([4, 2]);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.encodeBatch({ x, labels: [2, 0, 2, 0] }, [false, false, false, true]), r)) as tf.Scalar, m.trainableVariables);
    // class 0: row 1 (row 3 dropped); class 1: unused; class 2: rows 0 and 2
    expect(grads[m.table.name].arraySync()).toEqual([
      [4, 5, 6],
      [0, 0, 0],
      [8, 10, 12],
    ]);
    tf.dispose([value, r, x, ...Object.values(grads)]);
    m.dispose();
  });

  it('does not leak tensors', () => {
    const m = new ClassLabelConditioner(new FakeCaptionedDataset(), { dim: 8 });
    const ds = new FakeCaptionedDataset();
    const rng = new Rng(0);
    const run = () => {
      const batch = ds.sample(5, rng);
      m.encodeBatch(batch, [true, false, false, false, true]).dispose();
      m.encodePrompts(['', 'square']).dispose();
      const { value, grads } = tf.variableGrads(() => tf.sum(m.encodeBatch(batch)) as tf.Scalar, m.trainableVariables);
      tf.dispose([value, batch.x, ...Object.values(grads)]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
  });
});

describe('class-label conditioner plugin', () => {
  it('is created from the job container with the dataset classes', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    const job = root.createChildContainer();
    expect(() => reg.create('conditioner', 'class-label', job)).toThrow(/not registered/);
    provide(job, TOKENS.Dataset, new FakeCaptionedDataset());
    const c = reg.create<Conditioner & ClassLabelConditioner>('conditioner', { id: 'class-label', options: { dim: 16 } }, job);
    expect(c.classes).toEqual(CLASSES);
    expect(c.dim).toBe(16);
    expect(c.classOf('a square')).toBe(1);
    c.dispose();
    expect(reg.ids('conditioner')).toEqual(['class-label', 'text']);
    expect(reg.list('conditioner').find((p) => p.id === 'class-label')?.defaults).toEqual({ dim: 128, seed: 0 });
    expect(() => reg.create('conditioner', { id: 'class-label', options: { dim: 0 } }, job)).toThrow(/conditioner\.options\.dim/);
  });

  it('refuses a dataset without classes', () => {
    const root = createRootContainer();
    register(root);
    const job = root.createChildContainer();
    provide(job, TOKENS.Dataset, { id: 'swiss-roll', sampleShape: [2], size: 100, sample: () => ({ x: tf.zeros([1, 2]) }) } as Dataset);
    expect(() => registryOf(root).create('conditioner', 'class-label', job)).toThrow(
      new ConfigError('conditioner', "the 'class-label' conditioner needs a dataset with classes; 'swiss-roll' has none"),
    );
  });
});
