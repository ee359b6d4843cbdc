// Loaded before every test file: decorator metadata polyfill (tsyringe), gradients, and the wasm
// backend with difflab's wasm kernels -- the project's default backend in Node, so the numbers in
// tests are the numbers users get.
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmConvKernels } from '../../packages/runtime/src/wasm-kernels/conv-backprop.js';
import { registerWasmSpeedKernels } from '../../packages/runtime/src/wasm-kernels/speed-kernels.js';

if (process.env.DIFFLAB_ORIGINAL_WASM_KERNELS !== '1') {
  registerWasmConvKernels();
  registerWasmSpeedKernels();
}
const backend = process.env.DIFFLAB_TEST_BACKEND ?? 'wasm';
await tf.setBackend(backend);
await tf.ready();
