import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadConfigObject } from '../config.js';
import { createApp, Job } from '../compose.js';
import { runTrain } from './train.js';
import { loadRun } from './sample.js';

const tiny = (conditioner: unknown, model: Record<string, unknown> = {}) =>
  loadConfigObject({
    extends: 'spiral-t1000',
    dataset: { id: 'mnist', options: { split: 'test' } },
    model: { id: 'patch-transformer', options: { patch: 7, width: 16, depth: 1, heads: 2, mlpRatio: 2, imageSize: 28, ...model } },
    conditioner,
    metrics: [],
    train: { steps: 6, batchSize: 8, lr: 1e-3, optimizer: 'adam', ema: { decay: 0.9 }, logEvery: 3, progressEvery: 3 },
  });

describe('a conditioned run (model + conditioner)', () => {
  it('wires condDim from the conditioner, trains both, and saves and reloads the conditioner with the model', async () => {
    const app = createApp();
    const config = tiny({ id: 'class-label', options: { dim: 8 } });
    const job = new Job(app, config);
    expect(job.conditioner?.dim).toBe(8);
    expect((job.getModel() as unknown as { config: { condDim: number } }).config.condDim).toBe(8);
    const table0 = Array.from(Object.values(job.conditioner!.namedWeights())[0].dataSync());
    job.dispose();
    const tr = await runTrain({ app, config, outDir: join(mkdtempSync(join(tmpdir(), 'difflab-cond-')), 'run') });
    const manifest = JSON.parse(readFileSync(join(tr.runDir, 'model.json'), 'utf8')).weightsManifest[0].weights.map((w: { name: string }) => w.name);
    expect(manifest.filter((n: string) => n.startsWith('conditioner.'))).toHaveLength(1);
    const before = tf.memory().numTensors;
    const { job: loaded } = loadRun(app, tr.runDir);
    const table = Array.from(Object.values(loaded.conditioner!.namedWeights())[0].dataSync());
    // trained: the reloaded table is not the initial one
    expect(table).not.toEqual(table0);
    expect(table).toHaveLength(10 * 8);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a model condDim that disagrees with the conditioner', () => {
    const job = new Job(createApp(), tiny({ id: 'class-label', options: { dim: 8 } }, { condDim: 5 }));
    expect(() => job.getModel()).toThrow("model.options.condDim: is 5 but the conditioner 'class-label' gives 8-wide conditions; leave it out");
    job.dispose();
  });
});
