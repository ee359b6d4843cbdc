import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, type Denoiser, type Metric, Rng, registryOf, type Sampler } from '@difflab/core';
import { type MetricReportEntry, metricReport } from '@difflab/metrics';
import { denoise } from '@difflab/samplers';
import { encodePng, linePlot } from '@difflab/viz';
import { ensureOutDir, writeFileAtomic, writeJsonAtomic } from '../io.js';
import { silentReporter, type Reporter } from '../reporter.js';
import { onCpuBackend, readAsync } from '../tensors.js';
import { dataPoints, independentData, loadRun, samplerRefFor } from './sample.js';

export interface NfeCurveOptions {
  app: DependencyContainer;
  /** A run directory written by `runTrain`. */
  runDir: string;
  /** Sampler plugin ids, e.g. ['ddpm', 'ddim', 'euler', 'heun', 'dpmpp-2m']. */
  samplers: readonly string[];
  /** Inference step counts, e.g. [5, 10, 20, 50, 100]; counts above the schedule's T are skipped. */
  steps: readonly number[];
  /** Points per sample (default 4000). */
  n?: number;
  /** Default RUN/nfe-curve. */
  outDir?: string;
  reporter?: Reporter;
}

export interface NfeRow {
  sampler: string;
  /** Inference steps asked for (`setTimesteps(steps)`). */
  steps: number;
  /** Model evaluations actually made (2 per step for Heun, ...). */
  nfe: number;
  seconds: number;
  /** Sliced W2 to the data, its floor (data vs data) and the ratio (NaN when samples are not finite). */
  sw2: MetricReportEntry;
  /** Sample values that are NaN or infinite (a diverged sampler; e.g. DPM-Solver with repeated timesteps when the steps approach T). */
  nonFinite: number;
}

export interface NfeCurveResult {
  outDir: string;
  rows: NfeRow[];
  /** DDPM with all T steps, the reference of the target (when 'ddpm' is registered). */
  reference: NfeRow | null;
  skipped: { sampler: string; steps: number; reason: string }[];
  files: string[];
}

/** Parse '5,10,20' into sorted distinct positive integers; errors name the flag. */
export function parseStepList(text: string, flag = '--steps'): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const vals = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || vals.some((v) => !Number.isInteger(v) || v < 1 || v > 100_000)) {
    throw new ConfigError(flag, `expects integers in [1, 100000] separated by commas (e.g. 5,10,20,50), got '${text}'`);
  }
  return [...new Set(vals)].sort((a, b) => a - b);
}

/** A model wrapper that counts evaluations (rows of a batch are one evaluation). */
function counting(model: Denoiser): { model: Pick<Denoiser, 'predict' | 'predictAt'>; calls: () => number } {
  let calls = 0;
  const wrapped: Pick<Denoiser, 'predict' | 'predictAt'> = {
    predict: (x, t, c) => {
      calls++;
      return model.predict(x, t, c);
    },
  };
  if (model.predictAt) {
    const at = model.predictAt.bind(model);
    wrapped.predictAt = (x, t, c) => {
      calls++;
      return at(x, t, c);
    };
  }
  return { model: wrapped, calls: () => calls };
}

/**
 * Quality per model evaluation: sample a trained run with every sampler at every step count
 * (same initial noise seed), and write the sliced W2 (ratio to the data floor) against the number
 * of model evaluations as a table (nfe-curve.md / .json) and a plot (nfe-curve.png). DDPM with all
 * T steps is added as the reference line.
 */
export async function runNfeCurve(opts: NfeCurveOptions): Promise<NfeCurveResult> {
  const reporter = opts.reporter ?? silentReporter;
  if (opts.samplers.length === 0) throw new ConfigError('--samplers', 'give at least one sampler id');
  const { job, config } = loadRun(opts.app, opts.runDir);
  try {
    const reg = registryOf(job.container);
    for (const id of opts.samplers) reg.get('sampler', id, '--samplers');
    const T = job.schedule.numTrainTimesteps;
    const n = opts.n ?? 4000;
    if (!Number.isInteger(n) || n < 2) throw new ConfigError('--n', `must be an integer >= 2, got ${n}`);
    const outDir = ensureOutDir(opts.outDir ?? join(opts.runDir, 'nfe-curve'));
    const model = job.getModel();
    const metric = reg.create<Metric>('metric', { id: 'sliced-w2', options: {} }, job.container, 'metrics');
    const { data, dataB } = await onCpuBackend(() => ({ data: dataPoints(job, n), dataB: independentData(job, n) }));
    const dim = model.sampleShape[0];
    const skipped: NfeCurveResult['skipped'] = [];
    const runOne = async (id: string, steps: number): Promise<NfeRow | null> => {
      let sampler: Sampler;
      try {
        sampler = reg.create<Sampler>('sampler', samplerRefFor(opts.app, config, id, steps), job.container, 'sampler');
      } catch (e) {
        skipped.push({ sampler: id, steps, reason: (e as Error).message.split('\n')[0] });
        return null;
      }
      const counter = counting(model);
      const t0 = performance.now();
      let x0: Float32Array | null = null;
      for (const s of denoise({ sampler, model: counter.model, shape: [n, ...model.sampleShape], rng: new Rng(config.seed + 4242), numSteps: steps })) {
        if (s.index === sampler.timesteps.length - 1) x0 = await readAsync(s.prevSample.clone());
      }
      const seconds = (performance.now() - t0) / 1000;
      if (!x0) throw new Error(`${id}: the sampler produced no steps`);
      const gen = x0;
      const nonFinite = gen.reduce((c, v) => c + (Number.isFinite(v) ? 0 : 1), 0);
      const sw2 = await onCpuBackend(() => {
        const g = tf.tensor2d(gen, [n, dim]);
        try {
          return metricReport(g, data, dataB, { 'sliced-w2': metric }, new Rng(config.seed + 99))['sliced-w2'];
        } finally {
          g.dispose();
        }
      });
      const row = { sampler: id, steps, nfe: counter.calls(), seconds, sw2, nonFinite };
      const quality = nonFinite ? `diverged (${nonFinite} non-finite values)` : `SW2 ${sw2.value.toFixed(4)} (${sw2.ratioToFloor?.toFixed(2)}x floor)`;
      reporter.log(`${id.padEnd(16)} ${String(steps).padStart(4)} steps, ${String(row.nfe).padStart(4)} NFE: ${quality} in ${seconds.toFixed(1)} s`);
      return row;
    };
    const rows: NfeRow[] = [];
    for (const id of opts.samplers) {
      for (const steps of opts.steps) {
        if (steps > T) {
          skipped.push({ sampler: id, steps, reason: `more steps than the schedule's T = ${T}` });
          continue;
        }
        const r = await runOne(id, steps);
        if (r) rows.push(r);
      }
    }
    let reference = rows.find((r) => r.sampler === 'ddpm' && r.steps === T) ?? null;
    if (!reference && reg.has('sampler', 'ddpm')) reference = await runOne('ddpm', T);
    tf.dispose([data, dataB]);

    const files: string[] = [];
    const ratio = (r: NfeRow) => r.sw2.ratioToFloor ?? r.sw2.value;
    const head = '| sampler | steps | NFE | SW2 | x floor | vs DDPM (all T) | seconds |';
    const fmtRow = (r: NfeRow) =>
      r.nonFinite
        ? `| ${r.sampler} | ${r.steps} | ${r.nfe} | diverged (${r.nonFinite} non-finite values) | | | ${r.seconds.toFixed(1)} |`
        : `| ${r.sampler} | ${r.steps} | ${r.nfe} | ${r.sw2.value.toFixed(4)} | ${ratio(r).toFixed(2)} | ${reference ? `${((r.sw2.value / reference.sw2.value - 1) * 100).toFixed(1)}%` : 'n/a'} | ${r.seconds.toFixed(1)} |`;
    const md = [
      `# Quality per model evaluation: ${config.name}`,
      '',
      `Run ${opts.runDir}; ${n} points per sample, the same initial noise for every row; sliced W2 against the training data (floor: an independent data sample, ${rows[0]?.sw2.floor.toFixed(4) ?? 'n/a'}).`,
      reference ? `Reference: DDPM with all T = ${T} steps, SW2 ${reference.sw2.value.toFixed(4)}.` : 'No DDPM reference (ddpm is not registered).',
      '',
      head,
      `|${'---|'.repeat(7)}`,
      ...rows.map(fmtRow),
      ...(reference && !rows.includes(reference) ? [fmtRow(reference)] : []),
      '',
      ...(skipped.length ? ['Skipped:', '', ...skipped.map((s) => `- ${s.sampler} at ${s.steps} steps: ${s.reason}`), ''] : []),
      '![SW2 against NFE](nfe-curve.png)',
      '',
    ].join('\n');
    const mdPath = join(outDir, 'nfe-curve.md');
    writeFileAtomic(mdPath, md);
    files.push(mdPath);
    const jsonPath = join(outDir, 'nfe-curve.json');
    writeJsonAtomic(jsonPath, { run: opts.runDir, config: config.name, n, T, samplers: opts.samplers, steps: opts.steps, rows, reference, skipped });
    files.push(jsonPath);
    const series = opts.samplers
      .map((id) => rows.filter((r) => r.sampler === id).sort((a, b) => a.nfe - b.nfe))
      .filter((rs) => rs.length > 0)
      .map((rs) => ({ x: rs.map((r) => r.nfe), y: rs.map(ratio), label: rs[0].sampler, lineWidth: 2 }));
    const maxNfe = Math.max(...rows.map((r) => r.nfe), reference?.nfe ?? 0);
    if (reference) series.push({ x: [1, maxNfe], y: [ratio(reference), ratio(reference)], label: `ddpm, all ${T} steps`, lineWidth: 1 });
    if (series.length) {
      const fig = linePlot(series, { width: 640, height: 400, title: `SW2 / floor against model evaluations: ${config.name}`, xlabel: 'model evaluations (NFE)', ylabel: 'sliced W2 / floor', logY: true });
      const pngPath = join(outDir, 'nfe-curve.png');
      writeFileAtomic(pngPath, encodePng(fig));
      files.push(pngPath);
    }
    for (const f of files) reporter.result(f);
    return { outDir, rows, reference, skipped, files };
  } finally {
    job.dispose();
  }
}
