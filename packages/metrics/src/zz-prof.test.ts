import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { it } from 'vitest';
it('prof', () => {
  const rng = new Rng(1);
  for (const [n, d, P] of [[4000, 2, 1000], [2000, 64, 256]]) {
    const x = tf.tensor2d(rng.normalArray(n * d), [n, d]);
    const th = tf.tensor2d(rng.normalArray(P * d), [P, d]);
    let t = performance.now();
    tf.tidy(() => tf.matMul(th, x, false, true).dataSync());
    console.log(n, d, P, 'th x^T', performance.now() - t); t = performance.now();
    tf.tidy(() => tf.matMul(x, th, false, true).dataSync());
    console.log(n, d, P, 'x th^T', performance.now() - t); t = performance.now();
    const thT = tf.transpose(th); const xT = tf.transpose(x);
    tf.tidy(() => tf.matMul(th, xT).dataSync());
    console.log(n, d, P, 'th xT (no flag)', performance.now() - t); t = performance.now();
    tf.tidy(() => tf.matMul(x, thT).dataSync());
    console.log(n, d, P, 'x thT (no flag)', performance.now() - t); t = performance.now();
    tf.tidy(() => tf.transpose(tf.matMul(x, thT)).dataSync());
    console.log(n, d, P, 'x thT (no flag) + transpose', performance.now() - t); t = performance.now();
    tf.tidy(() => tf.relu(tf.matMul(x, thT)).dataSync());
    console.log(n, d, P, 'elementwise after', performance.now() - t); t = performance.now();
    tf.dispose([x, th, thT, xT]);
  }
});
