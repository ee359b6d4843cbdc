import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';
import { ddimPlugin } from './ddim.js';
import { ddpmPlugin } from './ddpm.js';
import { eulerPlugin } from './euler.js';
import { eulerAncestralPlugin } from './euler-ancestral.js';
import { heunPlugin } from './heun.js';
import { lmsPlugin } from './lms.js';
import { dpmpp2mPlugin, dpmSolverMultistepPlugin } from './dpm-solver-multistep.js';
import { pndmPlugin } from './pndm.js';
import { unipcPlugin } from './unipc.js';

export { DiscreteSampler, type DiscreteSamplerOptions, type Estimates, estimatesFromModelOutput, TIMESTEP_SPACINGS } from './discrete-sampler.js';
export { DDPM_VARIANCE_TYPES, type DDPMOptions, DDPMSampler, type DDPMVarianceType, ddpmOptions, ddpmPlugin } from './ddpm.js';
export { type DDIMOptions, DDIMSampler, ddimOptions, ddimPlugin } from './ddim.js';
export { DiffusersConfigReader, resolveSchedule, type ScheduleFactory, scheduleToDiffusersKeys } from './diffusers-config.js';
export { type FromDiffusersExtra, fromDiffusersConfig, SUPPORTED_DIFFUSERS_SCHEDULERS } from './from-diffusers.js';
export {
  type FinalSigmasType,
  FINAL_SIGMAS_TYPES,
  type InterpolationType,
  INTERPOLATION_TYPES,
  SIGMA_TIMESTEP_SPACINGS,
  SigmaSampler,
  type SigmaSamplerOptions,
  type TimestepType,
  TIMESTEP_TYPES,
  diffusersKarrasSigmas,
  diffusersSigmaToT,
} from './sigma-sampler.js';
export { type ChurnOptions, type EulerOptions, EulerSampler, type EulerStepOptions, eulerOptions, eulerPlugin } from './euler.js';
export { type EulerAncestralOptions, EulerAncestralSampler, eulerAncestralOptions, eulerAncestralPlugin } from './euler-ancestral.js';
export { type HeunOptions, HeunSampler, heunOptions, heunPlugin } from './heun.js';
export { LMS_MAX_ORDER, type LMSOptions, LMSSampler, type LMSStepOptions, lmsOptions, lmsPlugin } from './lms.js';
export {
  DPM_SOLVER_ALGORITHM_TYPES,
  DPM_SOLVER_TYPES,
  type DPMSolverAlgorithmType,
  type DPMSolverMultistepOptions,
  DPMSolverMultistepSampler,
  type DPMSolverType,
  dpmpp2mOptions,
  dpmpp2mPlugin,
  dpmSolverMultistepOptions,
  dpmSolverMultistepPlugin,
} from './dpm-solver-multistep.js';
export { PNDM_PREDICTION_TYPES, type PNDMOptions, PNDMSampler, pndmOptions, pndmPlugin } from './pndm.js';
export { UNIPC_SOLVER_TYPES, type UniPCOptions, UniPCSampler, type UniPCSolverType, unipcOptions, unipcPlugin } from './unipc.js';
export { checkDynamicThresholding, DYNAMIC_THRESHOLDING_DEFAULTS, type DynamicThresholdingOptions, dynamicThreshold } from './thresholding.js';
export {
  type DenoiseModel,
  type DenoiseOptions,
  type DenoiseStep,
  denoise,
  guidedModelOutput,
  rescaleGuidance,
  type SampleAllOptions,
  type SampleAllResult,
  sampleAll,
  type TrajectoryEntry,
} from './denoise.js';

/** Every sampler plugin of this package (kind 'sampler'). */
export const plugins: readonly PluginDescriptor<any, any>[] = [
  ddpmPlugin,
  ddimPlugin,
  pndmPlugin,
  eulerPlugin,
  eulerAncestralPlugin,
  heunPlugin,
  lmsPlugin,
  dpmSolverMultistepPlugin,
  dpmpp2mPlugin,
  unipcPlugin,
];

/** Add this package's plugins to the container's plugin registry. */
export function register(container: DependencyContainer): void {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
}
