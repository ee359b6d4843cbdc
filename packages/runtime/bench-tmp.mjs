import * as tf from '@tensorflow/tfjs-core';
import { startBackend, describeBackend } from './dist/index.js';
const N = 256;
const a0 = Array.from({length:N*N}, (_, i) => Math.sin(i));
const b0 = Array.from({length:N*N}, (_, i) => Math.cos(i));
for (const be of ['wasm','cpu','webgpu']) {
  const r = await startBackend(be);
  const a = tf.tensor2d(a0,[N,N]), b = tf.tensor2d(b0,[N,N]);
  for (let i=0;i<5;i++){ const c=tf.matMul(a,b); await c.data(); c.dispose(); }
  const iters = be==='cpu'?20:50;
  let t0=performance.now();
  for (let i=0;i<iters;i++){ const c=tf.matMul(a,b); await c.data(); c.dispose(); }
  const perSync=(performance.now()-t0)/iters;
  // chained: 20 matmuls kept on backend, one readback
  t0=performance.now();
  let x=a; for (let i=0;i<iters;i++){ const y=tf.matMul(x,b); if(x!==a) x.dispose(); x=tf.div(y, 256); y.dispose(); }
  await x.data(); const perChain=(performance.now()-t0)/iters; x.dispose();
  console.log(be, r.adapter??'', JSON.stringify(describeBackend().threads??''), `matmul+readback ${perSync.toFixed(2)} ms`, `chained(matmul+div) ${perChain.toFixed(2)} ms/iter`);
  a.dispose(); b.dispose();
}
