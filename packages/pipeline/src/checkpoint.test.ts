import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NumericalError } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_DIR, listCheckpoints, readCheckpoint, readLatestCheckpoint, writeCheckpoint } from './checkpoint.js';
import { createApp } from './compose.js';
import { loadConfigObject } from './config.js';
import { runTrain } from './jobs/train.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'difflab-ckpt-'));

const tiny = (over: Record<string, unknown> = {}) =>
  loadConfigObject({
    extends: 'spiral-default',
    dataset: { id: 'swiss-roll', options: { noise: 0.5, scale: 0.1, size: 1000, seed: 0 } },
    model: { id: 'mlp', options: { hidden: 16, blocks: 1 } },
    timestepEmbedding: { id: 'sinusoidal', options: { dim: 8 } },
    inputEmbedding: { id: 'sinusoidal', options: { scale: 25, dim: 8 } },
    train: { steps: 40, batchSize: 32, warmupSteps: 5, logEvery: 10, progressEvery: 10 },
    ...over,
  });

const state = (step: number, n = 5) => ({
  version: 1 as const,
  step,
  rng: { s: [1, 2, 3, 4] } as never,
  optimizer: { kind: 'adamw' as const, step, m: Array.from({ length: n }, (_, i) => i / 3), v: Array.from({ length: n }, (_, i) => 1 / (i + 7)) },
  ema: { step, shadow: Array.from({ length: n }, (_, i) => -i / 9) },
  lossHistory: [0.5, 0.25],
});
const f32 = (a: number[]) => Array.from(Float32Array.from(a));
const weights = { modelJson: { weightsManifest: [{ weights: [{ name: 'w', shape: [2], dtype: 'float32' }] }] }, weightsBin: new Uint8Array(new Float32Array([1.5, -2]).buffer) };

describe('checkpoints (atomic, verified)', () => {
  it('round-trips the trainer state exactly (float32) and keeps the newest two', () => {
    const run = tmp();
    for (const step of [10, 20, 30]) writeCheckpoint(run, { step, ...weights, state: state(step) });
    expect(listCheckpoints(run)).toEqual([20, 30]);
    const c = readLatestCheckpoint(run)!;
    expect(c.step).toBe(30);
    expect(c.dir).toBe(join(run, CHECKPOINT_DIR, 'step-000030'));
    expect(c.state.optimizer.m).toEqual(f32(state(30).optimizer.m));
    expect(c.state.optimizer.v).toEqual(f32(state(30).optimizer.v));
    expect(c.state.ema!.shadow).toEqual(f32(state(30).ema.shadow));
    expect(c.state.lossHistory).toEqual([0.5, 0.25]);
    expect(Array.from(new Float32Array(c.weightsBin.slice().buffer))).toEqual([1.5, -2]);
    const manifest = JSON.parse(readFileSync(join(c.dir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files).sort()).toEqual(['model.json', 'state.bin', 'state.json', 'weights.bin']);
    expect(manifest.files['weights.bin']).toEqual({ bytes: 8, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // no temporary directories are left behind
    expect(readdirSync(join(run, CHECKPOINT_DIR)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('names the corrupt file: a flipped byte, a truncated file, a missing file', () => {
    const run = tmp();
    const dir = writeCheckpoint(run, { step: 5, ...weights, state: state(5) });
    const bin = join(dir, 'weights.bin');
    const good = readFileSync(bin);
    const flipped = Buffer.from(good);
    flipped[3] ^= 0x10;
    writeFileSync(bin, flipped);
    expect(() => readCheckpoint(dir)).toThrow(`${bin}: SHA-256 differs from the manifest: the file is corrupt`);
    writeFileSync(bin, good);
    truncateSync(join(dir, 'state.bin'), 7);
    expect(() => readCheckpoint(dir)).toThrow(`${join(dir, 'state.bin')}: is 7 bytes, the manifest says 60: corrupt or truncated`);
    rmSync(join(dir, 'state.bin'));
    expect(() => readCheckpoint(dir)).toThrow(`${join(dir, 'state.bin')}: missing from the checkpoint`);
    writeFileSync(join(dir, 'manifest.json'), '{"format":');
    expect(() => readCheckpoint(dir)).toThrow(/manifest\.json: not valid JSON/);
  });

  it('ignores directories without a manifest (an interrupted write) and temporary ones', () => {
    const run = tmp();
    writeCheckpoint(run, { step: 10, ...weights, state: state(10) });
    mkdirSync(join(run, CHECKPOINT_DIR, 'step-000020'));
    writeFileSync(join(run, CHECKPOINT_DIR, 'step-000020', 'weights.bin'), 'half');
    mkdirSync(join(run, CHECKPOINT_DIR, '.step-000030.123.tmp'));
    expect(listCheckpoints(run)).toEqual([10]);
    expect(readLatestCheckpoint(run)!.step).toBe(10);
  });

  it('a run resumed from its step-20 checkpoint ends bit-identical to the uninterrupted run (wasm)', async () => {
    const app = createApp();
    const full = tmp();
    const before = tf.memory().numTensors;
    await runTrain({ app, config: tiny(), outDir: full, checkpointEvery: 20 });
    expect(listCheckpoints(full)).toEqual([20]);
    // The state at step 20 as the interrupted run left it: the run directory without what came after.
    const resumed = tmp();
    cpSync(join(full, CHECKPOINT_DIR), join(resumed, CHECKPOINT_DIR), { recursive: true });
    cpSync(join(full, 'config.json'), join(resumed, 'config.json'));
    const r = await runTrain({ app, resume: resumed, checkpointEvery: 20 });
    expect(r.losses).toHaveLength(40);
    expect(tf.memory().numTensors).toBe(before);
    for (const f of ['raw/weights.bin', 'weights.bin']) expect(readFileSync(join(resumed, f)).equals(readFileSync(join(full, f))), f).toBe(true);
    expect(JSON.parse(readFileSync(join(resumed, 'loss.json'), 'utf8')).loss).toEqual(JSON.parse(readFileSync(join(full, 'loss.json'), 'utf8')).loss);
  });

  it('resume errors are one line: no checkpoint, a step count below the checkpoint', async () => {
    const app = createApp();
    const run = tmp();
    await runTrain({ app, config: tiny({ train: { steps: 10, batchSize: 16 } }), outDir: run, checkpointEvery: 0 });
    await expect(runTrain({ app, resume: run })).rejects.toThrow(`--resume: '${run}' has no checkpoint to resume from; train with --checkpoint-every N to write them`);
    await expect(runTrain({ app, resume: join(run, 'nope') })).rejects.toThrow(/^--resume: '.*nope' does not exist/);
    const run2 = tmp();
    await runTrain({ app, config: tiny({ train: { steps: 20, batchSize: 16 } }), outDir: run2, checkpointEvery: 10 });
    await expect(runTrain({ app, resume: run2, steps: 5 })).rejects.toThrow('--steps: the checkpoint is at step 10, past the 5 steps asked for; give --steps >= 10');
  });

  it('a NaN loss stops training naming the step, keeps the last good checkpoint and suggests a lower learning rate', async () => {
    const app = createApp();
    const run = tmp();
    // Adam at lr 1e3 without clipping overflows float32 within a few steps (step 5 here)
    const cfg = tiny({ train: { steps: 400, batchSize: 32, lr: 1e3, gradClip: 0, warmupSteps: 0, logEvery: 5, progressEvery: 5 } });
    const err = await runTrain({ app, config: cfg, outDir: run, checkpointEvery: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(NumericalError);
    expect(err.message).toMatch(/^training loss is (NaN|Infinity|-Infinity) at step \d+; lower the learning rate/);
    const last = listCheckpoints(run).at(-1);
    expect(last).toBeDefined();
    expect(err.message).toContain(`the last good checkpoint (step ${last}) is kept`);
    const c = readLatestCheckpoint(run)!;
    expect(c.state.lossHistory.every(Number.isFinite)).toBe(true);
    expect(existsSync(join(run, 'loss.png'))).toBe(false);
  });
});
