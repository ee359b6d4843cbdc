// Judges raw generated digits with the shipped mnist classifier: the fraction whose predicted
// digit is the wanted one, and the class histogram.
// Run: node tools/reference/judge-images.mjs IMAGES.f32 LABELS.i32   (float32 [N, 28, 28, 1] in [-1, 1])
import { readFileSync } from 'node:fs';
import { loadJudge } from '@difflab/metrics';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

const [imagesPath, labelsPath] = process.argv.slice(2);
if (!imagesPath || !labelsPath) throw new Error('usage: node tools/reference/judge-images.mjs IMAGES.f32 LABELS.i32');
await tf.setBackend('cpu');
const raw = readFileSync(imagesPath);
const images = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const rawL = readFileSync(labelsPath);
const wanted = Array.from(new Int32Array(rawL.buffer, rawL.byteOffset, rawL.byteLength / 4));
const judge = loadJudge('mnist');
const x = tf.tensor4d(images, [wanted.length, 28, 28, 1]);
const { labels } = judge.classify(x);
const right = labels.filter((l, i) => l === wanted[i]).length;
const hist = Array.from({ length: 10 }, (_, d) => labels.filter((l) => l === d).length);
console.log(JSON.stringify({ images: imagesPath, n: wanted.length, conditionalAccuracy: right / wanted.length, histogram: hist }));
