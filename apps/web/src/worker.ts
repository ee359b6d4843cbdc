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
import { normalizeRef, registryOf, Rng } from '@difflab/core';
import { SlicedW2 } from '@difflab/metrics';
import { loadWeights, saveWeights } from '@difflab/models';
import { createApp, Job, loadConfigObject, PRESETS, parseConfig, samplerRefFor, setPath } from '@difflab/pipeline/browser';
// The shipped mnist-text model (what `difflab lab images` samples): its run config, manifest and
// weights, bundled into the static site.
import mnistConfig from '@difflab/pipeline/weights/mnist-text/config.json';
import mnistModel from '@difflab/pipeline/weights/mnist-text/model.json';
import mnistWeights from '@difflab/pipeline/weights/mnist-text/weights.bin?url';
import facesConfig from '@difflab/pipeline/weights/faces-text/config.json';
import facesModel from '@difflab/pipeline/weights/faces-text/model.json';
import facesWeights from '@difflab/pipeline/weights/faces-text/weights.bin?url';
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

/** Shipped image models: a run's config.json, model.json and the URL of its weights.bin. */
const SHIPPED: Record<string, { config: unknown; model: unknown; weights: string }> = {
  'mnist-text': { config: mnistConfig, model: mnistModel, weights: mnistWeights },
  'faces-text': { config: facesConfig, model: facesModel, weights: facesWeights },
};

/** Example prompts: a caption of every class (up to 10 classes), else of 8 classes spread out. */
function examplePrompts(j: Job): string[] {
  const ds = j.dataset;
  const k = ds.classes?.length ?? 0;
  if (!ds.captionsOfClass || k === 0) return [];
  const picks = k <= 10 ? [...Array(k).keys()] : [...Array(8).keys()].map((i) => Math.floor((i * k) / 8));
  return picks.map((c) => ds.captionsOfClass!(c)[0]);
}
let images: { id: string; job: Job } | null = null;

async function init(m: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  let backend = { backend: tf.getBackend(), adapter: undefined as string | undefined, notes: [] as string[] };
  if (!started) {
    const info = await startBackend(m.backend, {
      wasmPaths: { 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded },
    });
    backend = { backend: info.backend, adapter: info.adapter, notes: info.notes };
    started = true;
  }
  const presets = Object.keys(PRESETS).filter((k) => k.startsWith('spiral'));
  const preset = presets.includes(m.preset) ? m.preset : 'spiral-default';
  const app = createApp();
  const base = loadConfigObject({ extends: preset });
  const over: Record<string, unknown> = { extends: preset, train: { ...base.train, steps: m.steps } };
  if (m.dataset) over.dataset = { id: m.dataset };
  // Another sampler keeps the preset sampler's options it accepts (e.g. clipSample).
  if (m.sampler) over.sampler = samplerRefFor(app, base, m.sampler);
  // A schedule keeps the preset's options when it is the preset's kind; T is set either way.
  const baseSchedule = normalizeRef(base.schedule);
  if (m.schedule || m.T) {
    const id = m.schedule ?? baseSchedule.id;
    over.schedule = { id, options: { ...(id === baseSchedule.id ? baseSchedule.options : {}), ...(m.T ? { T: m.T } : {}) } };
  }
  if (m.embedding) over.timestepEmbedding = { id: m.embedding };
  if (m.hidden) over.model = { ...normalizeRef(base.model), options: { ...normalizeRef(base.model).options, hidden: m.hidden } };
  const config = loadConfigObject(over, 'the spiral settings');
  Job.validate(app, config);
  // The new job is complete before the old one goes: a bad setting keeps the last good one.
  const next = new Job(app, config);
  trainer?.dispose();
  job?.dispose();
  data?.dispose();
  job = next;
  const model = job.getModel();
  trainer = new Trainer({ model, schedule: job.schedule, dataset: job.dataset, rng: job.rng.fork(), ...config.train });
  data = (job.dataset as unknown as { all(): tf.Tensor2D }).all();
  const points = (await data.data()) as Float32Array;
  const reg = registryOf(app);
  const pointDatasets = reg.ids('dataset').filter((id) => !['mnist', 'faces'].includes(id));
  const ref = (r: unknown) => (typeof r === 'string' ? r : (r as { id: string }).id);
  post({
    type: 'ready',
    seq: m.seq,
    ...backend,
    menus: { presets, datasets: pointDatasets, samplers: reg.ids('sampler'), schedules: reg.ids('schedule'), embeddings: reg.ids('timestep-embedding') },
    slots: { timestepEmbedding: reg.ids('timestep-embedding'), inputEmbedding: reg.ids('input-embedding'), schedule: reg.ids('schedule'), sampler: reg.ids('sampler'), 'model.options.hidden': ['32', '64', '128', '256'] },
    config: {
      preset,
      dataset: ref(config.dataset),
      sampler: ref(config.sampler),
      steps: config.train.steps,
      T: job.schedule.numTrainTimesteps,
      schedule: ref(config.schedule),
      embedding: ref(config.timestepEmbedding),
      hidden: Number(normalizeRef(config.model).options.hidden ?? 0),
    },
    data: points.slice(),
    alphasCumprod: Float64Array.from(job.schedule.alphasCumprod),
  });
}

async function train(): Promise<void> {
  if (!trainer) throw new Error('train before init');
  const res = await trainer.run((e) => post({ type: 'progress', step: e.step, steps: e.steps, loss: e.loss, etaSec: e.etaSec, stepsPerSec: e.stepsPerSec }));
  post({ type: 'trained', losses: [...trainer.lossHistory], seconds: res.seconds });
}

interface Sampled {
  points: Float32Array;
  value: number;
  floor: number;
  trace: { t: number[]; xt: Float32Array; x0: Float32Array };
}

/**
 * n points from a trained job (EMA weights when its trainer keeps them), every step's x_t and
 * predicted x_0, and sliced W2 against the data with its floor (the data's two halves).
 */
async function sampleJob(j: Job, tr: Trainer, d: tf.Tensor2D, n: number): Promise<Sampled> {
  const model = j.getModel();
  const sampler = j.createSampler();
  // Every step's x_t and predicted x_0 are kept (cloned; read back after the loop, asynchronously)
  // for the step scrubber (task 8).
  const kept: { t: number; xt: tf.Tensor; x0: tf.Tensor }[] = [];
  const run = () => {
    let last: tf.Tensor | null = null;
    for (const s of denoise({ sampler, model, shape: [n, ...model.sampleShape], rng: new Rng(1), numSteps: j.config.sample.steps ?? undefined })) {
      last?.dispose();
      last = s.prevSample.clone();
      kept.push({ t: s.t, xt: s.xt.clone(), x0: s.predOriginalSample.clone() });
    }
    return last as tf.Tensor2D;
  };
  const x = tr.ema ? tr.ema.withAveragedWeights(run) : run();
  const trace = { t: kept.map((k) => k.t), xt: new Float32Array(kept.length * n * 2), x0: new Float32Array(kept.length * n * 2) };
  for (const [i, k] of kept.entries()) {
    trace.xt.set((await k.xt.data()) as Float32Array, i * n * 2);
    trace.x0.set((await k.x0.data()) as Float32Array, i * n * 2);
    tf.dispose([k.xt, k.x0]);
  }
  const points = ((await x.data()) as Float32Array).slice();
  // Asynchronous read-backs: WebGPU reads synchronously only through a canvas, slowly.
  const sw = new SlicedW2();
  const value = await sw.computeAsync(x, d, new Rng(0));
  const half = Math.floor(d.shape[0] / 2);
  const [h1, h2] = [tf.slice(d, [0, 0], [half, 2]), tf.slice(d, [half, 0], [half, 2])] as tf.Tensor2D[];
  const floor = await sw.computeAsync(h1, h2, new Rng(0));
  tf.dispose([h1, h2, x]);
  return { points, value, floor, trace };
}

async function sample(n: number): Promise<void> {
  if (!job || !trainer || !data) throw new Error('sample before init');
  const t0 = performance.now();
  const r = await sampleJob(job, trainer, data, n);
  post({ type: 'sampled', points: r.points, metric: { name: 'sliced W2', value: r.value, floor: r.floor }, seconds: (performance.now() - t0) / 1000, trace: r.trace }, [r.trace.xt.buffer, r.trace.x0.buffer]);
}

/**
 * The ablation view: the current spiral config with one slot set to each of two values (e.g.
 * `timestepEmbedding` = sinusoidal / zero), trained with the same seed and steps one after the
 * other, each sampled and measured. Both variants are validated before either trains.
 */
async function ablate(m: Extract<ToWorker, { type: 'ablate' }>): Promise<void> {
  if (!job) throw new Error('ablate before init');
  const app = createApp();
  const base = job.config as unknown as Record<string, unknown>;
  const configs = m.values.map((v) => loadConfigObject(setPath(base, m.slot, v), `ablation ${m.slot}=${v}`));
  for (const c of configs) Job.validate(app, c);
  for (const [k, config] of configs.entries()) {
    const j = new Job(app, config);
    const tr = new Trainer({ model: j.getModel(), schedule: j.schedule, dataset: j.dataset, rng: j.rng.fork(), ...config.train });
    const d = (j.dataset as unknown as { all(): tf.Tensor2D }).all();
    try {
      const res = await tr.run((e) => post({ type: 'ablate-progress', variant: k, step: e.step, steps: e.steps, loss: e.loss }));
      const r = await sampleJob(j, tr, d, m.n);
      post({ type: 'ablate-variant', variant: k, value: m.values[k], losses: [...tr.lossHistory], trainSeconds: res.seconds, points: r.points, data: ((await d.data()) as Float32Array).slice(0, 8000), metric: { name: 'sliced W2', value: r.value, floor: r.floor } });
    } finally {
      d.dispose();
      tr.dispose();
      j.dispose();
    }
  }
}

async function imagesLoad(id: string): Promise<void> {
  if (!started) throw new Error('images-load before init');
  const shipped = SHIPPED[id];
  if (!shipped) throw new Error(`no shipped model '${id}'; available: ${Object.keys(SHIPPED).join(', ')}`);
  if (images?.id !== id) {
    images?.job.dispose();
    images = null;
    const config = parseConfig(shipped.config, `${id}/config.json`);
    const job = new Job(createApp(), config);
    try {
      const res = await fetch(shipped.weights);
      if (!res.ok) throw new Error(`${id}/weights.bin: HTTP ${res.status}`);
      loadWeights(job.weights(), shipped.model, new Uint8Array(await res.arrayBuffer()));
    } catch (e) {
      job.dispose();
      throw e;
    }
    images = { id, job };
  }
  const { job } = images;
  const sampler = job.createSampler();
  post({
    type: 'images-ready',
    model: id,
    models: Object.keys(SHIPPED),
    shape: [...job.getModel().sampleShape],
    samplers: registryOf(job.container).ids('sampler'),
    sampler: normalizeRef(job.config.sampler).id,
    steps: sampler.numInferenceSteps ?? 50,
    examples: examplePrompts(job),
  });
}

function unknownWords(prompt: string): string[] {
  return images?.job.conditioner?.unknownWords?.(prompt) ?? [];
}

/**
 * n images for the prompt at the guidance scale and n for the empty prompt, in one batch from
 * the same x_T: the empty prompt's rows get the null condition, for which guidance changes
 * nothing (eps_u + s (eps_u - eps_u) = eps_u), so they are the model's unconditional samples.
 */
async function imagesSample(m: Extract<ToWorker, { type: 'images-sample' }>): Promise<void> {
  if (!images) throw new Error('images-sample before images-load');
  const { job } = images;
  const cond = job.conditioner;
  if (!cond) throw new Error(`the model '${images.id}' has no conditioner`);
  const t0 = performance.now();
  const model = job.getModel();
  const sampler = job.createSampler(samplerRefFor(job.container, job.config, m.sampler, m.steps));
  const n = m.n;
  const unknown = unknownWords(m.prompt);
  const xT1 = tf.randomNormal([n, ...model.sampleShape], 0, sampler.initNoiseSigma, 'float32', 7);
  const xT = tf.concat([xT1, xT1], 0);
  const c = cond.encodePrompts([...new Array(n).fill(m.prompt), ...new Array(n).fill('')]);
  const nullCond = cond.encodePrompts(['']);
  let last: Float32Array | null = null;
  try {
    for (const s of denoise({ sampler, model, xT, rng: new Rng(1), numSteps: m.steps, cond: c, guidanceScale: m.guidance, nullCond })) {
      const total = sampler.timesteps.length;
      const [xt, x0] = await Promise.all([s.xt.data(), s.predOriginalSample.data()]);
      post({ type: 'images-step', index: s.index, total, t: s.t, xt: xt as Float32Array, x0: x0 as Float32Array }, [(xt as Float32Array).buffer, (x0 as Float32Array).buffer]);
      if (s.index === total - 1) last = (await s.prevSample.data()) as Float32Array;
    }
  } finally {
    tf.dispose([xT1, xT, c, nullCond]);
  }
  if (!last) throw new Error('the sampler produced no steps');
  post({ type: 'images-done', images: last, seconds: (performance.now() - t0) / 1000, unknown }, [last.buffer]);
}

async function exportRun(what: 'config' | 'weights'): Promise<void> {
  if (!job || !trainer) throw new Error('export before init');
  if (what === 'config') {
    post({ type: 'exported', what, json: `${JSON.stringify(job.config, null, 2)}\n` });
    return;
  }
  const model = job.weights();
  const vars = Object.values(model.namedWeights());
  const save = async () => {
    // saveWeights reads synchronously: fetch every value first (WebGPU reads back asynchronously).
    await Promise.all(vars.map((v) => v.data()));
    return saveWeights(model);
  };
  let saved: ReturnType<typeof saveWeights>;
  if (trainer.ema) {
    trainer.ema.swapIn();
    try {
      saved = await save();
    } finally {
      trainer.ema.swapOut();
    }
  } else saved = await save();
  post({ type: 'exported', what, modelJson: `${JSON.stringify(saved.modelJson, null, 2)}\n`, weightsBin: saved.weightsBin }, [saved.weightsBin.buffer as ArrayBuffer]);
}

/** Weights from `difflab train` into the spiral model; a fresh trainer (its EMA starts from them). */
function importWeights(modelJson: string, weightsBin: ArrayBuffer): void {
  if (!job || !trainer) throw new Error('import before init');
  let parsed: unknown;
  try {
    parsed = JSON.parse(modelJson);
  } catch (e) {
    throw new Error(`model.json: not valid JSON (${(e as Error).message})`);
  }
  loadWeights(job.weights(), parsed, new Uint8Array(weightsBin));
  trainer.dispose();
  trainer = new Trainer({ model: job.getModel(), schedule: job.schedule, dataset: job.dataset, rng: job.rng.fork(), ...job.config.train });
  post({ type: 'imported', tensors: Object.keys(job.weights().namedWeights()).length });
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'init') await init(m);
  else if (m.type === 'train') await train();
  else if (m.type === 'sample') await sample(m.n);
  else if (m.type === 'images-load') await imagesLoad(m.model);
  else if (m.type === 'images-check') post({ type: 'images-words', prompt: m.prompt, unknown: unknownWords(m.prompt) });
  else if (m.type === 'images-sample') await imagesSample(m);
  else if (m.type === 'export') await exportRun(m.what);
  else if (m.type === 'ablate') await ablate(m);
  else if (m.type === 'import-weights') importWeights(m.modelJson, m.weightsBin);
}

// One message at a time, in order: a message that arrives while another awaits (the backend
// starting, a training run) waits for it instead of running beside it.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  queue = queue.then(() =>
    handle(m).catch((e) => {
      post({ type: 'error', message: String((e as Error)?.message ?? e).split('\n')[0] });
    }),
  );
};
