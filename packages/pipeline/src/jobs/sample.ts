import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, FileFormatError, normalizeRef, type NoiseSchedule, type PluginRef, registryOf, type Dataset, type Metric, Rng, type Sampler } from '@difflab/core';
import { loadWeights } from '@difflab/models';
import { denoise, fromDiffusersConfig } from '@difflab/samplers';
import { scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { metricReport, type MetricReportEntry } from '@difflab/metrics';
import { DATA_COLOR, SAMPLE_COLOR, encodeGif, encodePng, panelGrid, scatterPlot, type Raster } from '@difflab/viz';
import { parseConfig, type PipelineConfig } from '../config.js';
import { Job } from '../compose.js';
import { samplerRefFor } from '../sampler-ref.js';
import { fixedPoints, referencePoints } from './forward.js';
import { ensureOutDir, openAtomic, writeFileAtomic, writeJsonAtomic } from '../io.js';
import { silentReporter, type Reporter } from '../reporter.js';
import { meanColumnVariance, meanNearestDistance, sharedLimits } from '../stats.js';
import { onCpuBackend, readAndDispose, readAsync } from '../tensors.js';

export interface SampleOptions {
  app: DependencyContainer;
  /** A run directory written by `runTrain`. */
  runDir: string;
  /** Sampler id (options carried over from the run's config where they apply). */
  sampler?: string;
  /**
   * A diffusers `scheduler_config.json` to sample with instead (its `_class_name` picks the
   * sampler, its keys the options). The noise schedule it describes must be the run's.
   */
  schedulerConfig?: string;
  steps?: number;
  n?: number;
  /** Default RUN/samples-<sampler>[-<steps>]. */
  outDir?: string;
  reporter?: Reporter;
  /** Number of steps shown in trace.png (default 8). */
  tracePanels?: number;
  /** Most frames in trace.gif. */
  maxFrames?: number;
  /** Points per cloud in the trace figures and the per-step metric (default 2000). */
  tracePoints?: number;
  /** Samples per chunk when n is larger (default 50,000); see SAMPLE_CHUNK. */
  chunkSize?: number;
}

/** Default chunk of a large sampling run: memory is bounded by this, not by n. */
export const SAMPLE_CHUNK = 50_000;

export interface TraceRow {
  index: number;
  t: number;
  /** Sliced W2 of the predicted x_0 against the data. */
  sw2PredX0: number;
  /** Sliced W2 of x_{t-1} against the data. */
  sw2Prev: number;
  /** Mean distance of the predicted x_0 points to their nearest data point (distance to the data manifold). */
  nnPredX0: number;
  /** Mean distance of the x_{t-1} points to their nearest data point. */
  nnPrev: number;
  /** Variance per coordinate of the predicted x_0 and of x_{t-1} (the data's is `dataVariance`). */
  varPredX0: number;
  varPrev: number;
}

export interface SampleResult {
  outDir: string;
  sampler: string;
  steps: number;
  n: number;
  seconds: number;
  metrics: Record<string, MetricReportEntry>;
  trace: TraceRow[];
  files: string[];
  /** Variance per coordinate of the data (compare with the trace's variances). */
  dataVariance: number;
  /** The samples [n, d] interleaved, and the data they were compared with. */
  samples: Float32Array;
  data: Float32Array;
}

/** A JSON file's value, with one-line errors naming `field` or the file. */
function readJsonFile(path: string, field: string): unknown {
  if (!existsSync(path)) throw new ConfigError(field, `'${path}' does not exist; give a diffusers scheduler_config.json`);
  if (statSync(path).isDirectory()) throw new ConfigError(field, `'${path}' is a directory; give a diffusers scheduler_config.json`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

/**
 * The run's schedule, when a diffusers config describes the same one (alpha-bar within 1e-7
 * everywhere); the model only knows the schedule it was trained with.
 */
function sameSchedule(fromFile: NoiseSchedule, run: NoiseSchedule, path: string): NoiseSchedule {
  const a = fromFile.alphasCumprod;
  const b = run.alphasCumprod;
  if (a.length !== b.length) throw new ConfigError(`${path}: num_train_timesteps`, `is ${a.length} but the run was trained with T = ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  if (worst > 1e-7) throw new ConfigError(`${path}: beta_schedule`, `describes another noise schedule than the run's (alpha-bar differs by up to ${worst.toExponential(2)}); use the run's scheduler_config.json as a base`);
  return run;
}

/** A run directory's config.json, validated; one-line errors name `field` (e.g. --run, --resume). */
export function readRunConfig(runDir: string, field = '--run'): PipelineConfig {
  if (!existsSync(runDir)) throw new ConfigError(field, `'${runDir}' does not exist; give a directory written by 'difflab train'`);
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new ConfigError(field, `'${runDir}' has no config.json; give a directory written by 'difflab train'`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new FileFormatError(cfgPath, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return parseConfig(raw, cfgPath);
}

/** Read a run's config and weights back into a job with a ready model. */
export function loadRun(app: DependencyContainer, runDir: string): { job: Job; config: PipelineConfig } {
  const config = readRunConfig(runDir);
  Job.validate(app, config);
  const job = new Job(app, config);
  const modelPath = join(runDir, 'model.json');
  const binPath = join(runDir, 'weights.bin');
  for (const p of [modelPath, binPath]) if (!existsSync(p)) throw new FileFormatError(p, 'missing; the run did not finish training');
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(readFileSync(modelPath, 'utf8'));
  } catch (e) {
    job.dispose();
    throw new FileFormatError(modelPath, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  try {
    loadWeights(job.weights(), modelJson, new Uint8Array(readFileSync(binPath)));
  } catch (e) {
    job.dispose();
    throw e;
  }
  return { job, config };
}

export { samplerRefFor } from '../sampler-ref.js';

/** An independent data sample of size n (another seed of the same dataset), for metric floors. */
export function independentData(job: Job, n: number, seedOffset = 1): tf.Tensor2D {
  const ref = normalizeRef(job.config.dataset);
  const reg = registryOf(job.container);
  const seed = Number(ref.options.seed ?? 0) + 1000 + seedOffset;
  let ds: Dataset;
  try {
    ds = reg.create<Dataset>('dataset', { id: ref.id, options: { ...ref.options, seed, size: n } }, job.container, 'dataset');
  } catch {
    ds = job.dataset;
  }
  return ds !== job.dataset ? referencePoints(ds, n, new Rng(seed)) : (ds.sample(n, new Rng(seed)).x as tf.Tensor2D);
}

/** The training data itself (all points of a fixed set), or n fresh points. */
export function dataPoints(job: Job, n: number): tf.Tensor2D {
  return fixedPoints(job.dataset) ?? (job.dataset.sample(n, new Rng(job.config.seed + 7)).x as tf.Tensor2D);
}

function pickIndices(count: number, k: number): number[] {
  if (count <= k) return Array.from({ length: count }, (_, i) => i);
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.round((i * (count - 1)) / (k - 1)));
  return [...out];
}

/**
 * Lab tasks 7-8: sample p_theta(x_0) from pure noise with a sampler, compare with q(x_0), and
 * trace every reverse step (x_t, predicted x_0, x_{t-1}).
 */
export async function runSample(opts: SampleOptions): Promise<SampleResult> {
  const reporter = opts.reporter ?? silentReporter;
  const { job, config } = loadRun(opts.app, opts.runDir);
  /** samples.bin until it is committed: removed if anything fails before. */
  let pendingSamples: ReturnType<typeof openAtomic> | null = null;
  try {
    let sampler: Sampler;
    let samplerId: string;
    /** What metrics.json records as the sampler: the plugin reference, or the diffusers config used. */
    let ref: unknown;
    if (opts.schedulerConfig) {
      if (opts.sampler) throw new ConfigError('--scheduler-config', 'names its own sampler (_class_name); leave out --sampler');
      const json = readJsonFile(opts.schedulerConfig, '--scheduler-config');
      const runSchedule = job.schedule;
      sampler = fromDiffusersConfig(json, (j) => sameSchedule(scheduleFromDiffusersConfig(j, opts.schedulerConfig), runSchedule, opts.schedulerConfig!), {
        numInferenceSteps: opts.steps ?? config.sample.steps ?? null,
      });
      samplerId = sampler.id;
      ref = { id: samplerId, schedulerConfig: opts.schedulerConfig, diffusers: sampler.toDiffusersConfig() };
    } else {
      ref = samplerRefFor(opts.app, config, opts.sampler, opts.steps ?? config.sample.steps ?? undefined);
      sampler = registryOf(job.container).create<Sampler>('sampler', ref as PluginRef, job.container, 'sampler');
      samplerId = normalizeRef(ref as PluginRef).id;
    }
    const total_n = opts.n ?? config.sample.n;
    // Large n streams: the first chunk is traced, measured and drawn; every chunk is sampled on
    // its own and appended to samples.bin, so memory stays bounded whatever n is.
    const chunkSize = opts.chunkSize ?? SAMPLE_CHUNK;
    const n = Math.min(total_n, chunkSize);
    const outDir = ensureOutDir(opts.outDir ?? join(opts.runDir, `samples-${samplerId}${opts.steps ? `-${opts.steps}` : ''}`));
    const model = job.getModel();
    const metrics: Metric[] = job.metrics();
    // Per-step trace metric: sliced W2 with 64 projections on the first tracePoints points, cheap
    // enough to run at every step (the final samples get the full metrics below).
    const sw2 = registryOf(job.container).create<Metric>('metric', { id: 'sliced-w2', options: { projections: 64 } }, job.container, 'metrics');
    const tracePts = Math.min(n, opts.tracePoints ?? 2000);
    const rng = new Rng(config.seed + 12345);
    const frames: { index: number; t: number; xt: Float32Array; x0: Float32Array; prev: Float32Array }[] = [];
    const t0 = performance.now();
    let final: tf.Tensor | null = null;
    let total = 0;
    let index = 0;
    // The loop only samples and reads back the first tracePoints points of x_t, the predicted
    // x_0 and x_{t-1} (asynchronously: WebGPU cannot read synchronously); every measurement runs
    // afterwards, on a CPU backend.
    const head = (x: tf.Tensor) => readAsync(tf.slice(x, [0, 0], [tracePts, -1]));
    for (const s of denoise({ sampler, model, shape: [n, ...model.sampleShape], rng })) {
      total = sampler.timesteps.length;
      frames.push({ index: s.index, t: s.t, xt: await head(s.xt), x0: await head(s.predOriginalSample), prev: await head(s.prevSample) });
      if (final) final.dispose();
      final = s.prevSample.clone();
      index++;
      const el = (performance.now() - t0) / 1000;
      if (index % Math.max(1, Math.floor(total / 20)) === 0 || index === total) {
        reporter.progress({ label: `sample ${samplerId}`, step: index, total, rate: index / el, etaSec: ((total - index) * el) / index });
      }
    }
    let seconds = (performance.now() - t0) / 1000;
    if (!final) throw new ConfigError('--steps', 'the sampler produced no steps');
    const genData = await readAsync(final);
    let finite = genData.every(Number.isFinite);
    const samplesPath = join(outDir, 'samples.bin');
    const samplesOut = openAtomic(samplesPath);
    pendingSamples = samplesOut;
    try {
      samplesOut.write(new Uint8Array(genData.buffer, genData.byteOffset, genData.byteLength));
      for (let done = n, c = 1; done < total_n; c++) {
        const m = Math.min(chunkSize, total_n - done);
        let last: tf.Tensor | null = null;
        for (const s of denoise({ sampler, model, shape: [m, ...model.sampleShape], rng: new Rng(config.seed + 12345 + c) })) {
          last?.dispose();
          last = s.prevSample.clone();
        }
        const part = await readAsync(last!);
        finite &&= part.every(Number.isFinite);
        samplesOut.write(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
        done += m;
        const el = (performance.now() - t0) / 1000;
        reporter.progress({ label: `sample ${samplerId} (chunks of ${chunkSize})`, step: done, total: total_n, rate: done / el, etaSec: ((total_n - done) * el) / done });
      }
    } catch (e) {
      samplesOut.abort();
      throw e;
    }
    seconds = (performance.now() - t0) / 1000;
    if (!finite) reporter.log('warning: the samples contain NaN or Inf values');

    const { report, trace, dataArr, traceDataArr } = await onCpuBackend(() => {
      const data = dataPoints(job, n);
      const dataB = independentData(job, n);
      const generated = tf.tensor2d(genData, [n, model.sampleShape[0]]);
      const report = metricReport(generated, data, dataB, metrics, new Rng(config.seed + 99));
      const traceData = data.shape[0] > tracePts ? tf.slice(data, [0, 0], [tracePts, -1]) : data.clone();
      const nnRef = readAndDispose(tf.slice(data, [0, 0], [Math.min(data.shape[0], 2000), -1]));
      const m = (a: Float32Array) => {
        const tt = tf.tensor2d(a, [tracePts, 2]);
        try {
          return sw2.compute(tt, traceData, new Rng(1));
        } finally {
          tt.dispose();
        }
      };
      const nnPts = Math.min(500, tracePts) * 2;
      const trace: TraceRow[] = frames.map((f) => ({
        index: f.index,
        t: f.t,
        sw2PredX0: m(f.x0),
        sw2Prev: m(f.prev),
        nnPredX0: meanNearestDistance(f.x0.subarray(0, nnPts), nnRef),
        nnPrev: meanNearestDistance(f.prev.subarray(0, nnPts), nnRef),
        varPredX0: meanColumnVariance(f.x0),
        varPrev: meanColumnVariance(f.prev),
      }));
      const dataArr = readAndDispose(data);
      const traceDataArr = readAndDispose(traceData);
      generated.dispose();
      dataB.dispose();
      return { report, trace, dataArr, traceDataArr };
    });
    const files: string[] = [];
    const lim = sharedLimits([dataArr], 0.999, 1);
    const plot = (pts: Float32Array, title: string, color: typeof DATA_COLOR, l = lim) =>
      scatterPlot(pts, { width: 320, height: 320, title, xlim: l, ylim: l, color, pointSize: 1.1, alpha: 0.35, aspect: 'equal' });
    const sw = report['sliced-w2'];
    const headline = sw ? `SW2 ${sw.value.toFixed(4)} (floor ${sw.floor.toFixed(4)}, ${sw.ratioToFloor?.toFixed(2)}x)` : '';
    const samplesFig = panelGrid(
      [
        plot(genData, `p_theta(x_0): ${samplerId}, ${total} steps`, SAMPLE_COLOR),
        plot(dataArr, 'q(x_0): data', DATA_COLOR),
        scatterPlot(
          [
            { points: dataArr, label: 'q(x_0)', color: DATA_COLOR },
            { points: genData, label: 'p_theta(x_0)', color: SAMPLE_COLOR },
          ],
          { width: 320, height: 320, title: 'overlay', xlim: lim, ylim: lim, pointSize: 1.0, alpha: 0.25, aspect: 'equal' },
        ),
      ],
      { cols: 3, title: `${config.name}: ${headline}` },
    );
    const write = (name: string, bytes: Uint8Array) => {
      const p = join(outDir, name);
      writeFileAtomic(p, bytes);
      files.push(p);
    };
    write('samples.png', encodePng(samplesFig));

    // trace.png: rows x_t, predicted x_0, x_{t-1} at ~8 steps; shared axes over all frames.
    const traceLim = sharedLimits([...frames.map((f) => f.xt), dataArr], 0.995, 1);
    const picks = pickIndices(frames.length, opts.tracePanels ?? 8);
    const panels: Raster[] = [];
    for (const [row, key, color] of [
      ['x_t', 'xt', DATA_COLOR],
      ['pred x_0', 'x0', SAMPLE_COLOR],
      ['x_t-1', 'prev', '#2ca02c'],
    ] as const) {
      for (const i of picks) {
        const f = frames[i];
        panels.push(
          scatterPlot(f[key], { width: 220, height: 220, title: `${row}, t=${f.t}`, xlim: traceLim, ylim: traceLim, color, pointSize: 1, alpha: 0.35, aspect: 'equal', titleScale: 1 }),
        );
      }
    }
    write('trace.png', encodePng(panelGrid(panels, { cols: picks.length, title: `reverse process, ${samplerId}: x_t (top), predicted x_0 (middle), x_{t-1} (bottom)` })));

    // trace.gif: every step (subsampled to maxFrames), x_t and predicted x_0 over the data.
    const maxFrames = opts.maxFrames ?? 80;
    const gifIdx = pickIndices(frames.length, maxFrames);
    const gifFrames = gifIdx.map((i) => {
      const f = frames[i];
      return scatterPlot(
        [
          { points: traceDataArr, label: 'data', color: [160, 160, 160, 1], alpha: 0.15 },
          { points: f.xt, label: 'x_t', color: DATA_COLOR },
          { points: f.x0, label: 'pred x_0', color: SAMPLE_COLOR },
        ],
        { width: 360, height: 360, title: `step ${f.t === frames[0].t ? 1 : i + 1}/${frames.length}, t = ${f.t}`, xlim: traceLim, ylim: traceLim, pointSize: 1, alpha: 0.4, aspect: 'equal' },
      );
    });
    const delays = gifIdx.map((_, k) => (k === gifIdx.length - 1 ? 2000 : 100));
    write('trace.gif', encodeGif(gifFrames, { delayMs: delays }));

    samplesOut.commit();
    files.push(samplesPath);
    const metricsPath = join(outDir, 'metrics.json');
    writeJsonAtomic(metricsPath, {
      run: opts.runDir,
      config: config.name,
      sampler: ref,
      steps: total,
      // one model evaluation per entry of the timesteps (second-order samplers repeat entries)
      nfe: total,
      n: total_n,
      seconds,
      dataVariance: meanColumnVariance(dataArr),
      samplesFile: { file: 'samples.bin', dtype: 'float32', byteOrder: 'little-endian', shape: [total_n, model.sampleShape[0]] },
      // metrics, figures and the trace use the first chunk (all samples when n <= chunkSize)
      metricPoints: n,
      chunkSize,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      metrics: report,
      trace,
    });
    files.push(metricsPath);
    const samples = genData.slice();
    const dataCopy = dataArr.slice();
    reporter.log(`${samplerId}, ${total} steps, ${total_n} samples in ${seconds.toFixed(1)} s: ${headline}`);
    for (const f of files) reporter.result(f);
    return { outDir, sampler: samplerId, steps: total, n: total_n, seconds, metrics: report, trace, files, samples, data: dataCopy, dataVariance: meanColumnVariance(dataCopy) };
  } finally {
    (pendingSamples as ReturnType<typeof openAtomic> | null)?.abort();
    job.dispose();
  }
}
