import * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, type Rng, type Dataset } from '@difflab/core';
import { encodeGif, encodePng, panelGrid, scatterPlot, DATA_COLOR } from '@difflab/viz';
import type { PipelineConfig } from '../config.js';
import { Job } from '../compose.js';
import { ensureOutDir, writeFileAtomic, writeJsonAtomic } from '../io.js';
import { silentReporter, type Reporter } from '../reporter.js';
import { readAsync } from '../tensors.js';
import { meanColumnCorrelation, meanColumnVariance, meanNorm, sharedLimits } from '../stats.js';
import { join } from 'node:path';

export interface ForwardOptions {
  app: DependencyContainer;
  config: PipelineConfig;
  /** Timesteps to show; default config.forward.t. */
  t?: number[];
  /** Number of points; default config.forward.n. */
  n?: number;
  outDir: string;
  reporter?: Reporter;
  /** Most frames in the GIF (every timestep when T is at most this). */
  maxFrames?: number;
}

export interface ForwardRow {
  t: number;
  alphaBar: number;
  /** sqrt(1 - alpha-bar): the standard deviation of the added noise. */
  noiseStd: number;
  /** Mean distance of the points from the origin. */
  meanDistance: number;
  /** Pearson correlation between x_t and x_0 (mean over the coordinates). */
  correlation: number;
  /** Correlation predicted by the schedule: sqrt(abar) s / sqrt(abar s^2 + 1 - abar), s^2 the data variance. */
  correlationTheory: number;
}

export interface ForwardResult {
  rows: ForwardRow[];
  files: string[];
}

/** The dataset's fixed set as one tensor when it has one (`all()`), else null. */
export function fixedPoints(dataset: Dataset): tf.Tensor2D | null {
  const withAll = dataset as Dataset & { all?: () => tf.Tensor2D };
  return typeof withAll.all === 'function' && Number.isFinite(dataset.size) ? withAll.all() : null;
}

/** Points of the dataset to noise: its fixed set when it has one of that size, else a fresh draw. */
export function referencePoints(dataset: Dataset, n: number, rng: Rng): tf.Tensor2D {
  if (dataset.size === n) {
    const all = fixedPoints(dataset);
    if (all) return all;
  }
  return dataset.sample(n, rng).x as tf.Tensor2D;
}

/**
 * Lab task 4: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) on the dataset, drawn at each
 * requested t. One noise draw eps is shared by every t (x_t = sqrt(abar_t) x_0 + sqrt(1-abar_t) eps),
 * so the animation moves each point smoothly; each frame is still an exact draw from q(x_t | x_0).
 */
export async function runForward(opts: ForwardOptions): Promise<ForwardResult> {
  const { config } = opts;
  const reporter = opts.reporter ?? silentReporter;
  const n = opts.n ?? config.forward.n;
  const ts = opts.t ?? config.forward.t;
  // The whole config is checked, not only the parts this job uses: a bad model or sampler id in
  // the file is reported now, not at the next command.
  Job.validate(opts.app, config);
  const job = new Job(opts.app, config);
  const T = job.schedule.numTrainTimesteps;
  for (const t of ts) {
    if (!Number.isInteger(t) || t < 0 || t >= T) {
      job.dispose();
      throw new ConfigError('--t', `timestep ${t} is outside [0, ${T - 1}] for this schedule (T = ${T})`);
    }
  }
  const outDir = ensureOutDir(opts.outDir);
  const rng = job.rng.fork();
  const x0 = referencePoints(job.dataset, n, rng);
  const eps = tf.randomNormal(x0.shape, 0, 1, 'float32', rng.tfSeed());
  const x0Data = (await x0.data()) as Float32Array;
  const d = x0.shape[1];
  const s2 = meanColumnVariance(x0Data, d);
  const draw = (t: number): Promise<Float32Array> => readAsync(tf.tidy(() => job.schedule.addNoise(x0, eps, t)));

  const frames: Float32Array[] = [];
  for (const t of ts) frames.push(await draw(t));
  const rows: ForwardRow[] = ts.map((t, i) => {
    const ab = job.schedule.alphasCumprod[t];
    return {
      t,
      alphaBar: ab,
      noiseStd: Math.sqrt(1 - ab),
      meanDistance: meanNorm(frames[i], d),
      correlation: meanColumnCorrelation(frames[i], x0Data, d),
      correlationTheory: Math.sqrt(ab * s2) / Math.sqrt(ab * s2 + 1 - ab),
    };
  });
  const lim = sharedLimits([...frames, x0Data], 0.999, 1);
  const panelFor = (pts: Float32Array, t: number) =>
    scatterPlot(pts, {
      width: 300,
      height: 300,
      title: `t = ${t}, abar = ${formatAb(job.schedule.alphasCumprod[t])}`,
      xlim: lim,
      ylim: lim,
      pointSize: 1.1,
      alpha: 0.35,
      color: DATA_COLOR,
      aspect: 'equal',
    });
  const figure = panelGrid(
    frames.map((f, i) => panelFor(f, ts[i])),
    { cols: Math.min(frames.length, 3), title: `q(x_t | x_0): ${config.name} (${job.schedule.id}, T = ${T})` },
  );
  const files: string[] = [];
  const png = join(outDir, 'forward.png');
  writeFileAtomic(png, encodePng(figure));
  files.push(png);

  // Animation over all timesteps (subsampled for long schedules), starting at x_0.
  const maxFrames = opts.maxFrames ?? 60;
  const stepsAll: number[] = [];
  const stride = Math.max(1, Math.ceil(T / maxFrames));
  for (let t = 0; t < T; t += stride) stepsAll.push(t);
  if (stepsAll[stepsAll.length - 1] !== T - 1) stepsAll.push(T - 1);
  const gifFrames = [];
  for (const t of stepsAll) gifFrames.push(panelFor(await draw(t), t));
  const gif = join(outDir, 'forward.gif');
  const delays = stepsAll.map((_, i) => (i === stepsAll.length - 1 ? 1500 : 120));
  writeFileAtomic(gif, encodeGif(gifFrames, { delayMs: delays }));
  files.push(gif);

  const json = join(outDir, 'forward.json');
  writeJsonAtomic(json, {
    config: config.name,
    schedule: { id: job.schedule.id, T, ...job.schedule.config },
    n,
    dataVariance: s2,
    rows,
  });
  files.push(json);
  x0.dispose();
  eps.dispose();
  job.dispose();
  for (const r of rows) {
    reporter.log(`t=${String(r.t).padStart(4)}  abar=${formatAb(r.alphaBar)}  mean |x_t|=${r.meanDistance.toFixed(3)}  corr(x_t, x_0)=${r.correlation.toFixed(3)}`);
  }
  for (const f of files) reporter.result(f);
  return { rows, files };
}

function formatAb(v: number): string {
  return v >= 0.01 ? v.toFixed(3) : v.toExponential(1);
}
