import { startBackend, describeBackend } from '/work/main/packages/runtime/dist/index.js';
import * as tf from '@tensorflow/tfjs-core';
for (const c of process.argv.slice(2)) {
  try {
    const r = await startBackend(c);
    console.log(c, JSON.stringify(r), JSON.stringify(describeBackend()));
    console.log(await tf.matMul(tf.tensor2d([[1,2],[3,4]]), tf.tensor2d([[5,6],[7,8]])).data());
  } catch (e) { console.log('ERR', e.name, e.exitCode, e.message); }
}
