import { Rng } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { PointDataset2D, type PointGenerator } from './point-dataset.js';

// A generator whose points are (k, -k) for a running counter, so rows are easy to trace.
const counting: PointGenerator = (n, rng) => {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const v = rng.int(1000);
    out[2 * i] = v;
    out[2 * i + 1] = -v;
  }
  return out;
};

describe('PointDataset2D', () => {
  it('fixed set: sample draws rows of the set with replacement, reproducibly from rng', () => {
    const ds = new PointDataset2D('count', counting, 20, 5);
    expect(ds.size).toBe(20);
    expect(ds.sampleShape).toEqual([2]);
    expect(ds.isGenerator).toBe(false);
    const all = ds.all();
    expect(all.shape).toEqual([20, 2]);
    const set = new Set(Array.from(all.dataSync()).filter((_, i) => i % 2 === 0));
    all.dispose();
    const a = ds.sample(50, new Rng(1));
    const b = ds.sample(50, new Rng(1));
    const c = ds.sample(50, new Rng(2));
    expect(a.x.shape).toEqual([50, 2]);
    expect(a.x.dtype).toBe('float32');
    const av = a.x.arraySync();
    expect(av).toEqual(b.x.arraySync());
    expect(av).not.toEqual(c.x.arraySync());
    for (const [x, y] of av) {
      expect(set.has(x)).toBe(true);
      expect(y).toBe(-x);
    }
    // 50 draws from 20 rows must repeat some
    expect(new Set(av.map((r) => r[0])).size).toBeLessThan(50);
    tf.dispose([a.x, b.x, c.x]);
  });

  it('same seed -> same fixed set; different seed -> different', () => {
    const s1 = new PointDataset2D('count', counting, 30, 1).all();
    const s1b = new PointDataset2D('count', counting, 30, 1).all();
    const s2 = new PointDataset2D('count', counting, 30, 2).all();
    expect(Array.from(s1.dataSync())).toEqual(Array.from(s1b.dataSync()));
    expect(Array.from(s1.dataSync())).not.toEqual(Array.from(s2.dataSync()));
    tf.dispose([s1, s1b, s2]);
  });

  it('size 0 or null: a generator of fresh points; all() throws', () => {
    for (const size of [0, null]) {
      const ds = new PointDataset2D('count', counting, size);
      expect(ds.size).toBe(Number.POSITIVE_INFINITY);
      expect(ds.isGenerator).toBe(true);
      expect(() => ds.all()).toThrow(/fixed set/);
      const rng = new Rng(9);
      const a = ds.sample(8, rng);
      const b = ds.sample(8, rng);
      expect(a.x.arraySync()).not.toEqual(b.x.arraySync());
      const again = ds.sample(8, new Rng(9));
      expect(again.x.arraySync()).toEqual(a.x.arraySync());
      tf.dispose([a.x, b.x, again.x]);
    }
  });

  it('validates n and size; sampling creates only the returned tensor', () => {
    const ds = new PointDataset2D('count', counting, 10);
    expect(() => ds.sample(-1, new Rng())).toThrow(/integer >= 0/);
    expect(() => ds.sample(1.5, new Rng())).toThrow(/integer >= 0/);
    expect(() => new PointDataset2D('count', counting, -3)).toThrow(/size/);
    const before = tf.memory().numTensors;
    const b = ds.sample(4, new Rng());
    expect(tf.memory().numTensors).toBe(before + 1);
    b.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
