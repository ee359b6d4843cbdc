import { ConfigError, DifflabError, formatZodIssue } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { type BackendChoice, parseBackendChoice, planBackends } from './choices.js';
import { type AdapterDescription, describeAdapter, formatAdapter, type GpuAdapterLike, type GpuLike } from './gpu-types.js';
import { registerWebGpuKernels, type WebGpuUtil } from './webgpu-kernels.js';
import { type EngineLike, useCachedDispatch } from './webgpu-dispatch.js';
import { useWriteBufferUploads } from './webgpu-uploads.js';
import { SWIFTSHADER_ICD } from './vulkan-paths.js';
import { registerWasmConvKernels } from './wasm-kernels/conv-backprop.js';
import { registerWasmSpeedKernels } from './wasm-kernels/speed-kernels.js';

/**
 * A loader for a backend this package does not ship (the hook for webgl in a browser bundle):
 * it must register the backend with tfjs, typically `() => import('@tensorflow/tfjs-backend-webgl')`.
 */
export type BackendLoader = () => Promise<unknown>;

export interface StartBackendOptions {
  /**
   * Where the tfjs-backend-wasm `.wasm` files are served: a URL prefix ending in '/', or a map
   * from file name (`tfjs-backend-wasm.wasm`, `-simd.wasm`, `-threaded-simd.wasm`) to URL.
   * Needed in browser bundles; Node finds them in node_modules without it.
   */
  wasmPaths?: string | Record<string, string>;
  /** Threads for the wasm backend (browser: needs cross-origin isolation; Node: difflab's threaded build, opt-in). */
  wasmThreads?: number;
  /**
   * Node, wasm backend: run matmuls and convolutions (BatchMatMul, _FusedMatMul, Conv2D,
   * FusedConv2D, and the convolution gradients difflab's models use) on the system's OpenBLAS, and
   * Sin, Cos and the fused GELU on vectorised C, through difflab's native addon (native/*.c) when
   * it was built (gcc and libopenblas-dev at build time). Default true; `false` keeps every kernel
   * in WebAssembly.
   */
  nativeBlas?: boolean;
  /** Which WebGPU adapter to ask for. Default: high-performance. */
  powerPreference?: 'low-power' | 'high-performance';
  /**
   * Node on Linux: fall back to SwiftShader (Debian chromium's software Vulkan driver) when no
   * Vulkan driver is installed. `true` (default) uses /usr/lib/chromium/vk_swiftshader_icd.json,
   * a string names another manifest, `false` leaves Vulkan alone.
   */
  swiftshader?: boolean | string;
  /**
   * WebGPU: how CPU-side tensors reach the GPU. `write-buffer` (default): `GPUQueue.writeBuffer`
   * into pooled buffers (webgpu-uploads.ts); `tfjs`: tfjs-webgpu's own path (a staging buffer
   * created and destroyed per upload).
   */
  webgpuUploads?: 'write-buffer' | 'tfjs';
  /**
   * WebGPU: how programs are dispatched. `cached` (default): bind groups and uniform buffers are
   * cached and reused (webgpu-dispatch.ts); `tfjs`: tfjs-webgpu's own path (a bind group and a
   * uniform write per program).
   */
  webgpuDispatch?: 'cached' | 'tfjs';
  /**
   * WebGPU: programs recorded before the command buffer is submitted (tfjs-webgpu's
   * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE, its default 15). Default 32: a submit costs ~100-190 µs of
   * host time through Dawn in Node, and 32 trained the patch transformer fastest of 15 / 32 / 100
   * on an H200 (tools/bench/RESULTS.md).
   */
  webgpuSubmitBatch?: number;
  /** Extra backends by name, e.g. `{ webgl: () => import('@tensorflow/tfjs-backend-webgl') }`. */
  extraBackends?: Record<string, BackendLoader>;
}

export interface StartedBackend {
  /** The tfjs backend now active (`tf.getBackend()`). */
  backend: string;
  /** WebGPU only: the adapter, on one line. */
  adapter?: string;
  /** What was decided and why, one line each (Vulkan setup, fallbacks, threads). */
  notes: string[];
}

const optionsSchema = z
  .object({
    wasmPaths: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
    wasmThreads: z.number().int().min(1).optional(),
    nativeBlas: z.boolean().default(true),
    powerPreference: z.enum(['low-power', 'high-performance']).optional(),
    swiftshader: z.union([z.boolean(), z.string().min(1)]).default(true),
    webgpuUploads: z.enum(['write-buffer', 'tfjs']).default('write-buffer'),
    webgpuDispatch: z.enum(['cached', 'tfjs']).default('cached'),
    webgpuSubmitBatch: z.number().int().min(1).max(10_000).default(32),
    extraBackends: z.record(z.string(), z.custom<BackendLoader>((v) => typeof v === 'function', 'must be a function')).default({}),
  })
  .strict();
type Options = z.output<typeof optionsSchema>;

/** What `describeBackend` reports about a WebGPU adapter that `startBackend` opened. */
let lastAdapter: AdapterDescription | undefined;
export function lastStartedAdapter(): AdapterDescription | undefined {
  return lastAdapter;
}

export function isNodeRuntime(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Choose and start a tfjs backend. `auto`: wasm in Node (see DESIGN.md: SIMD, single-threaded);
 * in a browser WebGPU when `navigator.gpu` gives an adapter, then `extraBackends`, then wasm; cpu
 * last. An explicit choice that cannot start throws a one-line DifflabError (exit code 2) naming
 * the backend and the fix; the previously active backend stays active. Backend packages are
 * imported only when tried, so a bundle or a cpu-only user does not load the others.
 *
 * @throws ConfigError('backend', ...) for an unknown choice or a bad option
 * @throws DifflabError (exitCode 2) when the chosen backend cannot start
 */
export async function startBackend(choice: BackendChoice | (string & {}), options: StartBackendOptions = {}): Promise<StartedBackend> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw formatZodIssue('backend', parsed.error);
  const opts = parsed.data;
  const extras = Object.keys(opts.extraBackends);
  const picked = parseBackendChoice(choice, extras);
  const platform = isNodeRuntime() ? 'node' : 'browser';
  const candidates = planBackends(picked, platform, extras);
  const notes: string[] = [];
  for (const [i, name] of candidates.entries()) {
    try {
      const adapter = await startOne(name, platform, opts, notes);
      return { backend: tf.getBackend(), adapter, notes };
    } catch (e) {
      if (picked !== 'auto' || i === candidates.length - 1) throw e;
      notes.push(`auto: ${name} unavailable (${(e as Error).message}); trying ${candidates[i + 1]}`);
    }
  }
  throw new DifflabError('backend: nothing to start', 2); // unreachable: the plan is never empty
}

async function startOne(name: string, platform: 'node' | 'browser', opts: Options, notes: string[]): Promise<string | undefined> {
  switch (name) {
    case 'cpu':
      await importBackend('cpu', () => import('@tensorflow/tfjs-backend-cpu'));
      await activate('cpu', 'the cpu backend failed to initialise');
      // In Node the cpu backend greets its first tensor with advice to install tfjs-node, which
      // cannot be installed here (see DESIGN.md); the user chose cpu on purpose.
      if (platform === 'node') (tf.engine().registry.cpu as any).firstUse = false;
      return undefined;
    case 'wasm':
      await startWasm(platform, opts, notes);
      return undefined;
    case 'webgpu':
      return startWebGpu(platform, opts, notes);
    default: {
      const load = opts.extraBackends[name];
      if (!load) throw new ConfigError('backend', `no loader for backend '${name}'`);
      await importBackend(name, load);
      if (!tf.findBackendFactory(name)) {
        throw new DifflabError(`${name}: its loader ran but registered no tfjs backend named '${name}'`, 2);
      }
      await activate(name, 'the backend failed to initialise');
      return undefined;
    }
  }
}

async function startWasm(platform: 'node' | 'browser', opts: Options, notes: string[]): Promise<void> {
  const wasm = await importBackend('wasm', () => import('@tensorflow/tfjs-backend-wasm'));
  // difflab's wasm kernels: the conv gradients tfjs-backend-wasm lacks, and faster versions of
  // kernels it implements slowly (slices that copied their whole input, transposed matmuls).
  const added = [...registerWasmConvKernels(), ...registerWasmSpeedKernels()];
  if (added.length) notes.push(`wasm: difflab kernels ${added.join(', ')}`);
  const initialised = isInitialised('wasm');
  if (opts.wasmPaths !== undefined) {
    if (initialised) notes.push('wasm: already initialised in this process; wasmPaths ignored');
    else wasm.setWasmPaths(opts.wasmPaths);
  } else if (platform === 'browser' && !initialised) {
    notes.push('wasm: no wasmPaths given; the .wasm files are fetched next to the script');
  }
  if (opts.wasmThreads !== undefined) {
    if (platform === 'node') {
      // tfjs-backend-wasm is single-threaded in Node; difflab starts its threaded SIMD build with
      // worker_threads (see wasm-threads.ts). Opt-in: on a loaded machine threads can be slower.
      const { enableWasmThreads } = await import('./wasm-threads.js');
      notes.push(...(await enableWasmThreads(opts.wasmThreads)).notes);
    } else if (initialised) notes.push('wasm: already initialised; wasmThreads ignored');
    else wasm.setThreadsCount(opts.wasmThreads);
  }
  const hint =
    platform === 'browser'
      ? 'the .wasm files did not load; serve node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm and pass wasmPaths (their URL prefix)'
      : 'the wasm module did not load; reinstall @tensorflow/tfjs-backend-wasm or use --backend cpu';
  await activate('wasm', hint);
  if (platform === 'node') {
    const { registerNativeKernels, unregisterNativeKernels } = await import('./wasm-kernels/native-kernels.js');
    if (opts.nativeBlas) {
      const { loadNativeBlas } = await import('./wasm-kernels/native-blas.js');
      const { blas, note } = await loadNativeBlas();
      if (blas) registerNativeKernels(blas);
      notes.push(`wasm: ${note}`);
    } else if (unregisterNativeKernels()) {
      notes.push('wasm: native addon off (nativeBlas: false); every kernel in WebAssembly');
    }
  }
  const flags = tf.env().getFlags();
  const simd = flags.WASM_HAS_SIMD_SUPPORT === true;
  notes.push(`wasm: SIMD ${simd ? 'on' : 'off'}, ${wasm.getThreadsCount()} thread(s)`);
}

async function startWebGpu(platform: 'node' | 'browser', opts: Options, notes: string[]): Promise<string> {
  let adapter: GpuAdapterLike | null;
  if (platform === 'node') {
    const { openNodeAdapter } = await import('./node-gpu.js');
    const opened = await openNodeAdapter(opts.swiftshader, opts.powerPreference);
    notes.push(...opened.notes);
    adapter = opened.adapter;
  } else {
    const gpu: GpuLike | undefined = (globalThis as any).navigator?.gpu;
    if (!gpu) {
      throw new DifflabError('webgpu: this browser has no navigator.gpu (WebGPU off or unsupported); use a WebGPU browser or --backend wasm', 2);
    }
    try {
      adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
    } catch (e) {
      throw new DifflabError(`webgpu: requestAdapter failed: ${String((e as Error)?.message ?? e).split('\n')[0]}; use --backend wasm`, 2);
    }
  }
  if (!adapter) {
    const fix =
      platform === 'node'
        ? `no GPU adapter (Dawn found no usable Vulkan driver); install Debian's chromium for the SwiftShader software adapter (${SWIFTSHADER_ICD}) or use --backend wasm`
        : 'navigator.gpu gave no adapter; enable WebGPU in the browser or use --backend wasm';
    throw new DifflabError(`webgpu: ${fix}`, 2);
  }
  const description = describeAdapter(adapter);
  const webgpuModule = await importBackend('webgpu', () => import('@tensorflow/tfjs-backend-webgpu'));
  if (!tf.findBackendFactory('webgpu')) {
    // The package registers its backend at import time only if navigator.gpu existed then.
    throw new DifflabError(
      'webgpu: @tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it registered no backend; do not import it yourself, let startBackend load it',
      2,
    );
  }
  if (opts.powerPreference) tf.env().set('WEBGPU_USE_LOW_POWER_GPU', opts.powerPreference === 'low-power');
  await activate('webgpu', `the WebGPU device could not be created on ${formatAdapter(description)}; use --backend wasm`);
  lastAdapter = description;
  // difflab's fused kernels (GELU, SiLU, Adam, LayerNorm, GroupNorm, conv filter gradient) as WGSL
  // programs: fewer dispatches per step.
  registerWebGpuKernels(webgpuModule.webgpu_util as unknown as WebGpuUtil);
  if (opts.webgpuUploads === 'write-buffer' && !useWriteBufferUploads(tf.engine().registry.webgpu)) {
    notes.push('webgpu: this tfjs-backend-webgpu is not the one difflab patches; its own upload path is used');
  }
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', opts.webgpuSubmitBatch);
  // Conv2DBackpropInput (a conv layer's dx in @difflab/models) as tfjs-webgpu's implicit-GEMM
  // program rather than its default naive one (one invocation per dx value looping over k k Cout).
  tf.env().set('WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE', false);
  if (opts.webgpuDispatch === 'cached' && !useCachedDispatch(tf.engine().registry.webgpu, () => tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE'), tf.engine() as unknown as EngineLike)) {
    notes.push('webgpu: this tfjs-backend-webgpu is not the one difflab patches; its own dispatch path is used');
  }
  if (description.software) notes.push(`webgpu: ${formatAdapter(description)} is a software (CPU) adapter: correct, but slow`);
  return formatAdapter(description);
}

async function importBackend<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const pkg = name === 'cpu' || name === 'wasm' || name === 'webgpu' ? `@tensorflow/tfjs-backend-${name}` : `the ${name} backend`;
    throw new DifflabError(`${name}: cannot load ${pkg}: ${String((e as Error)?.message ?? e).split('\n')[0]}`, 2);
  }
}

function isInitialised(name: string): boolean {
  return tf.engine().registry[name] != null;
}

/** `tf.setBackend` that restores the previous backend when the new one fails to initialise. */
async function activate(name: string, hint: string): Promise<void> {
  const previous = tf.engine().registry[tf.getBackend()] ? tf.getBackend() : undefined;
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch {
    ok = false;
  }
  if (!ok) {
    if (previous && previous !== name) await tf.setBackend(previous);
    throw new DifflabError(`${name}: ${hint}`, 2);
  }
  await tf.ready();
}
