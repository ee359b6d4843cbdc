/// <reference lib="webworker" />
/**
 * The lab's worker: TensorFlow.js, the model, training and sampling run here, off the main
 * thread, so the page stays responsive. It composes the same packages and presets as the CLI.
 */
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { registryOf, Rng } from '@difflab/core';
import { SlicedW2 } from '@difflab/metrics';
import { createApp, Job, loadConfigObject, PRESETS } from '@difflab/pipeline/browser';
import { startBackend } from '@difflab/runtime';
import { denoise } from '@difflab/samplers';
import { Trainer } from '@difflab/training';
import type { FromWorker, ToWorker } from './protocol.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let job: Job | null = null;
let trainer: Trainer | null = null;
let data: tf.Tensor2D | null = null;
let started = false;

async function init(m: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  let backend = { backend: tf.getBackend(), adapter: undefined as string | undefined, notes: [] as string[] };
  if (!started) {
    const info = await startBackend(m.backend, {
      wasmPaths: { 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded },
    });
    backend = { backend: info.backend, adapter: info.adapter, notes: info.notes };
    started = true;
  }
  trainer?.dispose();
  job?.dispose();
  data?.dispose();
  const presets = Object.keys(PRESETS).filter((k) => k.startsWith('spiral'));
  const preset = presets.includes(m.preset) ? m.preset : 'spiral-default';
  const over: Record<string, unknown> = { extends: preset, train: { ...PRESETS[preset as keyof typeof PRESETS].train, steps: m.steps } };
  if (m.dataset) over.dataset = { id: m.dataset };
  if (m.sampler) over.sampler = { id: m.sampler };
  const config = loadConfigObject(over);
  const app = createApp();
  job = new Job(app, config);
  const model = job.getModel();
  trainer = new Trainer({ model, schedule: job.schedule, dataset: job.dataset, rng: job.rng.fork(), ...config.train });
  data = (job.dataset as unknown as { all(): tf.Tensor2D }).all();
  const points = (await data.data()) as Float32Array;
  const reg = registryOf(app);
  const pointDatasets = reg.ids('dataset').filter((id) => !['mnist', 'faces'].includes(id));
  const ref = (r: unknown) => (typeof r === 'string' ? r : (r as { id: string }).id);
  post({
    type: 'ready',
    ...backend,
    menus: { presets, datasets: pointDatasets, samplers: reg.ids('sampler') },
    config: { preset, dataset: ref(config.dataset), sampler: ref(config.sampler), steps: config.train.steps, T: job.schedule.numTrainTimesteps },
    data: points.slice(),
    alphasCumprod: Float64Array.from(job.schedule.alphasCumprod),
  });
}

async function train(): Promise<void> {
  if (!trainer) throw new Error('train before init');
  const res = await trainer.run((e) => post({ type: 'progress', step: e.step, steps: e.steps, loss: e.loss, etaSec: e.etaSec, stepsPerSec: e.stepsPerSec }));
  post({ type: 'trained', losses: [...trainer.lossHistory], seconds: res.seconds });
}

async function sample(n: number): Promise<void> {
  if (!job || !trainer || !data) throw new Error('sample before init');
  const t0 = performance.now();
  const model = job.getModel();
  const sampler = job.createSampler();
  const run = () => {
    let last: tf.Tensor | null = null;
    for (const s of denoise({ sampler, model, shape: [n, ...model.sampleShape], rng: new Rng(1), numSteps: job!.config.sample.steps ?? undefined })) {
      last?.dispose();
      last = s.prevSample.clone();
    }
    return last as tf.Tensor2D;
  };
  const x = trainer.ema ? trainer.ema.withAveragedWeights(run) : run();
  const points = (await x.data()) as Float32Array;
  // Asynchronous read-backs: WebGPU reads synchronously only through a canvas, slowly.
  const sw = new SlicedW2();
  const value = await sw.computeAsync(x, data, new Rng(0));
  // The floor: the same metric between two halves of the data.
  const half = Math.floor(data.shape[0] / 2);
  const [h1, h2] = [tf.slice(data, [0, 0], [half, 2]), tf.slice(data, [half, 0], [half, 2])] as tf.Tensor2D[];
  const floor = await sw.computeAsync(h1, h2, new Rng(0));
  tf.dispose([h1, h2]);
  x.dispose();
  post({ type: 'sampled', points: points.slice(), metric: { name: 'sliced W2', value, floor }, seconds: (performance.now() - t0) / 1000 });
}

scope.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  try {
    if (m.type === 'init') await init(m);
    else if (m.type === 'train') await train();
    else if (m.type === 'sample') await sample(m.n);
  } catch (e) {
    post({ type: 'error', message: String((e as Error)?.message ?? e).split('\n')[0] });
  }
};
