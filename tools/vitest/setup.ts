// Loaded before every test file: decorator metadata polyfill (tsyringe) and the wasm backend,
// the project's default backend in Node, so numbers in tests are the numbers users get.
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

const backend = process.env.DIFFLAB_TEST_BACKEND ?? 'wasm';
await tf.setBackend(backend);
await tf.ready();
