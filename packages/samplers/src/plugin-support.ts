import { ConfigError, type DependencyContainer, PREDICTION_TYPES, type PredictionType, Rng, resolveOptional, TOKENS } from '@difflab/core';
import { z } from 'zod';
import { TIMESTEP_SPACINGS } from './discrete-sampler.js';

/** Plugin options shared by 'ddpm' and 'ddim' (camelCase of diffusers' config keys). */
export const commonSamplerOptionShape = {
  numInferenceSteps: z.number().int().min(1).nullable().default(null).describe('inference steps; null: T for ddpm, min(50, T) for ddim'),
  clipSample: z.boolean().default(true).describe('clamp predicted x_0 to [-clipSampleRange, clipSampleRange]'),
  clipSampleRange: z.number().positive().default(1).describe("clamp range (diffusers' default 1.0)"),
  predictionType: z
    .enum(PREDICTION_TYPES as [PredictionType, ...PredictionType[]])
    .nullable()
    .default(null)
    .describe("what the model predicts; null: the registered Denoiser's, else 'epsilon'"),
  timestepSpacing: z.enum(TIMESTEP_SPACINGS as ['leading', 'linspace', 'trailing']).default('leading'),
  thresholding: z.boolean().default(false).describe('dynamic thresholding of x_0 (Imagen) instead of clipSample'),
  dynamicThresholdingRatio: z.number().min(0).max(1).default(0.995).describe('quantile of |x_0| per sample for thresholding'),
  sampleMaxValue: z.number().positive().default(1).describe('largest threshold for thresholding'),
  stepsOffset: z.number().int().min(0).default(0),
  seed: z.number().int().nullable().default(null).describe("seed of the sampler's noise; null: a fork of the job's Rng, else 0"),
};

/** The prediction type: the Denoiser's when one is registered (an explicit option must agree), else the option, else 'epsilon'. */
export function resolvePredictionType(container: DependencyContainer, option: PredictionType | null): PredictionType {
  const denoiser = resolveOptional(container, TOKENS.Denoiser);
  if (denoiser) {
    if (option !== null && option !== denoiser.predictionType) {
      throw new ConfigError('sampler.options.predictionType', `'${option}' conflicts with the model, which predicts '${denoiser.predictionType}'`);
    }
    return denoiser.predictionType;
  }
  return option ?? 'epsilon';
}

/** The sampler's Rng: from `seed` when given, else a fork of the job's Rng, else seed 0. */
export function resolveSamplerRng(container: DependencyContainer, seed: number | null): Rng {
  if (seed !== null) return new Rng(seed);
  return resolveOptional(container, TOKENS.Rng)?.fork() ?? new Rng(0);
}

export function checkSteps(n: number, T: number): number {
  if (n > T) throw new ConfigError('sampler.options.numInferenceSteps', `must be <= T = ${T} (the schedule's training timesteps), got ${n}`);
  return n;
}
