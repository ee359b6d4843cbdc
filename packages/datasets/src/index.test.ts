import { createRootContainer, type Dataset, Rng, registryOf } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { plugins, register, SwissRollDataset } from './index.js';

describe('@difflab/datasets plugins', () => {
  it('registers every set under kind dataset', () => {
    const c = createRootContainer();
    register(c);
    const reg = registryOf(c);
    expect(reg.ids('dataset')).toEqual(['8gaussians', 'checkerboard', 'circles', 'faces', 'line', 'mnist', 'moons', 'swiss-roll']);
    expect(plugins).toHaveLength(8);
    const info = reg.list('dataset').find((p) => p.id === 'swiss-roll');
    expect(info?.defaults).toEqual({ noise: 0.5, scale: 0.1, size: 10000, seed: 0 });
  });

  it('creates from a config reference; bad options name the path', () => {
    const c = createRootContainer();
    register(c);
    const reg = registryOf(c);
    const ds = reg.create<Dataset>('dataset', { id: 'swiss-roll', options: { size: 100, seed: 2 } }, c);
    expect(ds).toBeInstanceOf(SwissRollDataset);
    expect(ds.size).toBe(100);
    const { x } = ds.sample(10, new Rng(0));
    expect(x.shape).toEqual([10, 2]);
    x.dispose();
    const gen = reg.create<Dataset>('dataset', { id: 'moons', options: { size: 0 } }, c);
    expect(gen.size).toBe(Number.POSITIVE_INFINITY);
    expect(() => reg.create('dataset', { id: 'swiss-roll', options: { noize: 1 } }, c)).toThrow("dataset.options: unknown option(s) 'noize'");
    expect(() => reg.create('dataset', { id: 'circles', options: { factor: 2 } }, c)).toThrow(/dataset\.options\.factor/);
    expect(() => reg.create('dataset', 'spiral', c)).toThrow(/unknown dataset 'spiral'; available: 8gaussians, checkerboard/);
  });
});
