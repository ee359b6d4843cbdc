import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { decodePng } from '@difflab/viz';
import { loadConfigObject } from '../config.js';
import { createApp } from '../compose.js';
import { runLabImages } from './lab-images.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'difflab-images-'));

/** mnist-text shrunk so that the test trains and samples in seconds (the images are not good). */
const tiny = () =>
  loadConfigObject({
    extends: 'mnist-text',
    dataset: { id: 'mnist', options: { split: 'test' } },
    model: { id: 'patch-transformer', options: { patch: 7, width: 16, depth: 1, heads: 2, mlpRatio: 2, imageSize: 28, imageChannels: 1 } },
    conditioner: { id: 'text', options: { dim: 16, width: 16, layers: 1, heads: 2 } },
    train: { steps: 8, batchSize: 8, warmupSteps: 0, logEvery: 4, progressEvery: 4 },
  });

describe('images lab (lab Part 2, tasks 2 and 5)', () => {
  it('trains, writes per-step grids and GIFs for every sampler, prompt grids per guidance scale, and judged metrics', async () => {
    const out = tmp();
    const before = tf.memory().numTensors;
    const res = await runLabImages({
      app: createApp(),
      dataset: 'mnist',
      config: tiny(),
      train: true,
      outDir: out,
      samplers: ['ddim', 'euler'],
      steps: 4,
      guidance: [0, 3],
      guidanceRescale: 0.7,
      prompts: ['a handwritten 7', 'the digit two', 'the happiest image in the world'],
      perClass: 2,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(res.trained).toBe(true);
    for (const f of ['steps-ddim.png', 'steps-ddim.gif', 'steps-euler.png', 'steps-euler.gif', 'prompt-00.png', 'prompts.png', 'metrics.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'steps-euler.gif')).subarray(0, 6).toString('latin1')).toBe('GIF89a');
    expect(decodePng(new Uint8Array(readFileSync(join(out, 'steps-ddim.png')))).height).toBeGreaterThan(9 * 28);
    // the question is reported: the model draws descriptions, it cannot answer questions
    expect(res.unknownWords['the happiest image in the world']).toEqual(expect.arrayContaining(['happiest', 'image', 'world']));
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    // Euler starts from noise of std sigma_max (sqrt(1 + sigma_max^2) with leading spacing), DDIM from 1
    const sig = Object.fromEntries(m.samplers.map((s: { sampler: string; initNoiseSigma: number }) => [s.sampler, s.initNoiseSigma]));
    expect(sig.ddim).toBe(1);
    expect(sig.euler).toBeGreaterThan(10);
    expect(m.promptClasses).toEqual(['7', '2', null]);
    expect(m.guidance.map((g: { guidance: number }) => g.guidance)).toEqual([0, 3]);
    expect(m.guidanceRescale).toBe(0.7);
    expect(m.guidance[1].perAttribute).toBeNull(); // one attribute (the digit): the accuracy says it all
    // judged by the shipped mnist classifier: a histogram at guidance 0, an accuracy and a Frechet distance at 3
    expect(m.judge).toBe('mnist');
    expect(Object.values(m.emptyPromptHistogram as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(m.guidance[1].conditionalAccuracy).toBeGreaterThanOrEqual(0);
    expect(m.guidance[1].conditionalAccuracy).toBeLessThanOrEqual(1);
    expect(m.guidance[1].frechet).toBeGreaterThan(0);
  });

  it('faces: the judged accuracy per attribute (expression, color, eyes, accessory)', async () => {
    const out = tmp();
    const res = await runLabImages({
      app: createApp(),
      dataset: 'faces',
      config: loadConfigObject({
        extends: 'faces-text',
        dataset: { id: 'faces', options: { split: 'test', size: 200 } },
        model: { id: 'patch-transformer', options: { patch: 8, width: 16, depth: 1, heads: 2, mlpRatio: 2, imageSize: 32, imageChannels: 3 } },
        conditioner: { id: 'text', options: { dim: 16, width: 16, layers: 1, heads: 2 } },
        train: { steps: 4, batchSize: 8, warmupSteps: 0, logEvery: 2, progressEvery: 2 },
      }),
      train: true,
      outDir: out,
      samplers: ['ddim'],
      steps: 3,
      guidance: [0, 3],
      perClass: 2,
    });
    const row = res.guidance[1];
    expect(Object.keys(row.perAttribute ?? {})).toEqual(['expression', 'color', 'eyes', 'accessory']);
    for (const v of Object.values(row.perAttribute!)) expect(v).toBeGreaterThanOrEqual(0);
    for (const v of Object.values(row.perAttribute!)) expect(v).toBeLessThanOrEqual(1);
    // an exact match needs every attribute right: never above the worst attribute
    expect(row.conditionalAccuracy!).toBeLessThanOrEqual(Math.min(...Object.values(row.perAttribute!)) + 1e-12);
  });

  it('rejects a guidance rescale outside [0, 1] before writing anything', async () => {
    const out = join(tmp(), 'never');
    await expect(runLabImages({ app: createApp(), dataset: 'mnist', outDir: out, guidanceRescale: 2 })).rejects.toThrow(/^--guidance-rescale: must be a number in \[0, 1\] .*got 2$/);
    expect(existsSync(out)).toBe(false);
  });

  it('names an unknown dataset with one line', async () => {
    await expect(runLabImages({ app: createApp(), dataset: 'cifar' as 'mnist', outDir: tmp() })).rejects.toThrow("--dataset: unknown image dataset 'cifar'; available: mnist, faces");
  });
});
