import type { InjectionToken } from 'tsyringe';
import type { PluginRegistry } from './plugin.js';
import type { Rng } from './rng.js';
import type { NoiseSchedule } from './schedule.js';
import type { InputEmbedding, PositionalEmbedding2D, TimestepEmbedding } from './embeddings.js';
import type { Conditioner } from './conditioner.js';
import type { Dataset } from './dataset.js';
import type { Denoiser } from './denoiser.js';
import type { Sampler } from './sampler.js';

/**
 * Dependency-injection tokens. Symbols (via Symbol.for, so two copies of core agree) with a
 * phantom type, resolved explicitly: difflab never relies on decorator metadata, which esbuild
 * (Vite, Vitest) does not emit.
 */
export type Token<T> = InjectionToken<T> & symbol & { readonly __type?: T };

function token<T>(name: string): Token<T> {
  return Symbol.for(`difflab.${name}`) as Token<T>;
}

export const TOKENS = {
  Registry: token<PluginRegistry>('Registry'),
  Rng: token<Rng>('Rng'),
  Schedule: token<NoiseSchedule>('Schedule'),
  TimestepEmbedding: token<TimestepEmbedding>('TimestepEmbedding'),
  InputEmbedding: token<InputEmbedding>('InputEmbedding'),
  PositionalEmbedding: token<PositionalEmbedding2D>('PositionalEmbedding'),
  Conditioner: token<Conditioner>('Conditioner'),
  Dataset: token<Dataset>('Dataset'),
  Denoiser: token<Denoiser>('Denoiser'),
  Sampler: token<Sampler>('Sampler'),
  /** The resolved job config object (plain JSON). */
  Config: token<Record<string, unknown>>('Config'),
} as const;
