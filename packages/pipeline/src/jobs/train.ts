import { join } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, NumericalError } from '@difflab/core';
import { loadWeights, saveWeights } from '@difflab/models';
import { Trainer, type ProgressEvent as TrainProgress } from '@difflab/training';
import { listCheckpoints, readLatestCheckpoint, removeStaleTemporaries, writeCheckpoint } from '../checkpoint.js';
import { encodePng, linePlot } from '@difflab/viz';
import { loadConfigObject, type PipelineConfig, setPath } from '../config.js';
import { Job } from '../compose.js';
import { ensureOutDir, writeFileAtomic, writeJsonAtomic } from '../io.js';
import { settle } from '../tensors.js';
import { readRunConfig } from './sample.js';
import { silentReporter, type Reporter } from '../reporter.js';

export interface TrainOptions {
  app: DependencyContainer;
  /** The config (ignored with `resume`, which reads RUN/config.json). */
  config?: PipelineConfig;
  /** The run directory (with `resume`: default the resumed run). */
  outDir?: string;
  /**
   * Continue the run in this directory from its newest checkpoint (RUN/checkpoints): weights,
   * optimizer, EMA, Rng and loss history, so the run ends as if it had never stopped. `steps`
   * may extend it.
   */
  resume?: string;
  /** Override config.train.steps. */
  steps?: number;
  /** `key=value` overrides (see setPath). */
  set?: readonly string[];
  reporter?: Reporter;
  /** Label of the progress bar. */
  label?: string;
  /**
   * Every this many steps: write the (EMA) weights, config and scheduler config, so a long run
   * can be sampled before it ends (replaced atomically; the final ones at the end), and a
   * resumable checkpoint under RUN/checkpoints (see checkpoint.ts; the newest two are kept).
   */
  checkpointEvery?: number;
}

export interface TrainResult {
  runDir: string;
  config: PipelineConfig;
  losses: number[];
  seconds: number;
  stepsPerSec: number;
  finalLoss: number;
  files: string[];
}

/** Apply `--steps` and `--set key=value` overrides and re-validate. */
export function applyOverrides(config: PipelineConfig, steps?: number, set: readonly string[] = []): PipelineConfig {
  let raw = structuredClone(config) as unknown as Record<string, unknown>;
  for (const kv of set) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new ConfigError('--set', `expects key=value, got '${kv}'`);
    raw = setPath(raw, kv.slice(0, i), kv.slice(i + 1));
  }
  if (steps !== undefined) (raw.train as Record<string, unknown>).steps = steps;
  return loadConfigObject(raw, '--set');
}

/** Moving average of a loss curve (window w), for the loss figure. */
export function smooth(values: readonly number[], w: number): number[] {
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    s += values[i];
    if (i >= w) s -= values[i - w];
    out.push(s / Math.min(i + 1, w));
  }
  return out;
}

/**
 * Lab tasks 5-6: train the configured denoiser. Writes RUN/config.json (the full resolved config),
 * RUN/scheduler_config.json (diffusers format), the weights (tfjs model.json + weights.bin: the EMA
 * weights when EMA is on, the live weights in RUN/raw/), RUN/loss.json and RUN/loss.png.
 */
export async function runTrain(opts: TrainOptions): Promise<TrainResult> {
  const reporter = opts.reporter ?? silentReporter;
  const resuming = opts.resume !== undefined;
  const base = resuming ? readRunConfig(opts.resume!, '--resume') : opts.config;
  if (!base) throw new ConfigError('config', 'give a config, or resume a run');
  const config = applyOverrides(base, opts.steps, opts.set);
  Job.validate(opts.app, config);
  const outDir = opts.outDir ?? opts.resume;
  if (!outDir) throw new ConfigError('--out', 'an output directory is required');
  const checkpoint = resuming ? readLatestCheckpoint(opts.resume!) : null;
  if (resuming && !checkpoint) {
    throw new ConfigError('--resume', `'${opts.resume}' has no checkpoint to resume from; train with --checkpoint-every N to write them`);
  }
  if (checkpoint && checkpoint.step > config.train.steps) {
    throw new ConfigError('--steps', `the checkpoint is at step ${checkpoint.step}, past the ${config.train.steps} steps asked for; give --steps >= ${checkpoint.step}`);
  }
  const runDir = ensureOutDir(outDir);
  removeStaleTemporaries(runDir);
  const job = new Job(opts.app, config);
  try {
    const model = job.getModel();
    const sampler = job.createSampler();
    const trainer = new Trainer({ model, conditioner: job.conditioner ?? undefined, schedule: job.schedule, dataset: job.dataset, rng: job.rng.fork(), ...config.train });
    const saved = job.weights();
    if (checkpoint) {
      loadWeights(saved, checkpoint.modelJson, checkpoint.weightsBin);
      trainer.setState(checkpoint.state);
      reporter.log(`resuming ${runDir} at step ${checkpoint.step} (${checkpoint.dir})`);
    }
    reporter.log(`training ${config.name}: ${config.model && typeof config.model === 'object' ? config.model.id : config.model}, ${config.train.steps} steps at batch ${config.train.batchSize}`);
    const label = opts.label ?? 'train';
    const onProgress = (e: TrainProgress) =>
      reporter.progress({ label, step: e.step, total: e.steps, loss: e.loss, rate: e.stepsPerSec, etaSec: e.etaSec });
    const files: string[] = [];
    const w = (name: string, data: Uint8Array | string, record = true) => {
      const p = join(runDir, name);
      writeFileAtomic(p, data);
      if (record) files.push(p);
    };
    const ema = trainer.ema;
    const vars = Object.values(saved.namedWeights());
    /** The weights (EMA ones when the trainer keeps an EMA) as model.json + weights.bin, and the raw ones under raw/. */
    const writeWeights = async (record: boolean) => {
      w('config.json', `${JSON.stringify(config, null, 2)}\n`, record);
      w('scheduler_config.json', `${JSON.stringify(sampler.toDiffusersConfig(), null, 2)}\n`, record);
      ensureOutDir(join(runDir, 'raw'));
      // Fetch the weights first: saveWeights reads synchronously, which WebGPU only allows for
      // values it has already read back.
      await settle(vars);
      const raw = saveWeights(saved);
      w('raw/model.json', `${JSON.stringify(raw.modelJson, null, 2)}\n`, record);
      w('raw/weights.bin', raw.weightsBin, record);
      let used = raw;
      if (ema) {
        ema.swapIn();
        try {
          await settle(vars);
          used = saveWeights(saved);
        } finally {
          ema.swapOut();
        }
      }
      w('model.json', `${JSON.stringify(used.modelJson, null, 2)}\n`, record);
      w('weights.bin', used.weightsBin, record);
    };
    /** A resumable checkpoint: the live weights and the trainer's whole state. */
    const writeResumable = async () => {
      await settle(vars);
      const raw = saveWeights(saved);
      const state = await trainer.getStateAsync();
      writeCheckpoint(runDir, { step: trainer.stepCount, modelJson: raw.modelJson, weightsBin: raw.weightsBin, state });
    };
    const every = opts.checkpointEvery ?? 0;
    let seconds = 0;
    for (;;) {
      // checkpoints fall on multiples of `every`, also after a resume
      const until = every > 0 ? Math.min(config.train.steps, (Math.floor(trainer.stepCount / every) + 1) * every) : config.train.steps;
      try {
        seconds += (await trainer.run(onProgress, { until })).seconds;
      } catch (e) {
        if (e instanceof NumericalError) {
          const last = listCheckpoints(runDir).at(-1);
          const kept = last !== undefined ? `; the last good checkpoint (step ${last}) is kept in ${join(runDir, 'checkpoints')}` : '';
          throw new NumericalError(`${e.message}${kept}`);
        }
        throw e;
      }
      if (trainer.stepCount >= config.train.steps) break;
      await writeWeights(false);
      await writeResumable();
      reporter.log(`checkpoint at step ${trainer.stepCount}: ${runDir}`);
    }
    const res = { seconds };
    const losses = [...trainer.lossHistory];
    await writeWeights(true);
    const win = Math.max(1, Math.round(losses.length / 100));
    const smoothed = smooth(losses, win);
    writeJsonAtomic(join(runDir, 'loss.json'), {
      steps: losses.length,
      seconds: res.seconds,
      stepsPerSec: losses.length / res.seconds,
      finalLoss: smoothed[smoothed.length - 1],
      ema: Boolean(ema),
      smoothingWindow: win,
      loss: losses,
      smoothed,
    });
    files.push(join(runDir, 'loss.json'));
    const fig = linePlot(
      [
        { y: losses, label: 'loss per step', color: [31, 119, 180, 0.25], lineWidth: 1 },
        { y: smoothed, label: `moving average (${win})`, color: '#d62728', lineWidth: 2 },
      ],
      { width: 560, height: 340, title: `training loss: ${config.name}`, xlabel: 'step', ylabel: 'MSE loss', logY: true },
    );
    w('loss.png', encodePng(fig));
    trainer.dispose();
    const finalLoss = smoothed[smoothed.length - 1];
    reporter.log(`trained ${losses.length} steps in ${res.seconds.toFixed(1)} s (${(losses.length / res.seconds).toFixed(1)} steps/s), final loss ${finalLoss.toFixed(4)}`);
    reporter.result(runDir);
    return { runDir, config, losses, seconds: res.seconds, stepsPerSec: losses.length / res.seconds, finalLoss, files };
  } finally {
    job.dispose();
  }
}
