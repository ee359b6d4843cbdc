import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { EnergyDistance } from './energy.js';
import { RbfMmd } from './mmd.js';
import { floorAndCeiling, metricReport } from './report.js';
import { SlicedW2 } from './sliced-w2.js';

/** A ring of radius 3 with a little noise: far from N(0, I). */
function ring(n: number, rng: Rng): tf.Tensor2D {
  const v = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = rng.uniformRange(0, 2 * Math.PI);
    v[2 * i] = 3 * Math.cos(a) + 0.05 * rng.normal();
    v[2 * i + 1] = 3 * Math.sin(a) + 0.05 * rng.normal();
  }
  return tf.tensor2d(v, [n, 2]);
}

describe('floorAndCeiling', () => {
  it('puts two data samples far below noise against the data, deterministically', () => {
    const rng = new Rng(1);
    const a = ring(400, rng);
    const b = ring(400, rng);
    const m = new SlicedW2({ projections: 64 });
    const before = tf.memory().numTensors;
    const r = floorAndCeiling(m, a, b, new Rng(7));
    expect(tf.memory().numTensors).toBe(before);
    expect(r.floor).toBeGreaterThan(0);
    expect(r.ceiling).toBeGreaterThan(5 * r.floor);
    expect(floorAndCeiling(m, a, b, new Rng(7))).toEqual(r);
    tf.dispose([a, b]);
  });
});

describe('metricReport', () => {
  it('reports value, floor, ceiling and ratio per metric as plain JSON', () => {
    const rng = new Rng(2);
    const ref = ring(300, rng);
    const refB = ring(300, rng);
    const gen = tf.tidy(() => tf.mul(ring(300, rng), 1.5) as tf.Tensor2D);
    const metrics = [new SlicedW2({ projections: 64 }), new RbfMmd({ maxPoints: 0 }), new EnergyDistance()];
    const before = tf.memory().numTensors;
    const rep = metricReport(gen, ref, refB, metrics, new Rng(5));
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(rep)).toEqual(['sliced-w2', 'mmd', 'energy']);
    expect(JSON.parse(JSON.stringify(rep))).toEqual(rep);
    for (const e of Object.values(rep)) {
      expect(e.value).toBeGreaterThan(e.floor);
      expect(e.ceiling).toBeGreaterThan(e.value);
    }
    const sw = rep['sliced-w2'];
    expect(sw.ratioToFloor).toBeCloseTo(sw.value / sw.floor, 12);
    expect(sw.ratioToFloor!).toBeGreaterThan(2);
    // Same rng state, same report.
    expect(metricReport(gen, ref, refB, metrics, new Rng(5))).toEqual(rep);
    tf.dispose([ref, refB, gen]);
  });

  it('uses the same directions for value and floor (common random numbers)', () => {
    const rng = new Rng(3);
    const ref = ring(200, rng);
    const refB = ring(200, rng);
    const rep = metricReport(refB, ref, refB, [new SlicedW2({ projections: 8 })], new Rng(0));
    // generated === referenceB: value and floor are the same computation.
    expect(rep['sliced-w2'].value).toBe(rep['sliced-w2'].floor);
    expect(rep['sliced-w2'].ratioToFloor).toBe(1);
    tf.dispose([ref, refB]);
  });

  it('gives ratioToFloor null for a non-positive floor, keys records by name, refuses duplicate ids', () => {
    const x = tf.tensor2d([0, 0, 1, 1, 2, 0], [3, 2]);
    const rep = metricReport(x, x, x, { a: new SlicedW2(), b: new SlicedW2({ projections: 4 }) });
    expect(Object.keys(rep)).toEqual(['a', 'b']);
    expect(rep.a.floor).toBe(0);
    expect(rep.a.ratioToFloor).toBeNull();
    expect(() => metricReport(x, x, x, [new SlicedW2(), new SlicedW2()])).toThrow(ConfigError);
    expect(() => metricReport(x, x, x, [new SlicedW2(), new SlicedW2()])).toThrow(/'sliced-w2' is listed twice/);
    x.dispose();
  });
});
