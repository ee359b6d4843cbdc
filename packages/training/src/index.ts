import type { DependencyContainer, PluginDescriptor } from '@difflab/core';
import './gradients.js';

export { Adam, type AdamOptions, AdamW, createOptimizer, type OptimizerState } from './adam.js';
export { clipFlatByGlobalNorm, clipGradNorm } from './clip.js';
export { EMA, EMA_WARMUPS, type EmaOptions, type EmaState, type EmaWarmup } from './ema.js';
export { assignFlat, flatten } from './flat.js';
export { diffusionLoss, minSnrWeights, mseLoss, predictionTarget } from './loss.js';
export { LR_DECAYS, type LrDecay, type LrScheduleOptions, learningRateAt } from './lr-schedule.js';
export { emaOptionsSchema, type TrainingOptions, type TrainingOptionsInput, trainingOptionsSchema } from './options.js';
export { type ProgressEvent, type RunOptions, type RunResult, Trainer, type TrainerInit, type TrainerState } from './trainer.js';

/** This package adds no plugin kinds (training is configured by `trainingOptionsSchema`). */
export const plugins: readonly PluginDescriptor<any, any>[] = [];

/** Nothing to register; present so every package has the same entry shape. */
export function register(_container: DependencyContainer): void {}
