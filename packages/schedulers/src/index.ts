import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { cosinePlugin } from './cosine.js';
import { explicitPlugin } from './explicit.js';
import { linearPlugin } from './linear.js';
import { quadraticPlugin } from './quadratic.js';
import { scaledLinearPlugin } from './scaled-linear.js';
import { sigmoidPlugin } from './sigmoid.js';

export { cumprodF32, linspaceF32, oneMinusF32, toFloat32Values } from './float32.js';
export { rescaleZeroTerminalSnr } from './rescale.js';
export { inferenceTimesteps, roundHalfEven, TIMESTEP_SPACINGS } from './timesteps.js';
export { DiscreteSchedule, sigmasFromAlphasCumprod } from './discrete-schedule.js';
export { linearBetas, linearPlugin, linearSchedule } from './linear.js';
export { scaledLinearBetas, scaledLinearPlugin, scaledLinearSchedule } from './scaled-linear.js';
export { quadraticBetas, quadraticPlugin, quadraticSchedule } from './quadratic.js';
export { betasForAlphaBar, cosineAlphaBar, cosineBetas, cosineOptions, cosinePlugin, cosineSchedule } from './cosine.js';
export { sigmoidBetas, sigmoidPlugin, sigmoidSchedule } from './sigmoid.js';
export { explicitOptions, explicitPlugin, explicitSchedule, validateBetas } from './explicit.js';
export { karrasSigmas, karrasSigmasFor, sigmaToTimestep } from './karras.js';
export { BETA_SCHEDULE_KINDS, createSchedule, SCHEDULE_ID_OF_KIND, scheduleFromDiffusersConfig } from './factory.js';
export { DIFFUSERS_SCHEDULE_DEFAULTS, type RangeScheduleOptions, rangeScheduleOptions } from './options.js';

/** Every schedule plugin of this package (kind 'schedule'). */
export const plugins: readonly PluginDescriptor<any, any>[] = [linearPlugin, scaledLinearPlugin, quadraticPlugin, cosinePlugin, sigmoidPlugin, explicitPlugin];

/** Add this package's plugins to the container's plugin registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
