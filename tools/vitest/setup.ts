// Loaded before every test file: decorator metadata polyfill (tsyringe), gradients, and the wasm
// backend with difflab's wasm kernels -- the project's default backend in Node, so the numbers in
// tests are the numbers users get.
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach } from 'vitest';
import { registerWasmConvKernels } from '../../packages/runtime/src/wasm-kernels/conv-backprop.js';
import { registerWasmSpeedKernels } from '../../packages/runtime/src/wasm-kernels/speed-kernels.js';
import { loadNativeBlas } from '../../packages/runtime/src/wasm-kernels/native-blas.js';
import { registerNativeKernels } from '../../packages/runtime/src/wasm-kernels/native-kernels.js';

if (process.env.DIFFLAB_ORIGINAL_WASM_KERNELS !== '1') {
  registerWasmConvKernels();
  registerWasmSpeedKernels();
  // matmuls and convolutions on OpenBLAS where the addon was built, as startBackend('wasm') does
  // in Node (DIFFLAB_NATIVE_BLAS=0 runs the tests on the WebAssembly kernels instead)
  const { blas } = process.env.DIFFLAB_NATIVE_BLAS === '0' ? { blas: null } : await loadNativeBlas();
  if (blas) registerNativeKernels(blas);
}
const backend = process.env.DIFFLAB_TEST_BACKEND ?? 'wasm';
await tf.setBackend(backend);
await tf.ready();

// Event-loop watchdog. vitest's worker reports to the main process over an RPC channel with a
// fixed 60 s deadline; a test that blocks its worker's event loop for about that long (a
// synchronous child process, a long tfjs loop without an await) makes the whole run fail with
// "Timeout calling onTaskUpdate" although every test passed, and only on a loaded machine. So a
// test that blocks for more than BLOCK_LIMIT_MS fails here, on any machine, naming itself.
const BLOCK_LIMIT_MS = Number(process.env.DIFFLAB_TEST_BLOCK_LIMIT_MS ?? 40_000);
let lastTick = performance.now();
let worstBlock = 0;
const watchdog = setInterval(() => {
  const now = performance.now();
  worstBlock = Math.max(worstBlock, now - lastTick);
  lastTick = now;
}, 200);
watchdog.unref();
// Not reset before each test: a block in a beforeAll hook or at import counts for the next test.
afterEach((ctx) => {
  const worst = Math.max(worstBlock, performance.now() - lastTick);
  worstBlock = 0;
  lastTick = performance.now();
  if (process.env.DIFFLAB_TEST_BLOCK_LOG) console.log(`[block] ${Math.round(worst)} ms ${ctx.task.name}`);
  if (worst > BLOCK_LIMIT_MS) {
    throw new Error(`this test blocked its worker's event loop for ${(worst / 1000).toFixed(1)} s (limit ${BLOCK_LIMIT_MS / 1000} s): await between long synchronous parts (vitest's worker RPC fails at 60 s)`);
  }
});
