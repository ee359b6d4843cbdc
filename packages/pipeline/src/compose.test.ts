import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { PLUGIN_KINDS, registryOf, resolveRequired, TOKENS, type Metric, type Sampler } from '@difflab/core';
import { loadConfigObject } from './config.js';
import { loadConfig } from './config-file.js';
import { createApp, Job } from './compose.js';

describe('composition root', () => {
  it('resolves every token of a job to a real instance (no undefined from DI)', () => {
    const app = createApp();
    const job = new Job(app, loadConfig('spiral-default'));
    for (const tok of [TOKENS.Registry, TOKENS.Rng, TOKENS.Config, TOKENS.Schedule, TOKENS.Dataset, TOKENS.TimestepEmbedding, TOKENS.InputEmbedding]) {
      const v = resolveRequired(job.container, tok as never);
      expect(v, String(tok.description)).toBeDefined();
      expect(v).not.toBeNull();
    }
    const model = job.getModel();
    expect(resolveRequired(job.container, TOKENS.Denoiser)).toBe(model);
    expect(model.predictionType).toBe('epsilon');
    const sampler = job.createSampler();
    expect(sampler.schedule).toBe(job.schedule);
    expect(sampler.schedule.numTrainTimesteps).toBe(50);
    expect(job.metrics().map((m: Metric) => m.id)).toEqual(['sliced-w2', 'mmd', 'chamfer', 'energy']);
    job.dispose();
  });

  it('creates every registered plugin with its default options inside a job container', () => {
    const app = createApp();
    const reg = registryOf(app);
    const job = new Job(app, loadConfig('spiral-default'));
    job.getModel();
    // conditioners need a dataset with labels and captions
    const captioned = new Job(app, loadConfigObject({ extends: 'spiral-default', dataset: { id: 'mnist', options: { split: 'test' } } }));
    const before = tf.memory().numTensors;
    let count = 0;
    for (const kind of PLUGIN_KINDS) {
      for (const id of reg.ids(kind)) {
        const opts = kind === 'schedule' && id === 'explicit' ? { betas: [0.1, 0.2, 0.3] } : {};
        const container = kind === 'conditioner' ? captioned.container : job.container;
        const inst = reg.create<Record<string, unknown>>(kind, { id, options: opts }, container, kind);
        expect(inst, `${kind}/${id}`).toBeTruthy();
        for (const [k, v] of Object.entries(inst)) expect(v, `${kind}/${id}.${k}`).not.toBeUndefined();
        (inst as { dispose?: () => void }).dispose?.();
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(25);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    job.dispose();
    captioned.dispose();
  });

  it('swapping one line of config swaps the plugin', () => {
    const app = createApp();
    const job = new Job(app, { ...loadConfig('spiral-cosine') });
    expect(job.schedule.id).toBe('cosine');
    expect(job.schedule.numTrainTimesteps).toBe(40);
    const ddim = job.createSampler({ id: 'ddim', options: { numInferenceSteps: 10 } }) as Sampler;
    ddim.setTimesteps(10);
    expect(ddim.timesteps.length).toBe(10);
    expect(ddim.toDiffusersConfig()._class_name).toBe('DDIMScheduler');
    job.dispose();
  });
});
