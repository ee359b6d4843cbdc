import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, createRootContainer, type Metric, Rng, registryOf } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { plugins, register } from './index.js';

describe('register', () => {
  it('adds the four metric plugins with their defaults', () => {
    const c = createRootContainer();
    register(c);
    const reg = registryOf(c);
    expect(reg.ids('metric')).toEqual(['chamfer', 'energy', 'mmd', 'sliced-w2']);
    expect(plugins.every((p) => p.kind === 'metric')).toBe(true);
    const info = Object.fromEntries(reg.list('metric').map((i) => [i.id, i.defaults]));
    expect(info['sliced-w2']).toEqual({ projections: 256, seed: 0 });
    expect(info.mmd).toEqual({ sigmas: [0.05, 0.1, 0.2, 0.5, 1], maxPoints: 2000, chunkSize: 1024, seed: 0 });
    expect(info.chamfer).toEqual({ squared: true, maxPoints: 2000, chunkSize: 1024, seed: 0 });
    expect(info.energy).toEqual({ unbiased: false, maxPoints: 2000, chunkSize: 1024, seed: 0 });
  });

  it('creates metrics from config references and reports bad options by path', () => {
    const c = createRootContainer();
    register(c);
    const reg = registryOf(c);
    const m = reg.create<Metric>('metric', { id: 'sliced-w2', options: { projections: 8 } }, c, 'metrics.0');
    expect(m.id).toBe('sliced-w2');
    const x = tf.tensor2d([0, 0, 1, 0, 0, 1], [3, 2]);
    expect(m.compute(x, x)).toBe(0);
    x.dispose();
    expect(() => reg.create('metric', { id: 'mmd', options: { sigma: 1 } }, c, 'metrics.1')).toThrow(ConfigError);
    expect(() => reg.create('metric', { id: 'mmd', options: { sigma: 1 } }, c, 'metrics.1')).toThrow(/metrics\.1\.options: unknown option\(s\) 'sigma'/);
    expect(() => reg.create('metric', 'wasserstein', c, 'metrics.2')).toThrow(/unknown metric 'wasserstein'; available: chamfer, energy, mmd, sliced-w2/);
  });

  it('runs every metric with defaults at 10,000 points per set', () => {
    const c = createRootContainer();
    register(c);
    const reg = registryOf(c);
    const rng = new Rng(1);
    const n = 10_000;
    const a = tf.tensor2d(rng.normalArray(2 * n), [n, 2]);
    const g = tf.tensor2d(rng.normalArray(2 * n, 0.5), [n, 2]);
    const before = tf.memory().numTensors;
    const times: string[] = [];
    for (const id of reg.ids('metric')) {
      const m = reg.create<Metric>('metric', id, c);
      const t0 = performance.now();
      const v = m.compute(g, a, rng);
      times.push(`${id} ${v.toPrecision(4)} (${(performance.now() - t0).toFixed(0)} ms)`);
      expect(Number.isFinite(v), id).toBe(true);
      expect(v, id).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors).toBe(before);
    console.log(`n = ${n}: ${times.join(', ')}`);
    tf.dispose([a, g]);
  });
});
