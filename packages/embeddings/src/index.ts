import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { classLabelConditionerPlugin } from './class-label-conditioner.js';
import { fourierTimestepPlugin } from './fourier.js';
import { identityInputPlugin } from './input-identity.js';
import { sinusoidalInputPlugin } from './input-sinusoidal.js';
import { learnableTimestepPlugin } from './learnable.js';
import { linearTimestepPlugin } from './linear.js';
import { sincos2dPlugin } from './sincos-2d.js';
import { sinusoidalTimestepPlugin } from './sinusoidal.js';
import { textConditionerPlugin } from './text-conditioner.js';
import { zeroTimestepPlugin } from './zero.js';

export * from './class-label-conditioner.js';
export * from './fourier.js';
export * from './input-identity.js';
export * from './input-sinusoidal.js';
export * from './learnable.js';
export * from './linear.js';
export { parseOptions } from './options.js';
export * from './sincos-2d.js';
export * from './sinusoidal.js';
export * from './text-conditioner.js';
export * from './tokenizer.js';
export * from './zero.js';

/** Every plugin of this package: timestep, input and 2-D positional embeddings; text and class-label conditioners. */
export const plugins: readonly PluginDescriptor<any, any>[] = [
  sinusoidalTimestepPlugin,
  learnableTimestepPlugin,
  linearTimestepPlugin,
  zeroTimestepPlugin,
  fourierTimestepPlugin,
  sinusoidalInputPlugin,
  identityInputPlugin,
  sincos2dPlugin,
  textConditionerPlugin,
  classLabelConditionerPlugin,
];

/** Add this package's plugins to the container's registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
