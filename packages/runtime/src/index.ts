import type { DependencyContainer, PluginDescriptor } from '@difflab/core';
import { registryOf } from '@difflab/core';

export { BACKEND_CHOICES, BACKENDS, type BackendChoice, type BackendName, parseBackendChoice, planBackends } from './choices.js';
export { type BackendDescription, describeBackend } from './describe.js';
export { type AdapterDescription, formatAdapter } from './gpu-types.js';
export { type BackendLoader, isNodeRuntime, type StartBackendOptions, type StartedBackend, startBackend } from './start-backend.js';
export { SWIFTSHADER_ICD } from './vulkan-paths.js';
export { type DispatchCacheStats, dispatchCacheStats } from './webgpu-dispatch.js';
export { replacedWebGpuKernel } from './webgpu-kernels.js';
export { COLUMN_SUM_MAX_ROWS } from './webgpu-program.js';
export { enableWasmThreads, MAX_WASM_THREADS, type WasmThreadsResult } from './wasm-threads.js';
export { registerWasmConvKernels, unregisterWasmConvKernels, WASM_CONV_KERNELS } from './wasm-kernels/conv-backprop.js';
export { type LoadedBlas, loadNativeBlas, type NativeBlas } from './wasm-kernels/native-blas.js';
export { NATIVE_KERNELS, nativeKernelsActive, registerNativeKernels, unregisterNativeKernels } from './wasm-kernels/native-kernels.js';
export { registerWasmSpeedKernels, unregisterWasmSpeedKernels, WASM_SPEED_KERNELS } from './wasm-kernels/speed-kernels.js';

/** This package adds no plugins (a backend is process-wide, not per job); kept for uniformity. */
export const plugins: readonly PluginDescriptor<any, any>[] = [];

/** Adds this package's plugins (none) to the container's registry. */
export function register(container: DependencyContainer): DependencyContainer {
  const registry = registryOf(container);
  for (const p of plugins) registry.add(p);
  return container;
}
