import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { checkerboardPlugin } from './checkerboard.js';
import { circlesPlugin } from './circles.js';
import { eightGaussiansPlugin } from './eight-gaussians.js';
import { facesPlugin } from './faces.js';
import { linePlugin } from './line.js';
import { mnistPlugin } from './mnist.js';
import { moonsPlugin } from './moons.js';
import { swissRollPlugin } from './swiss-roll.js';

export * from './captions.js';
export * from './checkerboard.js';
export * from './circles.js';
export * from './eight-gaussians.js';
export * from './faces.js';
export * from './line.js';
export * from './mnist.js';
export * from './moons.js';
export * from './point-dataset.js';
export * from './swiss-roll.js';

/** Every plugin of this package (kind 'dataset'). */
export const plugins: readonly PluginDescriptor<any, any>[] = [
  swissRollPlugin,
  moonsPlugin,
  circlesPlugin,
  eightGaussiansPlugin,
  checkerboardPlugin,
  linePlugin,
  mnistPlugin,
  facesPlugin,
];

/** Add this package's plugins to the container's registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
