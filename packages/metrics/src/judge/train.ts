/**
 * Training a judge: minibatch Adam (Kingma & Ba 2015; tfjs' `tf.train.adam`, torch defaults
 * beta1 0.9, beta2 0.999, eps 1e-8) on the sum over heads of the softmax cross-entropy of each
 * attribute, with the learning rate on a cosine decay (Loshchilov & Hutter 2017, no restarts) to
 * 5% of its start, and random translations of up to `shift` pixels (edge pixels repeated) as the
 * only augmentation, so that the judge does not depend on exact centring (generated digits and
 * faces are not centred exactly like the data). Batches are drawn by a seeded permutation per
 * epoch from `Rng(seed)`: a run is reproducible.
 *
 * On the wasm backend, `tf.conv2d`'s gradient needs the `Conv2DBackpropFilter` kernel that
 * tfjs-backend-wasm lacks; @difflab/runtime's `registerWasmConvKernels()` (called by its
 * `startBackend`) supplies it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DifflabError, formatZodIssue, Rng } from '@difflab/core';
import { z } from 'zod';
import { decodeCombination } from './attributes.js';
import { prepareJudgeInput } from './judge.js';
import type { JudgeNet } from './network.js';

export const trainJudgeOptions = z
  .object({
    epochs: z.number().int().min(1).default(8).describe('passes over the training images'),
    batchSize: z.number().int().min(1).default(64).describe('images per Adam step'),
    learningRate: z.number().positive().default(2e-3).describe('Adam learning rate at the start'),
    schedule: z.enum(['cosine', 'constant']).default('cosine').describe('learning rate: cosine decay to 5% of the start, or constant'),
    shift: z.number().int().min(0).max(8).default(2).describe('random translation of each training image, up to this many pixels per axis'),
    seed: z.number().int().min(0).default(0).describe('seed of the batch order and the translations'),
  })
  .strict();
export type TrainJudgeOptions = z.output<typeof trainJudgeOptions>;

/** Reported after each epoch. */
export interface JudgeEpoch {
  epoch: number;
  /** Mean training loss over the epoch's steps (sum of the heads' cross-entropies). */
  loss: number;
  /** Seconds since training started. */
  seconds: number;
}

export interface JudgeTrainingResult {
  /** Loss of every step. */
  stepLosses: number[];
  /** Mean loss of every epoch. */
  epochLosses: number[];
  seconds: number;
}

/**
 * Throws a one-line error when training cannot run: tfjs' gradient functions are not registered
 * (tfjs-core alone registers none), or the active backend lacks a conv2d gradient kernel.
 */
export function checkTrainingKernels(): void {
  if (!tf.getGradient(tf.Multiply)) {
    throw new DifflabError(
      "training a judge needs tfjs' gradient functions: import '@tensorflow/tfjs-core/dist/register_all_gradients' (bundlers), '@tensorflow/tfjs' (Node) or @difflab/training first",
      2,
    );
  }
  const backend = tf.getBackend();
  for (const k of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput]) {
    if (!tf.getKernel(k, backend)) {
      throw new DifflabError(
        `training a judge on the ${backend} backend needs the ${k} kernel, which it lacks: call registerWasmConvKernels() from @difflab/runtime (startBackend does) or use the cpu backend`,
        2,
      );
    }
  }
}

/** Copy image `src` of [H, W, C] translated by (dy, dx), repeating edge pixels, into `out` at `o`. */
function shiftInto(src: Float32Array, s0: number, out: Float32Array, o: number, h: number, w: number, c: number, dy: number, dx: number): void {
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - dy));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - dx));
      const si = s0 + (sy * w + sx) * c;
      const oi = o + (y * w + x) * c;
      for (let k = 0; k < c; k++) out[oi + k] = src[si + k];
    }
  }
}

/**
 * Train `net` in place on `images` [N, H, W, C] in [-1, 1] (centre-cropped / padded to the net's
 * input shape as the judge does) with their class labels (attribute combinations, see
 * attributes.ts). Returns the losses; `onEpoch` is called after every epoch.
 *
 * @throws ConfigError('judge.train', ...) for bad options or labels
 */
export function trainJudge(
  net: JudgeNet,
  images: tf.Tensor4D,
  labels: readonly number[],
  options: z.input<typeof trainJudgeOptions> = {},
  onEpoch?: (e: JudgeEpoch) => void,
): JudgeTrainingResult {
  const parsed = trainJudgeOptions.safeParse(options);
  if (!parsed.success) throw formatZodIssue('judge.train', parsed.error);
  const opts = parsed.data;
  checkTrainingKernels();
  const n = images.shape[0];
  if (labels.length !== n) throw new ConfigError('judge.train.labels', `got ${n} images but ${labels.length} labels; give one label per image`);
  if (n === 0) throw new ConfigError('judge.train.images', 'needs at least one training image, got 0');
  const attrs = net.attributes;
  const targets = attrs.map(() => new Int32Array(n));
  labels.forEach((l, i) => {
    let idx: number[];
    try {
      idx = decodeCombination(attrs, l);
    } catch {
      throw new ConfigError(`judge.train.labels.${i}`, `is ${l}; labels must be class indices 0..${net.classes.length - 1}`);
    }
    idx.forEach((v, a) => {
      targets[a][i] = v;
    });
  });
  const prepared = prepareJudgeInput(images, net.config.inputShape, net.config.name);
  const data = prepared.dataSync() as Float32Array;
  prepared.dispose();
  const [h, w, c] = net.config.inputShape;
  const per = h * w * c;

  const rng = new Rng(opts.seed);
  const optimizer = tf.train.adam(opts.learningRate, 0.9, 0.999, 1e-8);
  const vars = net.trainableVariables();
  const stepsPerEpoch = Math.ceil(n / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const stepLosses: number[] = [];
  const epochLosses: number[] = [];
  const t0 = performance.now();
  let step = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      let sum = 0;
      for (let start = 0; start < n; start += opts.batchSize) {
        const idx = order.slice(start, start + opts.batchSize);
        const b = idx.length;
        const batch = new Float32Array(b * per);
        idx.forEach((j, i) => {
          const dy = opts.shift ? rng.int(2 * opts.shift + 1) - opts.shift : 0;
          const dx = opts.shift ? rng.int(2 * opts.shift + 1) - opts.shift : 0;
          shiftInto(data, j * per, batch, i * per, h, w, c, dy, dx);
        });
        if (opts.schedule === 'cosine') {
          const f = 0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
          (optimizer as unknown as { learningRate: number }).learningRate = opts.learningRate * f;
        }
        const cost = tf.tidy(() => {
          const x = tf.tensor4d(batch, [b, h, w, c]);
          const ys = attrs.map((a, ai) =>
            tf.oneHot(
              tf.tensor1d(
                idx.map((j) => targets[ai][j]),
                'int32',
              ),
              a.values.length,
            ),
          );
          return optimizer.minimize(
            () => {
              const { logits } = net.forward(x);
              const losses = logits.map((lg, ai) => tf.neg(tf.mean(tf.sum(tf.mul(ys[ai], tf.logSoftmax(lg)), 1))));
              return tf.addN(losses) as tf.Scalar;
            },
            true,
            vars,
          ) as tf.Scalar;
        });
        const loss = cost.dataSync()[0];
        cost.dispose();
        stepLosses.push(loss);
        sum += loss;
        step++;
      }
      const mean = sum / stepsPerEpoch;
      epochLosses.push(mean);
      onEpoch?.({ epoch, loss: mean, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    optimizer.dispose();
  }
  return { stepLosses, epochLosses, seconds: (performance.now() - t0) / 1000 };
}
