// One benchmark case in its own process (so peak RSS is the case's own):
//   node tools/bench/dist/case-runner.js <case> --backend wasm --batch 256 ...
// prints one JSON line like reference_torch.py.
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { dispatchCacheStats, replacedWebGpuKernel, startBackend } from '@difflab/runtime';
import { CASES, dispatches, issue } from './cases.js';

const [name, ...rest] = process.argv.slice(2);
// The last occurrence wins: the bench's --runner-args come after a case's own arguments.
const opt = (k: string, d: string) => {
  const i = rest.lastIndexOf(`--${k}`);
  return i >= 0 ? rest[i + 1] : d;
};
// `wasm:2` = the wasm backend with 2 threads (difflab's threaded build in Node); `wasm-only` = the
// wasm backend without difflab's native addon (every kernel in WebAssembly).
const spec = opt('backend', 'wasm');
const wasmOnly = spec === 'wasm-only';
const [backend, threadsArg] = (wasmOnly ? 'wasm' : spec).split(':');
const threads = Number(threadsArg ?? '1');
const args = {
  batch: Number(opt('batch', '256')),
  iters: Number(opt('iters', '50')),
  warmup: Number(opt('warmup', '10')),
  repeats: Number(opt('repeats', '3')),
  target: Number(opt('target', '3')),
  maxSteps: Number(opt('max-steps', '20000')),
  ...(opt('out', '') ? { out: opt('out', '') } : {}),
};
const f = CASES[name];
if (!f) {
  console.log(JSON.stringify({ case: name, error: `unknown case; cases: ${Object.keys(CASES).join(', ')}` }));
  process.exit(2);
}
try {
  const uploads = opt('webgpu-uploads', '');
  const dispatch = opt('webgpu-dispatch', '');
  const info = await startBackend(backend, {
    ...(threads > 1 ? { wasmThreads: threads } : {}),
    // --native-blas false: matmuls and convolutions in WebAssembly (ablation of the OpenBLAS addon)
    nativeBlas: !wasmOnly && opt('native-blas', 'true') !== 'false',
    ...(uploads === 'tfjs' || uploads === 'write-buffer' ? { webgpuUploads: uploads } : {}),
    ...(dispatch === 'tfjs' || dispatch === 'cached' ? { webgpuDispatch: dispatch } : {}),
  });
  // --without-kernels DifflabConv2DFilterGrad,...: run the ops' composite fallbacks (ablation).
  for (const k of opt('without-kernels', '').split(',').filter(Boolean)) {
    if (!tf.getKernel(k, info.backend)) throw new Error(`--without-kernels: no kernel '${k}' is registered for ${info.backend}`);
    tf.unregisterKernel(k, info.backend);
    // a tfjs kernel difflab's replaced (webgpu's Sum): tfjs' own again
    const previous = info.backend === 'webgpu' ? replacedWebGpuKernel(k) : undefined;
    if (previous) tf.registerKernel(previous);
  }
  // --tf-flags NAME=VALUE,...: tfjs environment flags after the backend started (ablations,
  // e.g. WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=true).
  for (const kv of opt('tf-flags', '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    tf.env().set(k, v === 'true' ? true : v === 'false' ? false : Number(v));
  }
  // tfjs-webgpu submits its command buffer every N dispatches (default 15).
  const submitBatch = opt('submit-batch', '');
  if (submitBatch) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', Number(submitBatch));
  if (info.backend === 'webgpu') {
    // Count the programs recorded (the cost that dominates small ops on WebGPU): tfjs-webgpu's
    // and difflab's multi-output programs all go through `recordAndSubmit`.
    const b = tf.engine().registry.webgpu as unknown as { recordAndSubmit: (...a: unknown[]) => unknown };
    const record = b.recordAndSubmit;
    b.recordAndSubmit = function (this: unknown, ...a: unknown[]) {
      dispatches.count++;
      return record.apply(this, a);
    };
  }
  const res = await f(args);
  if (Number.isFinite(dispatches.perCall)) (res as Record<string, unknown>).dispatches_per_call = dispatches.perCall;
  if (info.backend === 'webgpu' && issue.msPerCall.length) (res as Record<string, unknown>).issue_ms = issue.msPerCall;
  if (info.backend === 'webgpu' && issue.cpuMsPerCall.every(Number.isFinite)) (res as Record<string, unknown>).issue_cpu_ms = issue.cpuMsPerCall;
  if (info.backend === 'webgpu' && issue.gcMsPerCall.length) (res as Record<string, unknown>).issue_gc_ms = issue.gcMsPerCall;
  const cache = dispatchCacheStats(tf.engine().registry.webgpu);
  if (cache) (res as Record<string, unknown>).dispatch_cache = cache;
  if (info.backend === 'webgpu') (res as Record<string, unknown>).submit_batch = tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
  for (const n of info.notes) console.error(n);
  console.log(JSON.stringify({ case: name, backend: info.backend, ...(info.adapter ? { adapter: info.adapter } : {}), threads, ...res, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
} catch (e) {
  console.log(JSON.stringify({ case: name, backend, error: (e as Error).message.split('\n')[0] }));
  process.exit(1);
}
