import { DifflabError } from '@difflab/core';
import type { GpuAdapterLike, GpuLike } from './gpu-types.js';
import { prepareVulkan } from './vulkan.js';

type PowerPreference = 'low-power' | 'high-performance';

/**
 * Give Node a `navigator.gpu` from the `webgpu` npm package (Dawn) and open an adapter, as
 * @tensorflow/tfjs-backend-webgpu expects: it registers its backend at import time only if
 * `navigator.gpu` exists, so this must run before that import. The Vulkan setup in `vulkan.ts`
 * runs before Dawn is created (the loader reads the environment when Dawn creates its instance).
 * If installed drivers give no adapter and SwiftShader is at hand (and the user set no driver
 * variable), one more Dawn instance is created with SwiftShader. A `navigator.gpu` that already
 * exists (ours from an earlier call, or the user's) is used as is. Node-only; imported lazily.
 */
export async function openNodeAdapter(
  swiftshader: boolean | string,
  powerPreference?: PowerPreference,
): Promise<{ adapter: GpuAdapterLike | null; notes: string[] }> {
  const g = globalThis as any;
  const existing = g.navigator?.gpu as GpuLike | undefined;
  if (existing) return { adapter: await request(existing, powerPreference), notes: [] };

  const plan = swiftshader === false ? { notes: [] as string[] } : await prepareVulkan(typeof swiftshader === 'string' ? swiftshader : undefined);
  const notes = [...plan.notes];
  let dawn: { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  // A computed specifier keeps browser bundlers from trying to bundle a native Node addon.
  const spec = 'webgpu';
  try {
    dawn = await import(/* @vite-ignore */ spec);
  } catch (e) {
    throw new DifflabError(`webgpu: cannot load the 'webgpu' package (Dawn for Node): ${firstLine(e)}; install it (npm i webgpu) or use --backend wasm`, 2);
  }
  // GPUBufferUsage, GPUMapMode, ... : the backend reads these as globals. Never overwrite.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;

  let gpu = dawn.create([]);
  let adapter = await request(gpu, powerPreference);
  if (!adapter && 'fallbackIcd' in plan && plan.fallbackIcd) {
    process.env.VK_ICD_FILENAMES = plan.fallbackIcd;
    gpu = dawn.create([]);
    adapter = await request(gpu, powerPreference);
    notes.push(`vulkan: the installed driver(s) gave no adapter; ${adapter ? 'using' : 'also tried'} SwiftShader via VK_ICD_FILENAMES=${plan.fallbackIcd}`);
  }
  if (g.navigator) {
    // Node >= 21 has a read-only globalThis.navigator getter; its object takes new properties.
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, enumerable: true });
  } else {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  return { adapter, notes };
}

async function request(gpu: GpuLike, powerPreference?: PowerPreference): Promise<GpuAdapterLike | null> {
  try {
    return await gpu.requestAdapter(powerPreference ? { powerPreference } : undefined);
  } catch (e) {
    throw new DifflabError(`webgpu: requestAdapter failed: ${firstLine(e)}; use --backend wasm`, 2);
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
