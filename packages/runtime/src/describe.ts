import * as tf from '@tensorflow/tfjs-core';
import type { AdapterDescription } from './gpu-types.js';
import { lastStartedAdapter } from './start-backend.js';
import { nativeKernelsActive } from './wasm-kernels/native-kernels.js';

export interface BackendDescription {
  /** The active tfjs backend, or undefined when none has been set yet. */
  name: string | undefined;
  /** webgpu: the adapter opened by `startBackend` (vendor/architecture only if tfjs started it). */
  adapter?: AdapterDescription;
  /** wasm: whether the SIMD binary is in use. */
  simd?: boolean;
  /** wasm: threads of the wasm backend (1 in Node). */
  threads?: number;
  /** wasm: where BatchMatMul / _FusedMatMul run: 'openblas' (difflab's native addon, Node) or 'wasm'. */
  matmul?: 'openblas' | 'wasm';
}

/**
 * Describe the active backend without starting one (unlike `tf.backend()`, which would
 * initialise the best registered backend as a side effect).
 */
export function describeBackend(): BackendDescription {
  const engine = tf.engine();
  const name = tf.getBackend() as string | undefined;
  const instance: any = name ? engine.registry[name] : undefined;
  if (!name || !instance) return { name: undefined };
  const out: BackendDescription = { name };
  if (name === 'webgpu') {
    const info = instance.adapterInfo as { vendor?: string; architecture?: string } | undefined;
    out.adapter = lastStartedAdapter() ?? (info
      ? { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: '', description: '', software: false }
      : undefined);
    if (!out.adapter) delete out.adapter;
  } else if (name === 'wasm') {
    const flags = tf.env().getFlags();
    if (typeof flags.WASM_HAS_SIMD_SUPPORT === 'boolean') out.simd = flags.WASM_HAS_SIMD_SUPPORT;
    const count = instance.wasm?.tfjs?.getThreadsCount?.();
    if (typeof count === 'number') out.threads = count;
    out.matmul = nativeKernelsActive() ? 'openblas' : 'wasm';
  }
  return out;
}
