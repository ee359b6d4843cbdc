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
export {
  combinationNames,
  decodeCombination,
  encodeCombination,
  type JudgeAttribute,
  numCombinations,
} from './judge/attributes.js';
export { classHistogram, conditionalAccuracy } from './judge/conditional.js';
export { type FeatureRows, frechetDistance, frechetDistanceOfGaussians, type GaussianStats, gaussianStats } from './judge/frechet.js';
export {
  type AttributePrediction,
  ImageJudge,
  type Judge,
  type JudgeAccuracy,
  type JudgeClassification,
  judgeAccuracy,
  prepareJudgeInput,
} from './judge/judge.js';
export { type JudgeFileReader, type JudgeName, JUDGE_NAMES, judgeFileUrl, loadJudge, readJudgeFile, setJudgeFileReader } from './judge/load.js';
export { matMul64, meanAndCovariance, type SymmetricEigen, sqrtSymmetricPsd, symmetricEigen } from './judge/linalg.js';
export { type JudgeConfig, type JudgeConfigInput, JudgeNet, judgeConfigSchema, parseJudgeConfig } from './judge/network.js';
export { checkTrainingKernels, type JudgeEpoch, type JudgeTrainingResult, type TrainJudgeOptions, trainJudge, trainJudgeOptions } from './judge/train.js';
export { JUDGE_MODEL_FILE, JUDGE_WEIGHTS_FILE, type JudgeModelJson, type JudgeWeightEntry, judgeFromFiles, saveJudgeWeights } from './judge/weights.js';
export { randomDirections, SlicedW2, type SlicedW2Options, slicedW2Options, slicedW2Plugin, w2SquaredSorted1D } from './sliced-w2.js';

/** The metric plugin descriptors of this package (kind 'metric'). */
export const plugins = [slicedW2Plugin, mmdPlugin, chamferPlugin, energyPlugin] as const;

/** Add this package's plugins to the container's plugin registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
