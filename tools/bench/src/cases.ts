/**
 * The benchmark cases on the difflab side: exactly the work tools/bench/reference_torch.py does.
 * Each returns per-repeat milliseconds (per step for training, per run for sampling).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type Dataset, type Denoiser, registryOf, Rng, type Sampler } from '@difflab/core';
import { createApp, Job, loadConfig, loadConfigObject } from '@difflab/pipeline';
import { denoise } from '@difflab/samplers';
import { Trainer } from '@difflab/training';
import { randomDirections, SlicedW2 } from '@difflab/metrics';
import { SwissRollDataset } from '@difflab/datasets';

export interface CaseArgs {
  batch: number;
  iters: number;
  warmup: number;
  repeats: number;
  target: number;
  maxSteps: number;
  /** File written by the `spiral-data` case. */
  out?: string;
}

export interface CaseResult {
  ms: number[];
  [k: string]: unknown;
}

/**
 * Per-repeat milliseconds per call of `fn`. `fn` returns a tensor (a loss, a sample) or nothing;
 * a repeat ends when the last call's tensor has been read back (`await data()`), so on an
 * asynchronous backend (WebGPU) the time covers the device's work, not just its queueing, as
 * `torch.cuda.synchronize()` does on the PyTorch side. Earlier calls' tensors are disposed unread.
 */
/** Programs dispatched (WebGPU: counted by the case runner), and per timed call of the last `timed`. */
export const dispatches = { count: 0, perCall: Number.NaN };
/**
 * Host time per call spent issuing the work (the loop before the final read-back) in the last
 * `timed`: on an asynchronous backend, issue time close to the total means the host is the bound.
 */
export const issue = { msPerCall: [] as number[], cpuMsPerCall: [] as number[], gcMsPerCall: [] as number[] };


/**
 * CPU time of the calling (main) thread in ms, from Linux's /proc/thread-self/schedstat
 * (nanoseconds on the CPU), or NaN elsewhere: the host's own cost of issuing work, which neither
 * waiting nor a device sharing the CPU (SwiftShader) counts in.
 */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

async function timed(fn: () => tf.Tensor | void, warmup: number, iters: number, repeats: number): Promise<number[]> {
  const settle = async (t: tf.Tensor | void) => {
    if (t) {
      await t.data();
      t.dispose();
    }
  };
  for (let i = 0; i < warmup; i++) await settle(fn());
  const counted = dispatches.count;
  const out: number[] = [];
  issue.msPerCall = [];
  issue.cpuMsPerCall = [];
  const windows: [number, number][] = [];
  // V8's garbage collections (start, duration in ms) while timing, from the performance timeline
  const gcs: [number, number][] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.duration]);
  });
  observer.observe({ entryTypes: ['gc'] });
  for (let r = 0; r < repeats; r++) {
    const c0 = threadCpuMs();
    const t0 = performance.now();
    let last: tf.Tensor | void = undefined;
    for (let i = 0; i < iters; i++) {
      if (last) last.dispose();
      last = fn();
    }
    const t1 = performance.now();
    issue.msPerCall.push((t1 - t0) / iters);
    issue.cpuMsPerCall.push((threadCpuMs() - c0) / iters);
    windows.push([t0, t1]);
    await settle(last);
    out.push((performance.now() - t0) / iters);
  }
  dispatches.perCall = (dispatches.count - counted) / (iters * repeats);
  // GC time inside each repeat's issue (the observer reports a task later)
  await new Promise((res) => setTimeout(res, 0));
  observer.disconnect();
  issue.gcMsPerCall = windows.map(([a, b]) => gcs.filter(([s]) => s >= a && s <= b).reduce((t, [, d]) => t + d, 0) / iters);
  return out;
}

/** The spiral job of the benchmark: spiral-default (AdamW, clip 1, EMA 0.995) at a given batch. */
function spiralTrainer(batch: number) {
  const app = createApp();
  const config = loadConfig('spiral-default');
  const job = new Job(app, config);
  const model = job.getModel();
  const trainer = new Trainer({ model, schedule: job.schedule, dataset: job.dataset, rng: job.rng.fork(), ...config.train, batchSize: batch, warmupSteps: 0, decay: 'constant' });
  return { app, job, model, trainer };
}

function sampleOnce(sampler: Sampler, model: Denoiser, n: number, steps: number, seed: number): tf.Tensor {
  let last: tf.Tensor | null = null;
  for (const s of denoise({ sampler, model, shape: [n, ...model.sampleShape], rng: new Rng(seed), numSteps: steps })) {
    last?.dispose();
    last = s.prevSample.clone();
  }
  return last!;
}

/** Seed of the Rng the time-to-quality case's SlicedW2 draws its directions from (written by `spiral-data`). */
const SW2_SEED = 0;

export const CASES: Record<string, (a: CaseArgs) => Promise<CaseResult>> = {
  /**
   * Not timed: writes the spiral job's data for reference_torch.py (`--data FILE`), so PyTorch
   * trains on the same 10,000 points and measures the same sliced W2 (same reference draw, same
   * directions): the time-to-quality floor is then one number on both sides, not two samples of it.
   */
  'spiral-data': async (a) => {
    if (!a.out) throw new Error('spiral-data needs --out FILE');
    const { job } = spiralTrainer(256);
    const data = (job.dataset as unknown as { all(): tf.Tensor2D }).all();
    const ref = new SwissRollDataset({ noise: 0.5, scale: 0.1, size: 10_000, seed: 1000 }).all();
    const sw = new SlicedW2();
    const directions = randomDirections(sw.options.projections, 2, new Rng(SW2_SEED));
    const body = { data: Array.from(await data.data()), ref: Array.from(await ref.data()), directions: Array.from(directions), floor: await sw.computeAsync(ref, data, new Rng(SW2_SEED)) };
    tf.dispose([data, ref]);
    mkdirSync(dirname(a.out), { recursive: true });
    writeFileSync(`${a.out}.tmp`, JSON.stringify(body));
    renameSync(`${a.out}.tmp`, a.out);
    return { ms: [], points: body.data.length / 2, floor: body.floor };
  },
  'spiral-train': async (a) => {
    const { trainer } = spiralTrainer(a.batch);
    // The first step makes the optimizer's flat parameter vector, kept from then on (one tensor):
    // growth is counted from after it.
    trainer.stepTensor().dispose();
    const before = tf.memory().numTensors;
    const ms = await timed(() => trainer.stepTensor(), a.warmup, a.iters, a.repeats);
    return { ms, tensorGrowth: tf.memory().numTensors - before };
  },
  'spiral-sample-ddpm': async (a) => {
    const { job, model } = spiralTrainer(256);
    const sampler = job.createSampler({ id: 'ddpm', options: { clipSample: true, clipSampleRange: 2 } });
    const ms = await timed(() => sampleOnce(sampler, model, 10_000, 50, 1), 1, 1, a.repeats);
    return { ms };
  },
  'spiral-sample-ddim20': async (a) => {
    const { job, model } = spiralTrainer(256);
    const sampler = job.createSampler({ id: 'ddim', options: { clipSample: true, clipSampleRange: 2, numInferenceSteps: 20 } });
    const ms = await timed(() => sampleOnce(sampler, model, 10_000, 20, 1), 1, 1, a.repeats);
    return { ms };
  },
  'spiral-time-to-quality': async (a) => {
    const { job, model, trainer } = spiralTrainer(256);
    const sampler = job.createSampler({ id: 'ddpm', options: { clipSample: true, clipSampleRange: 2 } });
    const data = (job.dataset as unknown as { all(): tf.Tensor2D }).all();
    const refB = new SwissRollDataset({ noise: 0.5, scale: 0.1, size: 10_000, seed: 1000 }).all();
    const sw = new SlicedW2();
    const floor = await sw.computeAsync(refB, data, new Rng(SW2_SEED));
    const ema = trainer.ema;
    const t0 = performance.now();
    let trainMs = 0;
    let steps = 0;
    let ratio = Number.POSITIVE_INFINITY;
    while (steps < a.maxSteps) {
      const s0 = performance.now();
      // 500 steps, the last one read back (an asynchronous backend has then finished them all).
      for (let i = 0; i < 499; i++) trainer.stepTensor().dispose();
      const loss = trainer.stepTensor();
      await loss.data();
      loss.dispose();
      trainMs += performance.now() - s0;
      steps += 500;
      const x = ema ? ema.withAveragedWeights(() => sampleOnce(sampler, model, 10_000, 50, steps)) : sampleOnce(sampler, model, 10_000, 50, steps);
      ratio = (await sw.computeAsync(x as tf.Tensor2D, data, new Rng(SW2_SEED))) / floor;
      x.dispose();
      if (ratio <= a.target) break;
    }
    return { ms: [trainMs], seconds_total: (performance.now() - t0) / 1000, seconds_train: trainMs / 1000, steps, ratio };
  },
  'spiral-memory': async (a) => {
    // `iters` training steps (10,000 in the bench); tensors and RSS after the first 1,000 and at the end.
    const { trainer } = spiralTrainer(a.batch);
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    const t0 = performance.now();
    const steps = async (n: number) => {
      // A read-back every 100 steps, so an asynchronous backend cannot queue them all.
      for (let i = 0; i < n; i++) {
        const loss = trainer.stepTensor();
        if (i % 100 === 99 || i === n - 1) await loss.data();
        loss.dispose();
      }
    };
    await steps(1000);
    const tensors1k = tf.memory().numTensors;
    const rss1k = rss();
    await steps(a.iters - 1000);
    const rssEnd = rss();
    return { ms: [(performance.now() - t0) / a.iters], tensorGrowth: tf.memory().numTensors - tensors1k, rss_1k_mb: rss1k, rss_end_mb: rssEnd, rss_growth_mb: rssEnd - rss1k };
  },
  gemm: async (a) => {
    // Raw float32 products of the models' shapes, [m, k] @ [k, n]: the ceiling of every other case.
    const shapes = [
      [256, 384, 128],
      [3136, 128, 512],
      [3136, 512, 128],
    ];
    const rng = new Rng(0);
    const mats = shapes.map(([m, k, n]) => [tf.tensor2d(rng.normalArray(m * k), [m, k]), tf.tensor2d(rng.normalArray(k * n), [k, n])]);
    // Each call returns its last product (the others are disposed), read back at a repeat's end.
    const ms = await timed(() => tf.tidy(() => mats.map(([x, y]) => tf.matMul(x, y)).pop()!), a.warmup, a.iters, a.repeats);
    const flops = shapes.reduce((s, [m, k, n]) => s + 2 * m * k * n, 0);
    return { ms, gflops: flops / (Math.min(...ms) * 1e6) };
  },
  'gemm-variants': async (a) => {
    // The patch transformer's matmul shapes, [m, k] @ [k, n], with each operand stored plain or
    // transposed (backprop's dW = X^T dY and dX = dY W^T): µs and GFLOP/s per variant.
    const shapes = [
      [3136, 96, 384],
      [3136, 384, 96],
      [96, 3136, 384],
      [256, 49, 49],
    ];
    const rng = new Rng(0);
    const variants: Record<string, number[]> = {};
    const gflops: Record<string, number> = {};
    for (const [m, k, n] of shapes) {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
      ] as const) {
        const batch = m === 256 ? 256 : 1;
        const mm = m === 256 ? 49 : m;
        const x = tf.tensor3d(rng.normalArray(batch * mm * k), ta ? [batch, k, mm] : [batch, mm, k]);
        const y = tf.tensor3d(rng.normalArray(batch * k * n), tb ? [batch, n, k] : [batch, k, n]);
        const name = `${batch > 1 ? `${batch}x` : ''}${mm}x${k}x${n}${ta ? ' tA' : ''}${tb ? ' tB' : ''}`;
        const ms = await timed(() => tf.matMul(x, y, ta, tb), a.warmup, a.iters, a.repeats);
        variants[name] = ms.map((v) => v * 1000);
        gflops[name] = Math.round((2 * batch * mm * k * n) / (Math.min(...ms) * 1e6));
        tf.dispose([x, y]);
      }
    }
    return { ms: [0], us: variants, gflops };
  },
  overheads: async (a) => {
    // Per-op costs of the backend, in microseconds: a chain of `iters` adds on resident [32, 64]
    // tensors (one dispatch each), the same with a fresh scalar per add (dispatch + upload of a
    // CPU-side scalar), and with a fresh [32, 64] tensor per add (dispatch + 8 KB upload).
    const x0 = tf.zeros([32, 64]);
    const ones = tf.ones([32, 64]);
    const vals = new Float32Array(32 * 64).fill(1);
    const chain = (next: (x: tf.Tensor, i: number) => tf.Tensor) => () => {
      let x = x0.clone();
      for (let i = 0; i < a.iters; i++) {
        const y = tf.tidy(() => next(x, i));
        x.dispose();
        x = y;
      }
      return x;
    };
    const us = async (f: () => tf.Tensor) => (await timed(f, 1, 1, a.repeats)).map((ms) => (ms * 1000) / a.iters);
    const resident = await us(chain((x) => tf.add(x, ones)));
    const scalar = await us(chain((x, i) => tf.add(x, tf.scalar(i))));
    const tensor = await us(chain((x) => tf.add(x, tf.tensor2d(vals, [32, 64]))));
    // the same adds in one tidy (submitted every submit batch, not every op): the main thread's
    // CPU time an op (NaN off Linux), i.e. the engine's, the backend's and the dispatch's host cost
    const inTidy: number[] = [];
    for (let r = 0; r < a.repeats; r++) {
      const c0 = threadCpuMs();
      const y = tf.tidy(() => {
        let x = x0;
        for (let i = 0; i < a.iters; i++) x = tf.add(x, ones);
        return x;
      });
      inTidy.push(((threadCpuMs() - c0) * 1000) / a.iters);
      await y.data();
      y.dispose();
    }
    return { ms: resident.map((u) => u / 1000), dispatch_us: resident, dispatch_scalar_upload_us: scalar, dispatch_tensor_upload_us: tensor, op_in_tidy_cpu_us: inTidy };
  },
  'image-train-patch-transformer': (a) => imageTrain('patch-transformer', a),
  'profile-patch-transformer': (a) => profileTrain('patch-transformer', a),
  'profile-unet': (a) => profileTrain('unet', a),
  'profile-spiral': (a) => profileStep(spiralTrainer(a.batch).trainer, a),
  /** Kernel times of one DDPM sampling run (10,000 points, 50 steps) under tf.profile. */
  'profile-spiral-sample': async () => {
    const { job, model } = spiralTrainer(256);
    const sampler = job.createSampler({ id: 'ddpm', options: { clipSample: true, clipSampleRange: 2 } });
    sampleOnce(sampler, model, 10_000, 50, 1).dispose();
    const t0 = performance.now();
    const info = await tf.profile(() => sampleOnce(sampler, model, 10_000, 50, 1));
    const wall = performance.now() - t0;
    (info.result as tf.Tensor).dispose();
    return { ms: [wall], ...kernelTable(info) };
  },
  'image-train-unet': (a) => imageTrain('unet', a),
  /** Kernel times of one UNet sampling run (16 images, 50 DDIM steps) under tf.profile. */
  'profile-unet-sample': async () => {
    const { job, model } = imageJob('unet');
    const sampler = job.createSampler({ id: 'ddim', options: { numInferenceSteps: 50, clipSample: false } });
    sampleOnce(sampler, model, 16, 50, 1).dispose();
    const t0 = performance.now();
    const info = await tf.profile(() => sampleOnce(sampler, model, 16, 50, 1));
    const wall = performance.now() - t0;
    (info.result as tf.Tensor).dispose();
    return { ms: [wall], ...kernelTable(info) };
  },
  'image-sample-unet': async (a) => {
    const { job, model } = imageJob('unet');
    const sampler = job.createSampler({ id: 'ddim', options: { numInferenceSteps: 50, clipSample: false } });
    const ms = await timed(() => sampleOnce(sampler, model, 16, 50, 1), 1, 1, a.repeats);
    return { ms };
  },
};

/** Random images in [-1, 1] (the speed does not depend on the pixels). */
function randomImages(shape: number[]): Dataset {
  const n = 512;
  const size = shape.reduce((p, q) => p * q, 1);
  const all = tf.tensor(new Rng(0).uniformArray(n * size, -1, 1), [n, ...shape]);
  return {
    id: 'random-images',
    sampleShape: shape,
    size: n,
    sample(k, rng) {
      const idx = tf.tensor1d(Array.from({ length: k }, () => rng.int(n)), 'int32');
      const x = tf.gather(all, idx);
      idx.dispose();
      return { x };
    },
  };
}

function imageJob(id: 'patch-transformer' | 'unet') {
  const app = createApp();
  const reg = registryOf(app);
  if (!reg.has('model', id)) throw new Error(`model '${id}' is not registered yet`);
  const shape = id === 'unet' ? [32, 32, 1] : [28, 28, 1];
  const config = loadConfigObject({ extends: 'spiral-t1000', model: { id }, train: { optimizer: 'adam', lr: 1e-4, gradClip: 0, ema: false, weightDecay: 0 } });
  const job = new Job(app, config);
  const model = job.getModel();
  return { job, model, shape, config };
}

async function imageTrain(id: 'patch-transformer' | 'unet', a: CaseArgs): Promise<CaseResult> {
  const { job, model, shape, config } = imageJob(id);
  const trainer = new Trainer({ model, schedule: job.schedule, dataset: randomImages(shape), rng: new Rng(0), ...config.train, batchSize: a.batch, warmupSteps: 0, decay: 'constant' });
  const ms = await timed(() => trainer.stepTensor(), a.warmup, a.iters, a.repeats);
  return { ms };
}

/**
 * One training step under `tf.profile` after `warmup` steps: the device time per kernel name
 * (WebGPU: timestamp queries, when the adapter has them; each program then runs in its own pass,
 * so only the per-kernel times mean anything, not the step's total) and the count per kernel.
 */
async function profileTrain(id: 'patch-transformer' | 'unet', a: CaseArgs): Promise<CaseResult> {
  const { job, model, shape, config } = imageJob(id);
  const trainer = new Trainer({ model, schedule: job.schedule, dataset: randomImages(shape), rng: new Rng(0), ...config.train, batchSize: a.batch, warmupSteps: 0, decay: 'constant' });
  return profileStep(trainer, a);
}

async function profileStep(trainer: Trainer, a: CaseArgs): Promise<CaseResult> {
  for (let i = 0; i < a.warmup; i++) {
    const l = trainer.stepTensor();
    await l.data();
    l.dispose();
  }
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    const l = trainer.stepTensor();
    await l.data();
    return l;
  });
  const wall = performance.now() - t0;
  (info.result as tf.Tensor | undefined)?.dispose();
  return { ms: [wall], ...kernelTable(info) };
}

/** Per kernel name: count and time (scopes skipped), and the matmuls by shapes. */
function kernelTable(info: Awaited<ReturnType<typeof tf.profile>>): Record<string, unknown> {
  const byName = new Map<string, { n: number; ms: number }>();
  let total = 0;
  const backend = tf.getBackend();
  for (const k of info.kernels) {
    // Scopes (custom gradients, named ops) are listed too, with their inner kernels' time: skip.
    if (!tf.getKernel(k.name, backend)) continue;
    const ms = Number(k.kernelTimeMs) || 0;
    total += ms;
    const e = byName.get(k.name) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms;
    byName.set(k.name, e);
  }
  // The matmuls by shapes (A, B): where their device time goes.
  const mm = new Map<string, { n: number; ms: number }>();
  for (const k of info.kernels) {
    if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul') continue;
    const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}`;
    const e = mm.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += Number(k.kernelTimeMs) || 0;
    mm.set(key, e);
  }
  const matmuls = [...mm.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 20).map(([name, e]) => ({ name, n: e.n, ms: Number(e.ms.toFixed(3)) }));
  // --trace: every kernel in order with its input shapes and time
  const trace = process.argv.includes('--trace')
    ? info.kernels.filter((k) => tf.getKernel(k.name, backend)).map((k) => `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')} ${(Number(k.kernelTimeMs) || 0).toFixed(3)}`)
    : undefined;
  const top = [...byName.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 25).map(([name, e]) => ({ name, n: e.n, ms: Number(e.ms.toFixed(3)) }));
  return { kernels: info.kernels.length, kernel_ms_total: total, top, matmuls, ...(trace ? { trace } : {}) };
}
