/**
 * `Judge`: a trained classifier that scores generated images. `classify` gives the class of each
 * image (for conditional accuracy and class histograms), `features` the activations of its
 * feature layer (for Fréchet distances between generated and real images, as FID does with
 * Inception's pool features, Heusel et al. 2017).
 *
 * Inputs are [B, H, W, C] in [-1, 1] (the datasets' range). An image whose side differs from the
 * judge's training side by an even number of pixels is centre-cropped or padded with the
 * background value -1 (so a judge trained on 28x28 digits reads the 32x32 padded ones, whose 2
 * outer pixels are background, and ignores what a sampler drew there); values are clipped to
 * [-1, 1] first (samplers can overshoot). Work is done in chunks of `chunkSize` images, so any
 * batch size fits in memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@difflab/core';
import { decodeCombination, encodeCombination, type JudgeAttribute } from './attributes.js';
import type { JudgeNet } from './network.js';

/** Predictions for one attribute (head) of a judge. */
export interface AttributePrediction {
  /** The attribute's name (mnist: 'digit'; faces: 'expression', 'color', 'eyes', 'accessory'). */
  name: string;
  /** Its values (head output j is `values[j]`). */
  values: readonly string[];
  /** Predicted value index per image. */
  labels: number[];
  /** Softmax probabilities, [B, values.length] row-major. */
  probs: Float32Array;
}

/** What `Judge.classify` returns. */
export interface JudgeClassification {
  /** Predicted class (attribute combination) per image: the combination of each head's argmax. */
  labels: number[];
  /**
   * [B, classes.length] row-major class probabilities: the product of the heads' probabilities
   * (one head: its softmax), so `labels[i]` is the argmax of row i.
   */
  probs: Float32Array;
  /** Per-attribute predictions, one entry per head, in `attributes` order. */
  attributes: AttributePrediction[];
}

/** A trained image classifier that judges generated images. */
export interface Judge {
  readonly name: string;
  /** Class names, indexed by label (faces: "happy yellow open none", the faces dataset's classes). */
  readonly classes: readonly string[];
  /** Its heads: one attribute each; classes are their combinations. */
  readonly attributes: readonly JudgeAttribute[];
  /** [H, W, C] of the images it was trained on. */
  readonly inputShape: readonly number[];
  /** Units of the feature layer (the columns of `features`). */
  readonly featureDim: number;
  classify(images: tf.Tensor4D): JudgeClassification;
  /** Feature-layer activations [B, featureDim]; the caller owns (disposes) the tensor. */
  features(images: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/**
 * Bring images to `[B, h0, w0, c0]`: channels must match; each spatial side is centre-cropped
 * or padded with -1 when it differs by an even amount; values are clipped to [-1, 1]. Returns a
 * new tensor the caller owns.
 *
 * @throws ConfigError(`judge.${name}`, ...) for a rank other than 4, other channels, or an odd size difference
 */
export function prepareJudgeInput(images: tf.Tensor, inputShape: readonly number[], name: string): tf.Tensor4D {
  const path = `judge.${name}`;
  const [h0, w0, c0] = inputShape;
  if (!(images instanceof tf.Tensor) || images.rank !== 4) {
    throw new ConfigError(path, `images must be a Tensor4D [B, H, W, C], got ${images instanceof tf.Tensor ? `shape [${images.shape.join(', ')}]` : typeof images}`);
  }
  const [, h, w, c] = images.shape as [number, number, number, number];
  if (c !== c0) throw new ConfigError(path, `images have ${c} channel(s), the ${name} judge reads ${c0}: give [B, H, W, ${c0}]`);
  for (const [side, want, axis] of [
    [h, h0, 'height'],
    [w, w0, 'width'],
  ] as const) {
    if ((side - want) % 2 !== 0 || side < 1) {
      throw new ConfigError(path, `image ${axis} ${side} cannot be centre-cropped or padded to ${want}: give ${want} + an even number of pixels (e.g. ${want} or ${want + 4})`);
    }
  }
  return tf.tidy(() => {
    let x = tf.clipByValue(images.dtype === 'float32' ? images : tf.cast(images, 'float32'), -1, 1) as tf.Tensor4D;
    const crop = (side: number, want: number) => Math.max(0, (side - want) / 2);
    const pad = (side: number, want: number) => Math.max(0, (want - side) / 2);
    if (h > h0 || w > w0) {
      const ch = crop(h, h0);
      const cw = crop(w, w0);
      x = tf.slice(x, [0, ch, cw, 0], [-1, h - 2 * ch, w - 2 * cw, -1]);
    }
    if (h < h0 || w < w0) {
      const ph = pad(h, h0);
      const pw = pad(w, w0);
      x = tf.pad(
        x,
        [
          [0, 0],
          [ph, ph],
          [pw, pw],
          [0, 0],
        ],
        -1,
      );
    }
    return x;
  });
}

/** Row-wise softmax of logits [B, k] read back as a Float32Array. */
function softmaxRows(logits: tf.Tensor2D): Float32Array {
  const p = tf.softmax(logits);
  try {
    return p.dataSync() as Float32Array;
  } finally {
    p.dispose();
  }
}

function argmaxRows(p: Float32Array, b: number, k: number): number[] {
  const out = new Array<number>(b);
  for (let i = 0; i < b; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** A `Judge` around a (trained) `JudgeNet`. It owns the network: `dispose()` frees its weights. */
export class ImageJudge implements Judge {
  readonly name: string;
  readonly classes: readonly string[];
  readonly attributes: readonly JudgeAttribute[];
  readonly inputShape: readonly number[];
  readonly featureDim: number;
  /** Arbitrary facts about the shipped weights (training run, measured accuracies), from model.json. */
  readonly metadata: Record<string, unknown>;
  private disposed = false;

  constructor(
    readonly net: JudgeNet,
    metadata: Record<string, unknown> = {},
    /** Images per forward pass (bounds the memory of large batches). */
    readonly chunkSize = 256,
  ) {
    this.name = net.config.name;
    this.classes = net.classes;
    this.attributes = net.attributes;
    this.inputShape = [...net.config.inputShape];
    this.featureDim = net.config.featureDim;
    this.metadata = metadata;
  }

  private check(): void {
    if (this.disposed) throw new Error(`judge '${this.name}' was disposed`);
  }

  /** Run `fn` on chunks of the prepared images; the results are in image order. */
  private chunks<T>(images: tf.Tensor4D, fn: (x: tf.Tensor4D) => T): T[] {
    this.check();
    const x = prepareJudgeInput(images, this.inputShape, this.name);
    try {
      const b = x.shape[0];
      const out: T[] = [];
      for (let start = 0; start < b; start += this.chunkSize) {
        const n = Math.min(this.chunkSize, b - start);
        const part = n === b ? x : tf.slice(x, [start, 0, 0, 0], [n, -1, -1, -1]);
        try {
          out.push(fn(part));
        } finally {
          if (part !== x) part.dispose();
        }
      }
      return out;
    } finally {
      x.dispose();
    }
  }

  classify(images: tf.Tensor4D): JudgeClassification {
    const perChunk = this.chunks(images, (x) => {
      const logits = tf.tidy(() => this.net.forward(x).logits);
      try {
        return logits.map(softmaxRows);
      } finally {
        tf.dispose(logits);
      }
    });
    const b = images.shape[0];
    const attributes: AttributePrediction[] = this.attributes.map((a, ai) => {
      const k = a.values.length;
      const probs = new Float32Array(b * k);
      let off = 0;
      for (const chunk of perChunk) {
        probs.set(chunk[ai], off);
        off += chunk[ai].length;
      }
      return { name: a.name, values: a.values, labels: argmaxRows(probs, b, k), probs };
    });
    const labels = Array.from({ length: b }, (_, i) =>
      encodeCombination(
        this.attributes,
        attributes.map((p) => p.labels[i]),
      ),
    );
    return { labels, probs: this.combinationProbs(attributes, b), attributes };
  }

  /** p(class) = prod_a p_a(value of a in class), in float64, rounded to float32 at the end. */
  private combinationProbs(attributes: AttributePrediction[], b: number): Float32Array {
    if (attributes.length === 1) return attributes[0].probs.slice();
    const k = this.classes.length;
    const out = new Float32Array(b * k);
    const row = new Float64Array(k);
    for (let i = 0; i < b; i++) {
      row.fill(1);
      // mixed radix: the last attribute varies fastest
      let stride = k;
      for (const a of attributes) {
        const n = a.values.length;
        stride /= n;
        for (let label = 0; label < k; label++) row[label] *= a.probs[i * n + (Math.floor(label / stride) % n)];
      }
      out.set(row, i * k);
    }
    return out;
  }

  features(images: tf.Tensor4D): tf.Tensor2D {
    const parts = this.chunks(images, (x) => this.net.featuresOf(x));
    if (parts.length === 0) return tf.zeros([0, this.featureDim]);
    if (parts.length === 1) return parts[0];
    const out = tf.concat(parts, 0) as tf.Tensor2D;
    tf.dispose(parts);
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
  }
}

/** Accuracy of a judge on labelled images: of the class, and of each attribute. */
export interface JudgeAccuracy {
  /** Fraction of images whose whole class (every attribute) is right. */
  accuracy: number;
  /** Fraction right per attribute name. */
  attributes: Record<string, number>;
  /** Images scored. */
  count: number;
}

/**
 * Score a judge on images with known class labels (e.g. a dataset's test split): the fraction
 * classified right, overall and per attribute.
 *
 * @throws ConfigError(`judge.${name}`, ...) when the number of labels differs from the number of images
 */
export function judgeAccuracy(judge: Judge, images: tf.Tensor4D, labels: readonly number[]): JudgeAccuracy {
  const b = images.shape[0];
  if (labels.length !== b) throw new ConfigError(`judge.${judge.name}`, `got ${b} images but ${labels.length} labels; give one label per image`);
  if (b === 0) throw new ConfigError(`judge.${judge.name}`, 'needs at least one image to measure accuracy');
  const k = judge.classes.length;
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= k) throw new ConfigError(`judge.${judge.name}`, `labels[${i}] is ${l}; labels must be class indices 0..${k - 1}`);
  });
  const { labels: predicted, attributes } = judge.classify(images);
  let hits = 0;
  const attrHits = new Array<number>(attributes.length).fill(0);
  for (let i = 0; i < b; i++) {
    if (predicted[i] === labels[i]) hits++;
    decodeCombination(judge.attributes, labels[i]).forEach((v, a) => {
      if (attributes[a].labels[i] === v) attrHits[a]++;
    });
  }
  return {
    accuracy: hits / b,
    attributes: Object.fromEntries(attributes.map((a, i) => [a.name, attrHits[i] / b])),
    count: b,
  };
}
