import { DifflabError } from '@difflab/core';
import type { GpuLike } from './gpu-types.js';
import { prepareVulkan } from './vulkan.js';

/**
 * Give Node a `navigator.gpu` from the `webgpu` npm package (Dawn), as
 * @tensorflow/tfjs-backend-webgpu expects: it registers its backend at import time only if
 * `navigator.gpu` exists, so this must run before that import. The Dawn instance is created once
 * per process (after the Vulkan setup in `vulkan.ts`, which must precede it) and reused.
 * Node-only; imported lazily.
 */
export async function installNodeGpu(swiftshader: boolean | string): Promise<{ gpu: GpuLike; notes: string[] }> {
  const g = globalThis as any;
  const existing = g.navigator?.gpu as GpuLike | undefined;
  if (existing) return { gpu: existing, notes: [] };
  const notes = swiftshader === false ? [] : await prepareVulkan(typeof swiftshader === 'string' ? swiftshader : undefined);
  let dawn: { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  // A computed specifier keeps browser bundlers from trying to bundle a native Node addon.
  const spec = 'webgpu';
  try {
    dawn = await import(/* @vite-ignore */ spec);
  } catch (e) {
    throw new DifflabError(
      `webgpu: cannot load the 'webgpu' package (Dawn for Node): ${firstLine(e)}; install it (npm i webgpu) or use --backend wasm`,
      2,
    );
  }
  // GPUBufferUsage, GPUMapMode, ... : the backend reads these as globals. Never overwrite.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const gpu = dawn.create([]);
  if (g.navigator) {
    // Node >= 21 has a read-only globalThis.navigator getter; its object takes new properties.
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, enumerable: true });
  } else {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  return { gpu, notes };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
