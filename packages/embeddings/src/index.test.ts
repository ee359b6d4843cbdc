import { createRootContainer, type NoiseSchedule, provide, registryOf, TOKENS, type TimestepEmbedding } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { plugins, register } from './index.js';

describe('@difflab/embeddings plugins', () => {
  it('registers every plugin under its kind and id', () => {
    const c = createRootContainer();
    register(c);
    const reg = registryOf(c);
    expect(reg.ids('timestep-embedding')).toEqual(['fourier', 'learnable', 'linear', 'sinusoidal', 'zero']);
    expect(reg.ids('input-embedding')).toEqual(['identity', 'sinusoidal']);
    expect(reg.ids('positional-embedding')).toEqual(['sincos-2d']);
    expect(reg.ids('conditioner')).toEqual(['class-label', 'text']);
    expect(plugins).toHaveLength(10);
    for (const info of reg.list()) expect(info.defaults).toBeTypeOf('object');
  });

  it('creates from config; learnable takes T from the schedule in the container', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    const job = root.createChildContainer();
    expect(() => reg.create('timestep-embedding', 'learnable', job)).toThrow(/not registered/);
    provide(job, TOKENS.Schedule, { numTrainTimesteps: 50 } as unknown as NoiseSchedule);
    const emb = reg.create<TimestepEmbedding & { table: { shape: number[] } }>('timestep-embedding', { id: 'learnable', options: { dim: 16 } }, job);
    expect(emb.table.shape).toEqual([50, 16]);
    emb.dispose();
    const s = reg.create<TimestepEmbedding>('timestep-embedding', { id: 'sinusoidal', options: { dim: 32 } }, job);
    expect(s.dim).toBe(32);
    expect(() => reg.create('timestep-embedding', { id: 'sinusoidal', options: { dims: 3 } }, job)).toThrow(
      "timestep-embedding.options: unknown option(s) 'dims'",
    );
    expect(() => reg.create('timestep-embedding', { id: 'fourier', options: { dim: 5 } }, job)).toThrow(/timestep-embedding\.options\.dim/);
  });
});
