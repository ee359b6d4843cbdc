import { join } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError } from '@difflab/core';
import { DATA_COLOR, SAMPLE_COLOR, encodePng, panelGrid, scatterPlot } from '@difflab/viz';
import { SLOT_ALIASES, type PipelineConfig } from '../config.js';
import { Job } from '../compose.js';
import { ensureOutDir, writeFileAtomic, writeJsonAtomic } from '../io.js';
import { silentReporter, type Reporter } from '../reporter.js';
import { sharedLimits } from '../stats.js';
import { applyOverrides, runTrain } from './train.js';
import { runSample, type SampleResult } from './sample.js';

export interface AblateOptions {
  app: DependencyContainer;
  config: PipelineConfig;
  /** `slot=a,b,c`, e.g. `embedding=sinusoidal,learnable,linear,zero` or `schedule.options.T=40,50`. */
  grid: string;
  steps?: number;
  n?: number;
  outDir: string;
  reporter?: Reporter;
  /** Sampler steps (default: the config's). */
  sampleSteps?: number;
}

export interface AblationRow {
  value: string;
  trainSeconds: number;
  finalLoss: number;
  metrics: SampleResult['metrics'];
}

/** Parse `slot=a,b,c` into the slot and its values. */
export function parseGrid(grid: string): { slot: string; values: string[] } {
  const i = grid.indexOf('=');
  if (i <= 0 || i === grid.length - 1) throw new ConfigError('--grid', `expects slot=value1,value2,... got '${grid}'`);
  const slot = grid.slice(0, i).trim();
  const values = grid
    .slice(i + 1)
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (values.length === 0) throw new ConfigError('--grid', `no values for '${slot}'`);
  if (new Set(values).size !== values.length) throw new ConfigError('--grid', `values repeat in '${grid}'`);
  return { slot, values };
}

function safeName(v: string): string {
  return v.replace(/[^a-zA-Z0-9._-]+/g, '_').slice(0, 60) || 'value';
}

/**
 * Train each variant of one slot with the same seed and budget, sample each with the config's
 * sampler, and write a markdown + JSON table of the metrics and one figure of all samples.
 * Works for any slot: a plugin (`schedule=linear,cosine`, `embedding=...`, `sampler=ddpm,ddim`)
 * or any option path (`model.options.hidden=64,128`).
 */
export async function runAblate(opts: AblateOptions): Promise<{ rows: AblationRow[]; files: string[] }> {
  const reporter = opts.reporter ?? silentReporter;
  const { slot, values } = parseGrid(opts.grid);
  const canonical = slot
    .split('.')
    .map((p, k) => (k === 0 ? (SLOT_ALIASES[p] ?? p) : p))
    .join('.');
  // Validate every variant before training any.
  const variants = values.map((v) => ({ value: v, config: applyOverrides(opts.config, opts.steps, [`${canonical}=${v}`]) }));
  for (const v of variants) Job.validate(opts.app, v.config);
  const out = ensureOutDir(opts.outDir);
  const rows: AblationRow[] = [];
  const samples: { value: string; points: Float32Array }[] = [];
  let dataPts: Float32Array | null = null;
  for (const [k, v] of variants.entries()) {
    reporter.log(`== variant ${k + 1}/${variants.length}: ${canonical}=${v.value}`);
    const dir = join(out, safeName(v.value));
    const tr = await runTrain({ app: opts.app, config: v.config, outDir: join(dir, 'run'), reporter, label: `train ${v.value}` });
    const s = await runSample({ app: opts.app, runDir: tr.runDir, n: opts.n, steps: opts.sampleSteps, outDir: join(dir, 'samples'), reporter, maxFrames: 20 });
    rows.push({ value: v.value, trainSeconds: tr.seconds, finalLoss: tr.finalLoss, metrics: s.metrics });
    samples.push({ value: v.value, points: s.samples });
    if (!dataPts) dataPts = s.data;
  }
  const metricIds = Object.keys(rows[0]?.metrics ?? {});
  const head = `| ${canonical} | final loss | train s | ${metricIds.map((m) => `${m} (x floor)`).join(' | ')} |`;
  const sep = `|${'---|'.repeat(3 + metricIds.length)}`;
  const lines = rows.map(
    (r) =>
      `| ${r.value} | ${r.finalLoss.toFixed(4)} | ${r.trainSeconds.toFixed(0)} | ${metricIds
        .map((m) => {
          const e = r.metrics[m];
          return `${e.value.toPrecision(3)} (${e.ratioToFloor === null ? 'n/a' : `${e.ratioToFloor.toFixed(2)}x`})`;
        })
        .join(' | ')} |`,
  );
  const md = `# Ablation: ${canonical}\n\nConfig ${opts.config.name}, seed ${opts.config.seed}, ${variants[0].config.train.steps} training steps each, same budget and seed for every variant.\n\n${head}\n${sep}\n${lines.join('\n')}\n\n![samples](ablation.png)\n`;
  const files = [join(out, 'ablation.md'), join(out, 'ablation.json'), join(out, 'ablation.png')];
  writeFileAtomic(files[0], md);
  writeJsonAtomic(files[1], { slot: canonical, config: opts.config.name, steps: variants[0].config.train.steps, rows });
  const lim = sharedLimits(dataPts ? [dataPts] : samples.map((s) => s.points), 0.999, 1);
  const panels = samples.map((s) =>
    scatterPlot(
      [
        { points: dataPts ?? new Float32Array(), color: DATA_COLOR, alpha: 0.12 },
        { points: s.points, color: SAMPLE_COLOR },
      ],
      { width: 300, height: 300, title: `${canonical}=${s.value}`, xlim: lim, ylim: lim, pointSize: 1, alpha: 0.35, aspect: 'equal', titleScale: 1 },
    ),
  );
  writeFileAtomic(files[2], encodePng(panelGrid(panels, { cols: Math.min(4, panels.length), title: `ablation of ${canonical}: samples (orange) over data (blue)` })));
  for (const f of files) reporter.result(f);
  return { rows, files };
}

