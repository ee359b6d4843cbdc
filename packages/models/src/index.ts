import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { mlpPlugin } from './mlp.js';
import { patchTransformerPlugin } from './patch-transformer.js';
import { unetPlugin } from './unet.js';

export { ACTIVATIONS, type ActivationName, type DenseActivation, activationBackward, activationForward } from './activations.js';
export { type DenseParams, residualMlp } from './residual-mlp.js';
export { initLinear, linearInitBound, variableFrom } from './init.js';
export { MLPDenoiser, type MlpEmbeddings, type MlpOptions, mlpOptionsSchema, mlpPlugin } from './mlp.js';
export { ImageDenoiser, type ImageDenoiserConfig, TIME_FEATURES } from './image-denoiser.js';
export {
  attention,
  columnSums,
  concatChannels,
  type Conv2dParams,
  conv2d,
  conv2dAdd,
  conv2dGrads,
  conv2dInputGrad,
  createConv2d,
  createLinear,
  createNorm,
  gelu,
  groupNorm,
  groupNormSilu,
  type LinearParams,
  layerNorm,
  linear,
  matmul,
  mergeHeads,
  type NormParams,
  silu,
  qkvHeads,
  selfAttention,
  sinusoidalTimestepEmbedding,
} from './layers.js';
export {
  PatchTransformerDenoiser,
  type PatchTransformerOptions,
  patchTransformerOptionsSchema,
  patchTransformerPlugin,
  sincosPositionalEmbedding2d,
} from './patch-transformer.js';
export { UNetDenoiser, type UNetOptions, unetOptionsSchema, unetPlugin } from './unet.js';
export { type DenoiserModelJson, loadWeights, MODEL_JSON_FILE, saveWeights, WEIGHTS_FILE, type WeightsManifestEntry } from './weights-io.js';

/** Every plugin of this package. */
export const plugins: readonly PluginDescriptor<any, any>[] = [mlpPlugin, patchTransformerPlugin, unetPlugin];

/** Add this package's plugins to the container's registry. */
export function register(container: DependencyContainer): void {
  const reg = registryOf(container);
  for (const p of plugins) reg.add(p);
}
