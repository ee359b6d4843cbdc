import { type DependencyContainer, registryOf } from '@difflab/core';
import { chamferPlugin } from './chamfer.js';
import { energyPlugin } from './energy.js';
import { mmdPlugin } from './mmd.js';
import { slicedW2Plugin } from './sliced-w2.js';

export { ChamferDistance, type ChamferOptions, chamferOptions, chamferPlugin } from './chamfer.js';
export { EnergyDistance, type EnergyOptions, energyOptions, energyPlugin } from './energy.js';
export { checkPointClouds, preparePair, subsampleIndices, subsampleRows } from './inputs.js';
export { type MmdOptions, mmdOptions, mmdPlugin, RbfMmd } from './mmd.js';
export { chunks, nearestNeighbours, pairwiseSum, readAndDispose } from './pairwise.js';
export { type FloorAndCeiling, floorAndCeiling, type MetricReportEntry, metricReport } from './report.js';
export { randomDirections, SlicedW2, type SlicedW2Options, slicedW2Options, slicedW2Plugin, w2SquaredSorted1D } from './sliced-w2.js';

/** The metric plugin descriptors of this package (kind 'metric'). */
export const plugins = [slicedW2Plugin, mmdPlugin, chamferPlugin, energyPlugin] as const;

/** Add this package's plugins to the container's plugin registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
