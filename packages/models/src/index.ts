import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { mlpPlugin } from './mlp.js';

export { ACTIVATIONS, type ActivationName, type DenseActivation, activationBackward, activationForward } from './activations.js';
export { type DenseParams, residualMlp } from './residual-mlp.js';
export { initLinear, linearInitBound, variableFrom } from './init.js';
export { MLPDenoiser, type MlpEmbeddings, type MlpOptions, mlpOptionsSchema, mlpPlugin } from './mlp.js';
export { type DenoiserModelJson, loadWeights, MODEL_JSON_FILE, saveWeights, WEIGHTS_FILE, type WeightsManifestEntry } from './weights-io.js';

/** Every plugin of this package. */
export const plugins: readonly PluginDescriptor<any, any>[] = [mlpPlugin];

/** Add this package's plugins to the container's registry. */
export function register(container: DependencyContainer): void {
  const reg = registryOf(container);
  for (const p of plugins) reg.add(p);
}
