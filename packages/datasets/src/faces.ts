/**
 * `faces`: procedurally drawn, anti-aliased 32x32 RGB cartoon faces in [-1, 1] with four
 * attributes: expression (happy, sad, surprised, angry, neutral: mouth curve, open round mouth,
 * eyebrows), face colour (yellow, pink, green, blue), eyes (open, closed) and accessory (none,
 * glasses, hat). That makes 5 * 4 * 2 * 3 = 120 classes, named "happy yellow open none"; a
 * label is the index of its combination, `((expression * 4 + color) * 2 + eyes) * 3 + accessory`.
 *
 * The set is `size` faces, each fully determined by (seed, split, index): its class comes from
 * a stratified assignment (every run of 120 consecutive indices holds each class once, in a
 * seeded order, so attributes stay balanced for any size), its jitter (position, size, feature
 * placement, shade; see `drawFaceLayout`) from a per-index random stream. `train` and `test`
 * use disjoint streams. Images are drawn on first use and kept as 8-bit RGB, like a PNG.
 *
 * Captions name the expression and colour always, closed eyes and the accessory when present
 * ("a happy yellow face with closed eyes", "a sad green face wearing glasses", "an angry blue
 * face"), in several templates picked per sample.
 */
import { type DataBatch, type Dataset, definePlugin, Rng, type RngState } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { captionTable, pickCaption, vocabularyOf, withArticle } from './captions.js';
import {
  drawFaceLayout,
  FACE_ACCESSORIES,
  FACE_COLORS,
  FACE_EXPRESSIONS,
  FACE_EYES,
  FACE_SIDE,
  type FaceAttributes,
  type FaceLayout,
  renderFace,
} from './face-drawing.js';
import { parseOptions } from './point-dataset.js';

export * from './face-drawing.js';

/** Number of attribute combinations (classes). */
export const NUM_FACE_CLASSES = FACE_EXPRESSIONS.length * FACE_COLORS.length * FACE_EYES.length * FACE_ACCESSORIES.length;

/** The attributes of class `label`. */
export function faceAttributesOf(label: number): FaceAttributes {
  if (!(Number.isInteger(label) && label >= 0 && label < NUM_FACE_CLASSES)) {
    throw new RangeError(`faces: label must be an integer 0..${NUM_FACE_CLASSES - 1}, got ${label}`);
  }
  const accessory = label % FACE_ACCESSORIES.length;
  let rest = (label - accessory) / FACE_ACCESSORIES.length;
  const eyes = rest % FACE_EYES.length;
  rest = (rest - eyes) / FACE_EYES.length;
  const color = rest % FACE_COLORS.length;
  const expression = (rest - color) / FACE_COLORS.length;
  return { expression: FACE_EXPRESSIONS[expression], color: FACE_COLORS[color], eyes: FACE_EYES[eyes], accessory: FACE_ACCESSORIES[accessory] };
}

/** The class (label) of a combination of attributes. */
export function faceLabelOf(a: FaceAttributes): number {
  const e = FACE_EXPRESSIONS.indexOf(a.expression);
  const c = FACE_COLORS.indexOf(a.color);
  const y = FACE_EYES.indexOf(a.eyes);
  const s = FACE_ACCESSORIES.indexOf(a.accessory);
  if (e < 0 || c < 0 || y < 0 || s < 0) throw new RangeError(`faces: unknown attributes ${JSON.stringify(a)}`);
  return ((e * FACE_COLORS.length + c) * FACE_EYES.length + y) * FACE_ACCESSORIES.length + s;
}

/** Class names "expression color eyes accessory", indexed by label. */
export const FACE_CLASSES: readonly string[] = Array.from({ length: NUM_FACE_CLASSES }, (_, k) => {
  const a = faceAttributesOf(k);
  return `${a.expression} ${a.color} ${a.eyes} ${a.accessory}`;
});

/**
 * Every caption of a face with these attributes. Each names the expression and the colour, and
 * also the eyes when closed and the accessory when there is one; the defaults (open eyes, no
 * accessory) are never named, so "a happy yellow face" is exactly the class "happy yellow open none".
 */
export function faceCaptions(a: FaceAttributes): string[] {
  const eyes = a.eyes === 'closed' ? ['with closed eyes', 'with eyes closed'] : [''];
  const acc = a.accessory === 'glasses' ? ['wearing glasses', 'with glasses'] : a.accessory === 'hat' ? ['wearing a hat', 'with a hat'] : [''];
  const out: string[] = [];
  for (const ey of eyes) {
    for (const ac of acc) {
      const extra = [ey, ac].filter(Boolean).join(' and ');
      const tail = extra ? ` ${extra}` : '';
      out.push(`${withArticle(`${a.expression} ${a.color} face`)}${tail}`);
      out.push(`${a.expression} ${a.color} face${tail}`);
      out.push(`${withArticle(`${a.color} face`)} that looks ${a.expression}${tail}`);
      out.push(`${withArticle(`${a.expression} ${a.color} cartoon face`)}${tail}`);
    }
  }
  return out;
}

/**
 * Independent random streams by (seed, stream, index), from a 128-bit state hashed with
 * murmur3's finaliser: the stream of one index is found without running the others.
 */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export function streamRng(seed: number, stream: number, index: number): Rng {
  const words = [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, stream >>> 0, index >>> 0, Math.floor(index / 2 ** 32) >>> 0];
  const s: RngState['s'] = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    let h = mix32((k + 1) * 0x9e3779b9);
    for (const w of words) h = mix32((h ^ w) + 0x632be5ab);
    s[k] = h;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return Rng.fromState({ s, spare: null });
}

const SPLITS = ['train', 'test'] as const;
/** Stream ids: jitter of the images and order of the classes, per split. */
const imageStream = (split: (typeof SPLITS)[number]) => 2 * SPLITS.indexOf(split) + 1;
const labelStream = (split: (typeof SPLITS)[number]) => 2 * SPLITS.indexOf(split) + 2;

export const facesSchema = z
  .object({
    size: z.number().int().min(1).max(1_000_000).default(10000).describe('number of distinct faces in the split'),
    seed: z.number().int().min(0).default(0).describe('seed of the faces (classes and jitter)'),
    split: z.enum(SPLITS).default('train').describe('train or test: disjoint random streams under one seed'),
  })
  .strict();
export type FacesOptions = z.output<typeof facesSchema>;

/** A batch of faces with their classes and a caption each. */
export interface FacesBatch extends DataBatch {
  x: tf.Tensor4D;
  labels: number[];
  captions: string[];
}

const PER = FACE_SIDE * FACE_SIDE * 3;

export class FacesDataset implements Dataset {
  readonly id = 'faces';
  readonly options: FacesOptions;
  readonly sampleShape: readonly number[] = [FACE_SIDE, FACE_SIDE, 3];
  readonly size: number;
  readonly classes = FACE_CLASSES;
  readonly vocabulary: readonly string[];
  /** Class of each face. */
  private readonly labelOf: Uint8Array;
  /** Faces drawn so far, 8-bit RGB. */
  private readonly cache: (Uint8Array | undefined)[];
  private readonly captionLists: string[][];

  constructor(options: z.input<typeof facesSchema> = {}) {
    this.options = parseOptions(facesSchema, options, 'faces');
    const { size, seed, split } = this.options;
    this.size = size;
    this.labelOf = new Uint8Array(size);
    const order = Array.from({ length: NUM_FACE_CLASSES }, (_, k) => k);
    for (let start = 0, block = 0; start < size; start += NUM_FACE_CLASSES, block++) {
      streamRng(seed, labelStream(split), block).shuffle(order);
      for (let k = 0; k < NUM_FACE_CLASSES && start + k < size; k++) this.labelOf[start + k] = order[k];
    }
    this.cache = new Array(size);
    this.captionLists = captionTable(NUM_FACE_CLASSES, (k) => faceCaptions(faceAttributesOf(k)));
    this.vocabulary = vocabularyOf(this.captionLists.flat());
  }

  /** Every caption the set can give class k. */
  captionsOfClass(k: number): readonly string[] {
    faceAttributesOf(k); // validates k
    return this.captionLists[k];
  }

  /** The class of face i. */
  label(i: number): number {
    this.checkIndex(i);
    return this.labelOf[i];
  }

  /** The jitter of face i. */
  layout(i: number): FaceLayout {
    this.checkIndex(i);
    return drawFaceLayout(streamRng(this.options.seed, imageStream(this.options.split), i));
  }

  /** Face i as [32, 32, 3] row-major values in [-1, 1]. */
  image(i: number): Float32Array {
    const bytes = this.bytes(i);
    const out = new Float32Array(PER);
    for (let k = 0; k < PER; k++) out[k] = bytes[k] / 127.5 - 1;
    return out;
  }

  /** n faces drawn with replacement, each with its class and a caption, all from `rng`. */
  sample(n: number, rng: Rng): FacesBatch {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample(n): n must be an integer >= 0, got ${n}`);
    const data = new Float32Array(n * PER);
    const labels: number[] = [];
    const captions: string[] = [];
    for (let i = 0; i < n; i++) {
      const j = rng.int(this.size);
      const bytes = this.bytes(j);
      for (let k = 0, o = i * PER; k < PER; k++) data[o + k] = bytes[k] / 127.5 - 1;
      labels.push(this.labelOf[j]);
      captions.push(pickCaption(this.captionLists[this.labelOf[j]], rng));
    }
    return { x: tf.tensor4d(data, [n, FACE_SIDE, FACE_SIDE, 3], 'float32'), labels, captions };
  }

  /** Every face of the set in index order, [size, 32, 32, 3], with its class. */
  all(): { x: tf.Tensor4D; labels: number[] } {
    const data = new Float32Array(this.size * PER);
    for (let i = 0; i < this.size; i++) {
      const bytes = this.bytes(i);
      for (let k = 0, o = i * PER; k < PER; k++) data[o + k] = bytes[k] / 127.5 - 1;
    }
    return { x: tf.tensor4d(data, [this.size, FACE_SIDE, FACE_SIDE, 3], 'float32'), labels: Array.from(this.labelOf) };
  }

  private bytes(i: number): Uint8Array {
    this.checkIndex(i);
    let b = this.cache[i];
    if (!b) {
      const rgb = renderFace(faceAttributesOf(this.labelOf[i]), this.layout(i));
      b = new Uint8Array(PER);
      for (let k = 0; k < PER; k++) b[k] = Math.round(Math.min(Math.max(rgb[k], 0), 1) * 255);
      this.cache[i] = b;
    }
    return b;
  }

  private checkIndex(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.size)) throw new RangeError(`faces: index must be an integer 0..${this.size - 1}, got ${i}`);
  }
}

export const facesPlugin = definePlugin({
  kind: 'dataset',
  id: 'faces',
  summary: 'Procedural anti-aliased 32x32 RGB cartoon faces: 5 expressions x 4 colours x eyes open/closed x none/glasses/hat, labels and captions',
  options: facesSchema,
  create: (o) => new FacesDataset(o),
});
