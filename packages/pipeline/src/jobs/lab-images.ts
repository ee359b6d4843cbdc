import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import { type Conditioner, ConfigError, type Dataset, normalizeRef, Rng, registryOf, type Sampler } from '@difflab/core';
import { classHistogram, conditionalAccuracy, decodeCombination, frechetDistance, type Judge, loadJudge } from '@difflab/metrics';
import { denoise } from '@difflab/samplers';
import { encodeGif, encodePng, imageGrid, panelGrid, type Raster } from '@difflab/viz';
import type { PipelineConfig } from '../config.js';
import { loadConfig } from '../config-file.js';
import type { Job } from '../compose.js';
import { ensureOutDir, writeFileAtomic, writeJsonAtomic } from '../io.js';
import { silentReporter, type Reporter } from '../reporter.js';
import { readAsync } from '../tensors.js';
import { loadRun } from './sample.js';
import { applyOverrides, runTrain } from './train.js';

export const IMAGE_LAB_DATASETS = ['mnist', 'faces'] as const;
export type ImageLabDataset = (typeof IMAGE_LAB_DATASETS)[number];

export interface LabImagesOptions {
  app: DependencyContainer;
  dataset: ImageLabDataset;
  outDir: string;
  /** A run directory to sample (default: the shipped weights of the dataset, else a training run). */
  runDir?: string;
  /** Train first even when shipped weights exist. */
  train?: boolean;
  /** Short training and small sample counts, for a first look and for tests. */
  quick?: boolean;
  /** A config to train (default the dataset's preset, `mnist-text` / `faces-text`). */
  config?: PipelineConfig;
  /** Samplers of the per-step grids (default ddpm, ddim, euler, dpmpp-2m). */
  samplers?: readonly string[];
  /** Sampling steps (default 50). */
  steps?: number;
  /** Guidance scales of the prompt grids (default 0, 1, 3, 7; 0 is the empty prompt). */
  guidance?: readonly number[];
  /** Guidance rescale phi in [0, 1] (Lin et al. 2023; diffusers' guidance_rescale), default 0 (off). */
  guidanceRescale?: number;
  /** Prompts (default one caption per class for mnist, six attribute captions for faces). */
  prompts?: readonly string[];
  /** Images per class for the judged metrics (default 20; 5 with quick). */
  perClass?: number;
  reporter?: Reporter;
}

export interface GuidanceRow {
  guidance: number;
  /** Fraction of images whose judged class is the prompted one. */
  conditionalAccuracy: number | null;
  /**
   * With a judge of several attributes (faces: expression, colour, eyes, accessory): per
   * attribute, the fraction of images whose judged value is the prompted one.
   */
  perAttribute: Record<string, number> | null;
  /** Frechet distance of the judge's features against held-out data. */
  frechet: number | null;
  images: number;
  seconds: number;
}

export interface LabImagesResult {
  outDir: string;
  runDir: string;
  trained: boolean;
  guidance: GuidanceRow[];
  /** Fractions of judged classes among empty-prompt samples. */
  emptyPromptHistogram: number[] | null;
  unknownWords: Record<string, string[]>;
  files: string[];
  totalSeconds: number;
}

/** Longest prompt accepted (characters). */
export const MAX_PROMPT_LENGTH = 200;

/**
 * A prompt is plain text of at most MAX_PROMPT_LENGTH characters without control characters;
 * unknown words are allowed (they are reported, not rejected).
 */
export function checkPrompt(prompt: string): void {
  if (typeof prompt !== 'string') throw new ConfigError('--prompt', `must be text, got ${typeof prompt}`);
  if (prompt.length > MAX_PROMPT_LENGTH) throw new ConfigError('--prompt', `is ${prompt.length} characters long; at most ${MAX_PROMPT_LENGTH} are allowed`);
  for (const ch of prompt) {
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) throw new ConfigError('--prompt', `contains the control character U+${code.toString(16).padStart(4, '0').toUpperCase()}; use plain text`);
  }
}

/** Where the shipped weights of a preset live (committed, published with the package). */
export function shippedRunDir(preset: string): string {
  return fileURLToPath(new URL(`../../weights/${preset}`, import.meta.url));
}

/** Training steps of `lab images --quick`. */
export const QUICK_IMAGE_STEPS = 200;

const PRESET_OF: Record<ImageLabDataset, string> = { mnist: 'mnist-text', faces: 'faces-text' };

/** Default prompts: one caption per digit; for faces six captions spanning the attributes. */
function defaultPrompts(dataset: Dataset, name: ImageLabDataset): string[] {
  const k = dataset.classes?.length ?? 0;
  if (!dataset.captionsOfClass || k === 0) throw new ConfigError('dataset', `'${dataset.id}' gives no captions; the images lab needs a captioned dataset`);
  const pick = name === 'mnist' ? Array.from({ length: k }, (_, i) => i) : [0, 1, 2, 3, 4, 5].map((i) => Math.floor((i * k) / 6));
  return pick.map((c) => dataset.captionsOfClass!(c)[0]);
}

/** The class a prompt names (the first class whose captions include it), or -1. */
function classOfPrompt(dataset: Dataset, prompt: string): number {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9 ]+/g, ' ').replace(/\s+/g, ' ').trim();
  const p = norm(prompt);
  const k = dataset.classes?.length ?? 0;
  for (let c = 0; c < k; c++) if (dataset.captionsOfClass?.(c).some((cap) => norm(cap) === p)) return c;
  return -1;
}

/** Image data [n, ...shape] in [-1, 1] as one grid row of `cols` images. */
function grid(data: Float32Array, shape: readonly number[], cols: number, title?: string, scale = 2): Raster {
  const [h, w, c] = shape;
  const g = imageGrid(data, { h, w, c, cols, scale, range: [-1, 1] });
  return title ? panelGrid([g], { cols: 1, title, titleScale: 1 }) : g;
}

/**
 * Sample `prompts.length` images (one per prompt) with classifier-free guidance `g` (0: the
 * empty prompt alone), keeping the x_t of every step when `keepSteps`.
 */
async function sampleImages(
  job: Job,
  sampler: Sampler,
  conditioner: Conditioner,
  prompts: readonly string[],
  g: number,
  steps: number,
  seed: number,
  keepSteps = false,
  guidanceRescale = 0,
): Promise<{ x0: Float32Array; frames: Float32Array[]; seconds: number }> {
  const model = job.getModel();
  const n = prompts.length;
  const cond = conditioner.encodePrompts(prompts);
  const nullCond = conditioner.encodePrompts(['']);
  const frames: Float32Array[] = [];
  const t0 = performance.now();
  let x0: Float32Array | null = null;
  // The frames show what the model sees at each step: x_t itself for DDPM / DDIM, the scaled
  // x_t / sqrt(sigma^2 + 1) for sigma samplers (whose x_t has std sigma, up to ~10^4).
  let seen: tf.Tensor | null = null;
  const see = (x: tf.Tensor) => {
    seen?.dispose();
    seen = tf.keep(tf.slice(x, 0, n));
  };
  const recording = {
    predict: (x: tf.Tensor, t: tf.Tensor, c?: tf.Tensor) => {
      see(x);
      return model.predict(x, t, c);
    },
    predictAt: model.predictAt
      ? (x: tf.Tensor, t: number, c?: tf.Tensor) => {
          see(x);
          return model.predictAt!(x, t, c);
        }
      : undefined,
  };
  try {
    const guided = g === 0 ? {} : { cond, guidanceScale: g, nullCond, guidanceRescale };
    for (const s of denoise({ sampler, model: keepSteps ? recording : model, shape: [n, ...model.sampleShape], rng: new Rng(seed), numSteps: steps, ...guided })) {
      if (keepSteps && seen) {
        frames.push(await readAsync(seen));
        seen = null;
      }
      if (s.index === sampler.timesteps.length - 1) {
        x0 = await readAsync(s.prevSample.clone());
        if (keepSteps) frames.push(x0);
      }
    }
  } finally {
    tf.dispose([cond, nullCond]);
    (seen as tf.Tensor | null)?.dispose();
  }
  if (!x0) throw new Error('the sampler produced no steps');
  return { x0, frames, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Part 2 of the lab: image denoising step by step from correctly scaled noise with every sampler
 * (task 2), and text-conditioned generation with classifier-free guidance beside the same model
 * with an empty prompt (task 5), judged by a classifier: conditional accuracy, the class
 * histogram of empty-prompt samples and a Frechet distance on the judge's features.
 */
export async function runLabImages(opts: LabImagesOptions): Promise<LabImagesResult> {
  const reporter = opts.reporter ?? silentReporter;
  const started = performance.now();
  if (!IMAGE_LAB_DATASETS.includes(opts.dataset)) {
    throw new ConfigError('--dataset', `unknown image dataset '${opts.dataset}'; available: ${IMAGE_LAB_DATASETS.join(', ')}`);
  }
  for (const p of opts.prompts ?? []) checkPrompt(p);
  const phi = opts.guidanceRescale ?? 0;
  if (!(phi >= 0 && phi <= 1)) throw new ConfigError('--guidance-rescale', `must be a number in [0, 1] (0: off, 0.7: Lin et al.'s choice), got ${phi}`);
  const out = ensureOutDir(opts.outDir);
  const quick = Boolean(opts.quick);
  const preset = PRESET_OF[opts.dataset];
  const shipped = shippedRunDir(preset);
  let runDir = opts.runDir;
  let trained = false;
  if (!runDir && !opts.train && !quick && existsSync(join(shipped, 'weights.bin'))) {
    runDir = shipped;
    reporter.log(`using the shipped weights in ${shipped}`);
  }
  if (!runDir) {
    const base = opts.config ?? loadConfig(preset);
    const config = quick ? applyOverrides(base, Math.min(QUICK_IMAGE_STEPS, base.train.steps)) : base;
    reporter.log(`== training ${config.name} (${config.train.steps} steps)`);
    const tr = await runTrain({ app: opts.app, config, outDir: join(out, 'run'), reporter });
    runDir = tr.runDir;
    trained = true;
  }
  const { job, config } = loadRun(opts.app, runDir);
  const files: string[] = [];
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(out, name);
    writeFileAtomic(p, bytes);
    files.push(p);
  };
  let judge: Judge | null = null;
  try {
    const conditioner = job.conditioner;
    if (!conditioner) throw new ConfigError('conditioner', `the run in '${runDir}' has no conditioner; the images lab needs a text- or label-conditioned model`);
    const dataset = job.dataset;
    const shape = job.getModel().sampleShape;
    const steps = opts.steps ?? 50;
    const prompts = opts.prompts ?? defaultPrompts(dataset, opts.dataset);
    const unknownWords: Record<string, string[]> = {};
    for (const p of prompts) {
      const u = conditioner.unknownWords(p);
      if (u.length) {
        unknownWords[p] = u;
        reporter.log(`prompt '${p}': unknown words ${u.join(', ')} (the model draws descriptions such as '${prompts.find((q) => conditioner.unknownWords(q).length === 0) ?? ''}'; it cannot answer questions)`);
      }
    }
    const reg = registryOf(job.container);
    const base = normalizeRef(config.sampler);
    const samplerIds = opts.samplers ?? ['ddpm', 'ddim', 'euler', 'dpmpp-2m'];
    const makeSampler = (id: string) =>
      reg.create<Sampler>('sampler', { id, options: id === base.id ? { ...base.options, numInferenceSteps: steps } : { numInferenceSteps: steps } }, job.container, 'sampler');

    // Task 2: step by step, every sampler, from noise of std initNoiseSigma.
    reporter.log('== task 2: denoising step by step');
    const stepPrompts = prompts.slice(0, 8);
    const trace: { sampler: string; initNoiseSigma: number; evaluations: number; seconds: number }[] = [];
    for (const id of samplerIds) {
      const sampler = makeSampler(id);
      const r = await sampleImages(job, sampler, conditioner, stepPrompts, 3, steps, config.seed + 1, true, phi);
      const n = stepPrompts.length;
      const picks = [...new Set(Array.from({ length: 9 }, (_, i) => Math.round((i * (r.frames.length - 1)) / 8)))];
      const rows = picks.map((f) => grid(r.frames[f], shape, n, f === r.frames.length - 1 ? 'x_0' : `step ${f} of ${r.frames.length - 1}`));
      write(`steps-${id}.png`, encodePng(panelGrid(rows, { cols: 1, title: `${id}, x_T std ${sampler.initNoiseSigma.toPrecision(3)}`, titleScale: 1 })));
      const every = Math.max(1, Math.floor(r.frames.length / 60));
      const gifFrames = r.frames.filter((_, i) => i % every === 0 || i === r.frames.length - 1).map((f) => grid(f, shape, n, undefined, 3));
      write(`steps-${id}.gif`, encodeGif(gifFrames, { delayMs: gifFrames.map((_, i) => (i === gifFrames.length - 1 ? 1500 : 80)) }));
      trace.push({ sampler: id, initNoiseSigma: sampler.initNoiseSigma, evaluations: sampler.timesteps.length, seconds: r.seconds });
      reporter.log(`${id}: ${sampler.timesteps.length} steps from noise of std ${sampler.initNoiseSigma.toPrecision(3)} in ${r.seconds.toFixed(1)} s`);
    }

    // Task 5: prompts at each guidance scale, and the empty prompt.
    reporter.log('== task 5: prompts with classifier-free guidance');
    const guidance = opts.guidance ?? [0, 1, 3, 7];
    const perPrompt = quick ? 4 : 8;
    const sampler = makeSampler(base.id);
    const overview: Raster[] = [];
    for (const [i, p] of prompts.entries()) {
      const rows: Raster[] = [];
      for (const g of guidance) {
        const r = await sampleImages(job, sampler, conditioner, new Array(perPrompt).fill(p), g, steps, config.seed + 100 + i, false, phi);
        rows.push(grid(r.x0, shape, perPrompt, g === 0 ? 'guidance 0 (empty prompt)' : `guidance ${g}`));
      }
      const fig = panelGrid(rows, { cols: 1, title: `'${p}'` });
      write(`prompt-${String(i).padStart(2, '0')}.png`, encodePng(fig));
      overview.push(fig);
    }
    write('prompts.png', encodePng(panelGrid(overview, { cols: Math.min(overview.length, 5), title: `${config.name}: each prompt at guidance ${guidance.join(', ')} (0 = empty prompt)` })));

    // Judged metrics.
    const perClass = opts.perClass ?? (quick ? 2 : 20);
    const guidanceRows: GuidanceRow[] = [];
    let emptyHistogram: number[] | null = null;
    try {
      judge = loadJudge(opts.dataset);
    } catch (e) {
      reporter.log(`no judge for ${opts.dataset}: ${(e as Error).message.split('\n')[0]}; metrics skipped`);
    }
    const targets = prompts.map((p) => classOfPrompt(dataset, p));
    const heldOut = judge ? (reg.create<Dataset>('dataset', { id: opts.dataset, options: { split: 'test' } }, job.container, 'dataset') as Dataset & { all?: () => { x: tf.Tensor } }) : null;
    const refFeatures = judge && heldOut?.all ? tf.tidy(() => judge!.features(heldOut.all!().x as tf.Tensor4D)) : null;
    try {
      for (const g of guidance) {
        const all: Float32Array[] = [];
        const wanted: number[] = [];
        let seconds = 0;
        for (const [i, p] of prompts.entries()) {
          const r = await sampleImages(job, sampler, conditioner, new Array(perClass).fill(p), g, steps, config.seed + 1000 + i, false, phi);
          all.push(r.x0);
          wanted.push(...new Array(perClass).fill(targets[i]));
          seconds += r.seconds;
        }
        let acc: number | null = null;
        let perAttribute: Record<string, number> | null = null;
        let fd: number | null = null;
        if (judge) {
          const x = tf.tensor4d(concat(all), [all.length * perClass, shape[0], shape[1], shape[2]]);
          const { labels } = judge.classify(x);
          if (g === 0) emptyHistogram = classHistogram(labels, judge.classes.length);
          else {
            // prompts that name no class (e.g. a question) are drawn but not scored
            const scored = wanted.map((w, i) => [w, i]).filter(([w]) => w >= 0);
            acc = scored.length ? conditionalAccuracy(scored.map(([, i]) => labels[i]), scored.map(([w]) => w)) : null;
            const attrs = judge.attributes;
            if (scored.length && attrs.length > 1) {
              perAttribute = {};
              for (const [a, attr] of attrs.entries()) {
                const hits = scored.filter(([w, i]) => decodeCombination(attrs, labels[i])[a] === decodeCombination(attrs, w)[a]).length;
                perAttribute[attr.name] = hits / scored.length;
              }
            }
          }
          if (refFeatures) {
            const f = judge.features(x);
            fd = frechetDistance(f, refFeatures);
            f.dispose();
          }
          x.dispose();
        }
        guidanceRows.push({ guidance: g, conditionalAccuracy: acc, perAttribute, frechet: fd, images: all.length * perClass, seconds });
        const perAttr = perAttribute ? `(${Object.entries(perAttribute).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`).join(', ')}), ` : '';
        reporter.log(`guidance ${g}: ${acc === null ? '' : `conditional accuracy ${(100 * acc).toFixed(1)}% ${perAttr}`}${fd === null ? '' : `Frechet distance ${fd.toFixed(2)}, `}${all.length * perClass} images in ${seconds.toFixed(0)} s`);
      }
    } finally {
      refFeatures?.dispose();
    }
    const totalSeconds = (performance.now() - started) / 1000;
    const metricsPath = join(out, 'metrics.json');
    writeJsonAtomic(metricsPath, {
      dataset: opts.dataset,
      run: runDir,
      config: config.name,
      trained,
      steps,
      prompts,
      promptClasses: targets.map((t) => (t >= 0 ? (dataset.classes?.[t] ?? t) : null)),
      unknownWords,
      samplers: trace,
      perClass,
      guidanceRescale: phi,
      guidance: guidanceRows,
      emptyPromptHistogram: emptyHistogram && judge ? Object.fromEntries(judge.classes.map((c, i) => [c, emptyHistogram![i]])) : null,
      judge: judge ? judge.name : null,
      seconds: totalSeconds,
    });
    files.push(metricsPath);
    for (const f of files) reporter.result(f);
    return { outDir: out, runDir, trained, guidance: guidanceRows, emptyPromptHistogram: emptyHistogram, unknownWords, files, totalSeconds };
  } finally {
    judge?.dispose();
    job.dispose();
  }
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
