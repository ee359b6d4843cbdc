import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from './compose.js';
import { loadConfigObject } from './config.js';
import { runSample } from './jobs/sample.js';
import { runTrain } from './jobs/train.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'difflab-det-'));
const config = loadConfigObject({
  extends: 'spiral-default',
  dataset: { id: 'swiss-roll', options: { size: 1000 } },
  model: { id: 'mlp', options: { hidden: 32, blocks: 2 } },
  timestepEmbedding: { id: 'sinusoidal', options: { dim: 16 } },
  inputEmbedding: { id: 'sinusoidal', options: { scale: 25, dim: 16 } },
  train: { steps: 40, batchSize: 64, logEvery: 10, progressEvery: 10 },
});

/** Two trainings and samplings of one config and seed on `backend`: loss curves, weights, samples. */
async function twice(backend: 'wasm' | 'cpu') {
  await tf.setBackend(backend);
  const app = createApp();
  const runs = [];
  for (let k = 0; k < 2; k++) {
    const r = await runTrain({ app, config, outDir: tmp() });
    const s = await runSample({ app, runDir: r.runDir, n: 300, steps: 10, sampler: 'ddpm', maxFrames: 2 });
    runs.push({ losses: r.losses, weights: readFileSync(join(r.runDir, 'weights.bin')), samples: Array.from(s.samples) });
  }
  return runs;
}

afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('determinism: same config and seed, same bits', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`on ${backend}: bit-identical loss curves, weights and samples (DDPM, stochastic)`, async () => {
      const [a, b] = await twice(backend);
      expect(tf.getBackend()).toBe(backend);
      expect(a.losses).toEqual(b.losses);
      expect(a.weights.equals(b.weights)).toBe(true);
      expect(a.samples).toEqual(b.samples);
      expect(a.samples.every(Number.isFinite)).toBe(true);
    }, 120_000);
  }
});
