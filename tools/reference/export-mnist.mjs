// Writes the mnist dataset's splits as raw arrays for tools/reference/mnist_dit_reference.py:
// DIR/mnist-<split>-x.f32 (float32 [N, 28, 28, 1] in [-1, 1]) and DIR/mnist-<split>-y.i32.
// Run (after `npm run build`): node tools/reference/export-mnist.mjs DIR
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registryOf } from '@difflab/core';
import { createApp } from '@difflab/pipeline';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node tools/reference/export-mnist.mjs DIR');
await tf.setBackend('cpu');
const app = createApp();
for (const split of ['train', 'test']) {
  const ds = registryOf(app).create('dataset', { id: 'mnist', options: { split } }, app, 'dataset');
  const { x, labels } = ds.all();
  writeFileSync(join(dir, `mnist-${split}-x.f32`), Buffer.from((await x.data()).buffer));
  writeFileSync(join(dir, `mnist-${split}-y.i32`), Buffer.from(Int32Array.from(labels).buffer));
  console.log(`${split}: ${labels.length} digits`);
}
