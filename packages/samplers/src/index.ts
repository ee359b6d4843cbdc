import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { ddimPlugin } from './ddim.js';
import { ddpmPlugin } from './ddpm.js';

export { DiscreteSampler, type DiscreteSamplerOptions, type Estimates, estimatesFromModelOutput, TIMESTEP_SPACINGS } from './discrete-sampler.js';
export { DDPM_VARIANCE_TYPES, type DDPMOptions, DDPMSampler, type DDPMVarianceType, ddpmOptions, ddpmPlugin } from './ddpm.js';
export { type DDIMOptions, DDIMSampler, ddimOptions, ddimPlugin } from './ddim.js';
export { DiffusersConfigReader, resolveSchedule, type ScheduleFactory, scheduleToDiffusersKeys } from './diffusers-config.js';
export { fromDiffusersConfig, SUPPORTED_DIFFUSERS_SCHEDULERS } from './from-diffusers.js';
export {
  type DenoiseModel,
  type DenoiseOptions,
  type DenoiseStep,
  denoise,
  guidedModelOutput,
  type SampleAllOptions,
  type SampleAllResult,
  sampleAll,
  type TrajectoryEntry,
} from './denoise.js';

/** Every sampler plugin of this package (kind 'sampler'). */
export const plugins: readonly PluginDescriptor<any, any>[] = [ddpmPlugin, ddimPlugin];

/** Add this package's plugins to the container's plugin registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
