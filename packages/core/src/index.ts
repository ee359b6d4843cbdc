// tsyringe needs the Reflect metadata polyfill before it loads; importing it at the package entry
// makes every difflab package usable from a plain script without extra setup.
import 'reflect-metadata';
export * from './errors.js';
export * from './rng.js';
export * from './schedule.js';
export * from './denoiser.js';
export * from './embeddings.js';
export * from './dataset.js';
export * from './metric.js';
export * from './sampler.js';
export * from './plugin.js';
export * from './tokens.js';
export * from './container.js';
export * from './tensor-utils.js';
export type { DependencyContainer } from 'tsyringe';
export { erf64 } from './math.js';
export { DIFFLAB_KERNELS, isNativeKernel, NATIVE_KERNEL_MARK } from './kernels.js';
export type { Conditioner } from './conditioner.js';
