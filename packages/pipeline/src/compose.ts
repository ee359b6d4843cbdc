import type * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import {
  type Conditioner,
  ConfigError,
  createRootContainer,
  normalizeRef,
  provide,
  registryOf,
  resolveRequired,
  Rng,
  TOKENS,
  type Dataset,
  type Denoiser,
  type Metric,
  type NoiseSchedule,
  type Sampler,
  type PluginRef,
} from '@difflab/core';
import { register as registerSchedulers } from '@difflab/schedulers';
import { register as registerEmbeddings } from '@difflab/embeddings';
import { register as registerDatasets } from '@difflab/datasets';
import { register as registerModels } from '@difflab/models';
import { register as registerSamplers } from '@difflab/samplers';
import { register as registerMetrics } from '@difflab/metrics';
import type { PipelineConfig } from './config.js';

export type Registrar = (container: DependencyContainer) => void;

/** The package registrars, in dependency order. The only place that knows every package. */
export const BUILTIN_REGISTRARS: readonly Registrar[] = [
  registerSchedulers,
  registerEmbeddings,
  registerDatasets,
  registerModels,
  registerSamplers,
  registerMetrics,
];

/** Root container with every built-in plugin plus the given third-party registrars. */
export function createApp(extra: readonly Registrar[] = []): DependencyContainer {
  const root = createRootContainer();
  for (const r of [...BUILTIN_REGISTRARS, ...extra]) r(root);
  return root;
}

/**
 * One job = one child container holding the resolved config, the job's Rng, and the plugins
 * built from the config. Everything is created eagerly except the model (it allocates weights)
 * and the sampler (it reads the model's prediction type), which are built on first use.
 */
export class Job {
  readonly container: DependencyContainer;
  readonly config: PipelineConfig;
  readonly rng: Rng;
  readonly schedule: NoiseSchedule;
  readonly dataset: Dataset;
  /** The config's conditioner (labels or captions to the model's condition), or null. */
  readonly conditioner: Conditioner | null;
  private model: Denoiser | null = null;

  constructor(root: DependencyContainer, config: PipelineConfig) {
    this.config = config;
    const c = root.createChildContainer();
    this.container = c;
    this.rng = new Rng(config.seed);
    provide(c, TOKENS.Config, config as unknown as Record<string, unknown>);
    provide(c, TOKENS.Rng, this.rng);
    const reg = registryOf(c);
    this.schedule = reg.create<NoiseSchedule>('schedule', config.schedule, c, 'schedule');
    provide(c, TOKENS.Schedule, this.schedule);
    this.dataset = reg.create<Dataset>('dataset', config.dataset, c, 'dataset');
    provide(c, TOKENS.Dataset, this.dataset);
    provide(c, TOKENS.TimestepEmbedding, reg.create('timestep-embedding', config.timestepEmbedding, c, 'timestepEmbedding'));
    provide(c, TOKENS.InputEmbedding, reg.create('input-embedding', config.inputEmbedding, c, 'inputEmbedding'));
    this.conditioner = config.conditioner ? reg.create<Conditioner>('conditioner', config.conditioner, c, 'conditioner') : null;
    if (this.conditioner) provide(c, TOKENS.Conditioner, this.conditioner);
  }

  /** Validate every plugin reference of the config without allocating weights (for early errors). */
  static validate(root: DependencyContainer, config: PipelineConfig): void {
    const reg = registryOf(root);
    const check = (kind: Parameters<typeof reg.parseOptions>[0], ref: PluginRef, path: string) => {
      const { id, options } = typeof ref === 'string' ? { id: ref, options: {} } : { id: ref.id, options: ref.options ?? {} };
      reg.get(kind, id, `${path}.id`);
      reg.parseOptions(kind, id, options, path);
    };
    check('dataset', config.dataset, 'dataset');
    check('schedule', config.schedule, 'schedule');
    check('timestep-embedding', config.timestepEmbedding, 'timestepEmbedding');
    check('input-embedding', config.inputEmbedding, 'inputEmbedding');
    check('model', config.model, 'model');
    if (config.conditioner) check('conditioner', config.conditioner, 'conditioner');
    check('sampler', config.sampler, 'sampler');
    for (const [i, m] of config.metrics.entries()) check('metric', m, `metrics[${i}]`);
  }

  getModel(): Denoiser {
    if (!this.model) {
      this.model = registryOf(this.container).create<Denoiser>('model', this.modelRef(), this.container, 'model');
      provide(this.container, TOKENS.Denoiser, this.model);
    }
    return this.model;
  }

  /** The config's model; with a conditioner, its `condDim` is the conditioner's width (wiring). */
  private modelRef(): PluginRef {
    if (!this.conditioner) return this.config.model;
    const ref = normalizeRef(this.config.model);
    const given = ref.options.condDim;
    if (given !== undefined && given !== 0 && given !== this.conditioner.dim) {
      throw new ConfigError('model.options.condDim', `is ${JSON.stringify(given)} but the conditioner '${this.conditioner.id}' gives ${this.conditioner.dim}-wide conditions; leave it out`);
    }
    return { id: ref.id, options: { ...ref.options, condDim: this.conditioner.dim } };
  }

  /**
   * What a run saves and loads: the model's weights, plus the conditioner's as
   * `conditioner.<name>` (they train together). The model itself when there is no conditioner.
   */
  weights(): Denoiser {
    const model = this.getModel();
    const cond = this.conditioner;
    if (!cond) return model;
    const view = Object.create(model) as Denoiser;
    view.namedWeights = () => {
      const out: Record<string, tf.Variable> = { ...model.namedWeights() };
      for (const [k, v] of Object.entries(cond.namedWeights())) out[`conditioner.${k}`] = v;
      return out;
    };
    return view;
  }

  /** A sampler for this job; `override` replaces the config's sampler (e.g. from `--sampler`). */
  createSampler(override?: PluginRef): Sampler {
    this.getModel();
    return registryOf(this.container).create<Sampler>('sampler', override ?? this.config.sampler, this.container, 'sampler');
  }

  metrics(): Metric[] {
    return this.config.metrics.map((m, i) => registryOf(this.container).create<Metric>('metric', m, this.container, `metrics[${i}]`));
  }

  resolve<T>(token: Parameters<typeof resolveRequired<T>>[1]): T {
    return resolveRequired(this.container, token);
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
    this.conditioner?.dispose();
    for (const tok of [TOKENS.TimestepEmbedding, TOKENS.InputEmbedding]) {
      const e = this.container.resolve(tok) as { dispose?: () => void };
      e.dispose?.();
    }
  }
}
