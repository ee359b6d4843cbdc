import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type Conditioner, ConfigError, type DataBatch, type Dataset, type Denoiser, NumericalError, Rng } from '@difflab/core';
import { type ProgressEvent, Trainer, type TrainerInit } from './index.js';
import { FakeGaussianDataset, FakeLinearSchedule, FakeMlpDenoiser } from './testing/fakes.js';

function makeTrainer(seed: number, opts: Partial<TrainerInit> = {}): { trainer: Trainer; model: FakeMlpDenoiser } {
  const model = new FakeMlpDenoiser('epsilon', 32, 5);
  const trainer = new Trainer({
    model,
    schedule: new FakeLinearSchedule(50).asSchedule(),
    dataset: new FakeGaussianDataset(),
    rng: new Rng(seed),
    batchSize: 64,
    steps: 200,
    lr: 1e-2,
    ...opts,
  });
  return { trainer, model };
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

describe('Trainer', () => {
  it('lowers the loss on a 2-D Gaussian in 200 steps at batch 64', async () => {
    const { trainer, model } = makeTrainer(1);
    const res = await trainer.run();
    expect(res.step).toBe(200);
    expect(trainer.lossHistory).toHaveLength(200);
    const first = mean(trainer.lossHistory.slice(0, 20));
    const last = mean(trainer.lossHistory.slice(-20));
    expect(last).toBeLessThan(0.7 * first);
    trainer.dispose();
    model.dispose();
  });

  it('snrGamma weights each row by min(SNR, gamma) / SNR: a huge gamma is the plain loss, a small one lowers it, and it trains', async () => {
    const first = (opts: Partial<TrainerInit>) => {
      const { trainer, model } = makeTrainer(3, { batchSize: 32, ...opts });
      const v = trainer.step();
      trainer.dispose();
      model.dispose();
      return v;
    };
    const plain = first({});
    expect(first({ snrGamma: 1e6 })).toBe(plain);
    expect(first({ snrGamma: 0.05 })).toBeLessThan(0.9 * plain);
    const { trainer, model } = makeTrainer(1, { snrGamma: 5 });
    trainer.step();
    const before = tf.memory().numTensors;
    await trainer.run();
    expect(tf.memory().numTensors).toBe(before);
    expect(mean(trainer.lossHistory.slice(-20))).toBeLessThan(0.7 * mean(trainer.lossHistory.slice(0, 20)));
    trainer.dispose();
    model.dispose();
    expect(() => makeTrainer(1, { snrGamma: -1 })).toThrow(/snrGamma/);
  });

  it('keeps tf.memory().numTensors constant over 1,000 steps (run and step)', async () => {
    const { trainer, model } = makeTrainer(2, { batchSize: 16, steps: 1000, logEvery: 7, progressEvery: 30 });
    trainer.step();
    const before = tf.memory().numTensors;
    await trainer.run(undefined, { until: 500 });
    expect(tf.memory().numTensors).toBe(before);
    await trainer.run();
    expect(trainer.stepCount).toBe(1000);
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    model.dispose();
  });

  it('is deterministic under a seed: same seed, same loss curve; another seed, another curve', async () => {
    const curve = async (seed: number) => {
      const { trainer, model } = makeTrainer(seed, { batchSize: 16, steps: 15 });
      await trainer.run();
      const out = [...trainer.lossHistory];
      trainer.dispose();
      model.dispose();
      return out;
    };
    const a = await curve(7);
    expect(await curve(7)).toEqual(a);
    expect((await curve(8))[0]).not.toBe(a[0]);
  });

  it('run({ until }) stops at that step and a later run() goes on with the same curve as one run', async () => {
    const whole = makeTrainer(4, { batchSize: 16, steps: 12, warmupSteps: 2, decay: 'cosine' });
    await whole.trainer.run();
    const parts = makeTrainer(4, { batchSize: 16, steps: 12, warmupSteps: 2, decay: 'cosine' });
    const first = await parts.trainer.run(undefined, { until: 5 });
    expect(first.step).toBe(5);
    expect(parts.trainer.stepCount).toBe(5);
    await parts.trainer.run(undefined, { until: 50 }); // capped at steps
    expect(parts.trainer.stepCount).toBe(12);
    expect(parts.trainer.lossHistory).toEqual(whole.trainer.lossHistory);
    for (const t of [whole, parts]) {
      t.trainer.dispose();
      t.model.dispose();
    }
  });

  it('resumes from getState() + weights exactly where it left off', async () => {
    const full = makeTrainer(3, { batchSize: 16, steps: 10, warmupSteps: 3, decay: 'cosine' });
    for (let i = 0; i < 5; i++) full.trainer.step();
    const state = JSON.parse(JSON.stringify(full.trainer.getState()));
    const weights = Object.fromEntries(Object.entries(full.model.namedWeights()).map(([k, v]) => [k, Array.from(v.dataSync())]));
    await full.trainer.run();
    const resumed = makeTrainer(99, { batchSize: 16, steps: 10, warmupSteps: 3, decay: 'cosine' });
    for (const [k, v] of Object.entries(resumed.model.namedWeights())) tf.tidy(() => v.assign(tf.tensor(weights[k], v.shape)));
    resumed.trainer.setState(state);
    expect(resumed.trainer.stepCount).toBe(5);
    await resumed.trainer.run();
    expect(resumed.trainer.lossHistory).toEqual(full.trainer.lossHistory);
    expect(resumed.trainer.ema!.getState()).toEqual(full.trainer.ema!.getState());
    for (const t of [full, resumed]) {
      t.trainer.dispose();
      t.model.dispose();
    }
  });

  it('emits progress events with step, steps, window loss, rate and ETA; stops on abort', async () => {
    const { trainer, model } = makeTrainer(4, { batchSize: 8, steps: 12, progressEvery: 5, logEvery: 3 });
    const events: ProgressEvent[] = [];
    const ctl = new AbortController();
    const r1 = await trainer.run(
      (e) => {
        events.push(e);
        ctl.abort();
      },
      { signal: ctl.signal },
    );
    expect(r1).toMatchObject({ step: 5, aborted: true });
    expect(r1.losses).toHaveLength(5);
    const r2 = await trainer.run((e) => events.push(e));
    expect(r2).toMatchObject({ step: 12, aborted: false });
    expect(events.map((e) => e.step)).toEqual([5, 10, 12]);
    const h = trainer.lossHistory;
    expect(events[1].loss).toBeCloseTo(mean(h.slice(5, 10)), 6);
    expect(events[2].loss).toBeCloseTo(mean(h.slice(10, 12)), 6);
    for (const e of events) {
      expect(e.steps).toBe(12);
      expect(e.stepsPerSec).toBeGreaterThan(0);
      expect(e.etaSec).toBeCloseTo((12 - e.step) / e.stepsPerSec, 6);
      expect(e.lr).toBe(1e-2);
    }
    trainer.dispose();
    model.dispose();
  });

  it('applies the lr schedule, clipping and EMA inside the step', () => {
    const { trainer, model } = makeTrainer(5, { batchSize: 8, steps: 20, warmupSteps: 4, gradClip: 0.5, ema: { decay: 0.9, warmup: 'none' } });
    expect(trainer.learningRate).toBe(0);
    const w0 = Array.from(model.w2.dataSync());
    trainer.step();
    // lr 0 at step 0: the weights do not move (AdamW decay is lr * wd = 0 too)
    expect(Array.from(model.w2.dataSync())).toEqual(w0);
    expect(trainer.learningRate).toBeCloseTo(2.5e-3, 12);
    trainer.step();
    expect(Array.from(model.w2.dataSync())).not.toEqual(w0);
    expect(trainer.ema!.stepCount).toBe(2);
    // EMA with d = 0.9 after the first copy lies between the start and the current weights
    const live = model.w2.dataSync()[0];
    const avg = trainer.ema!.withAveragedWeights(() => model.w2.dataSync()[0]);
    expect(avg).toBeCloseTo(0.9 * w0[0] + 0.1 * live, 6);
    trainer.dispose();
    model.dispose();
  });

  it('rejects bad options with one-line ConfigErrors and a NaN loss with a NumericalError', () => {
    expect(() => makeTrainer(1, { batchSize: 0 })).toThrow(ConfigError);
    expect(() => makeTrainer(1, { batchSize: 0 })).toThrow(/^training\.batchSize: /);
    expect(() => makeTrainer(1, { optimizer: 'sgd' as 'adam' })).toThrow(/^training\.optimizer: /);
    const nanSet: Dataset = { id: 'nan', sampleShape: [2], size: 1, sample: (n: number): DataBatch => ({ x: tf.fill([n, 2], Number.NaN) }) };
    const { trainer, model } = makeTrainer(1, { dataset: nanSet, gradClip: 0 });
    expect(() => trainer.step()).toThrow(NumericalError);
    expect(() => trainer.step()).toThrow(/training loss is NaN at step 2/);
    trainer.dispose();
    model.dispose();
  });

  it('trains a conditioner with the model and gives condDropout of the rows the null condition', async () => {
    // labels 0 / 1 pick one of two Gaussians; the conditioner is a learned table, the null condition zeros
    const dataset: Dataset = {
      id: 'two-gaussians',
      sampleShape: [2],
      size: Number.POSITIVE_INFINITY,
      sample(n: number, rng: Rng): DataBatch {
        const labels = Array.from({ length: n }, () => rng.int(2));
        const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([n, 2], 0, 1, 'float32', rng.tfSeed()), 0.1), tf.tensor2d(labels.map((l) => (l ? [1, 1] : [-1, -1])))));
        return { x, labels };
      },
    };
    const table = tf.variable(tf.zeros([2, 2]), true, 'cond-table');
    const dropped: boolean[] = [];
    const conditioner: Conditioner = {
      id: 'fake-labels',
      dim: 2,
      encodeBatch: (batch, drop) => {
        dropped.push(...(drop ?? []));
        const keep = tf.tensor2d((drop ?? []).map((d) => [d ? 0 : 1]));
        return tf.mul(tf.gather(table, tf.tensor1d(batch.labels!, 'int32')), keep) as tf.Tensor2D;
      },
      encodePrompts: () => tf.zeros([1, 2]) as tf.Tensor2D,
      unknownWords: () => [],
      trainableVariables: [table],
      namedWeights: () => ({ table }),
      dispose: () => table.dispose(),
    };
    const w = tf.variable(tf.zeros([2]), true, 'w');
    const model: Denoiser = {
      predictionType: 'sample',
      sampleShape: [2],
      predict: (x, _t, cond) => tf.add(tf.mul(x, w), cond ?? tf.zerosLike(x)),
      trainableVariables: [w],
      namedWeights: () => ({ w }),
      dispose: () => w.dispose(),
    };
    const trainer = new Trainer({ model, conditioner, schedule: new FakeLinearSchedule(50).asSchedule(), dataset, rng: new Rng(3), batchSize: 64, steps: 150, lr: 5e-2, ema: false });
    await trainer.run();
    expect(trainer.conditioner).toBe(conditioner);
    // 10% of 150 x 64 rows dropped (binomial: std ~0.3%)
    expect(dropped).toHaveLength(150 * 64);
    expect(Math.abs(dropped.filter(Boolean).length / dropped.length - 0.1)).toBeLessThan(0.015);
    // the table learned the two class means (the model predicts x_0 = w x_t + table[label])
    const t = table.arraySync();
    expect(t[1][0] - t[0][0]).toBeGreaterThan(0.5);
    expect(t[1][1] - t[0][1]).toBeGreaterThan(0.5);
    trainer.dispose();
    model.dispose();
    conditioner.dispose();
  });
});
