import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm'); await tf.ready();
const a = tf.randomNormal([256,128]); const b = tf.randomNormal([128,128]);
const at = tf.randomNormal([128,256]);
function time(name, f, n=300){ for(let i=0;i<20;i++) tf.tidy(f); const t0=performance.now(); for(let i=0;i<n;i++) tf.tidy(f); tf.tidy(()=>f().dataSync()); console.log(name, ((performance.now()-t0)/n*1000).toFixed(1),'us'); }
time('plain', ()=>tf.matMul(a,b));
time('transB', ()=>tf.matMul(a,b,false,true));
time('transA', ()=>tf.matMul(at,a,true,false));
time('transpose+plain A', ()=>tf.matMul(tf.transpose(at),a));
time('transpose+plain B', ()=>tf.matMul(a,tf.transpose(b)));
time('fused bias', ()=>tf.fused.matMul({a,b,bias:tf.zeros([128])}));
time('erf', ()=>tf.erf(a));
time('gelu erf', ()=>tf.mul(tf.mul(a,0.5), tf.add(1, tf.erf(tf.mul(a, Math.SQRT1_2)))));
time('add', ()=>tf.add(a,a));
time('tanh', ()=>tf.tanh(a));
