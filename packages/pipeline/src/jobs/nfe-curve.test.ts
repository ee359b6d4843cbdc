import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { decodePng } from '@difflab/viz';
import { loadConfigObject } from '../config.js';
import { createApp } from '../compose.js';
import { runTrain } from './train.js';
import { parseStepList, runNfeCurve } from './nfe-curve.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'difflab-nfe-'));

describe('nfe-curve job', () => {
  it('samples a run with each sampler at each step count, counts model evaluations, and writes table, JSON and plot', async () => {
    const app = createApp();
    const config = loadConfigObject({
      extends: 'spiral-default',
      dataset: { id: 'swiss-roll', options: { noise: 0.5, scale: 0.1, size: 2000, seed: 0 } },
      model: { id: 'mlp', options: { hidden: 32, blocks: 1 } },
      timestepEmbedding: { id: 'sinusoidal', options: { dim: 16 } },
      inputEmbedding: { id: 'sinusoidal', options: { scale: 25, dim: 16 } },
      train: { steps: 400, batchSize: 128, lr: 3e-3, warmupSteps: 10, logEvery: 50, progressEvery: 100 },
    });
    const tr = await runTrain({ app, config, outDir: join(tmp(), 'run') });
    const before = tf.memory().numTensors;
    const out = tmp();
    const res = await runNfeCurve({ app, runDir: tr.runDir, samplers: ['ddim', 'ddpm'], steps: [5, 10, 60], n: 500, outDir: out });
    expect(tf.memory().numTensors).toBe(before);
    expect(res.rows.map((r) => `${r.sampler}:${r.steps}:${r.nfe}`)).toEqual(['ddim:5:5', 'ddim:10:10', 'ddpm:5:5', 'ddpm:10:10']);
    // 60 > T = 50: skipped with the reason; DDPM with all 50 steps added as the reference
    expect(res.skipped.map((s) => `${s.sampler}:${s.steps}`)).toEqual(['ddim:60', 'ddpm:60']);
    expect(res.skipped[0].reason).toMatch(/T = 50/);
    expect(res.reference).toMatchObject({ sampler: 'ddpm', steps: 50, nfe: 50 });
    for (const r of [...res.rows, res.reference!]) {
      expect(r.sw2.value).toBeGreaterThan(0);
      expect(r.sw2.ratioToFloor).toBeGreaterThan(0.5);
    }
    // a trained model sampled with all its steps beats 5 DDPM steps
    expect(res.reference!.sw2.value).toBeLessThan(res.rows.find((r) => r.sampler === 'ddpm' && r.steps === 5)!.sw2.value);
    const md = readFileSync(join(out, 'nfe-curve.md'), 'utf8');
    expect(md).toContain('| ddim | 10 | 10 |');
    expect(md).toContain('ddpm at 60 steps');
    const json = JSON.parse(readFileSync(join(out, 'nfe-curve.json'), 'utf8'));
    expect(json.rows).toHaveLength(4);
    expect(json.T).toBe(50);
    expect(existsSync(join(out, 'nfe-curve.png'))).toBe(true);
    expect(decodePng(new Uint8Array(readFileSync(join(out, 'nfe-curve.png')))).width).toBe(640);
  });

  it('rejects unknown samplers and bad step lists with one-line messages', async () => {
    expect(() => parseStepList('5,x')).toThrow("--steps: expects integers in [1, 100000] separated by commas (e.g. 5,10,20,50), got '5,x'");
    expect(parseStepList('20, 5,20,10')).toEqual([5, 10, 20]);
    await expect(runNfeCurve({ app: createApp(), runDir: '/nonexistent-run', samplers: ['ddim'], steps: [5] })).rejects.toThrow(/--run: '\/nonexistent-run' does not exist/);
  });
});
