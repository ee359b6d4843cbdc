/**
 * Class-label conditioner: a learned table [classes, dim], one condition vector per class, as
 * the class embedding of class-conditional diffusion models (`nn.Embedding(num_classes, dim)`;
 * Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", train it with label dropout).
 *
 * Training batches give `labels`; prompts are mapped back to a class: a class name ('7',
 * 'happy yellow open none') or any caption the dataset gives that class ('the digit seven',
 * 'a happy yellow face'), compared normalised (lowercase, punctuation dropped, single spaces).
 * The null condition (the empty prompt, a prompt without words, a dropped row) is the zero
 * vector exactly, which is what the image denoisers read as "no condition".
 *
 * The table starts as torch's nn.Embedding default N(0, 1), drawn from Rng(seed). The lookup is a
 * one-hot matmul (dropped rows have no 1, hence exact zeros): differentiable on every backend,
 * where the gradient of `tf.gather` needs a kernel the wasm backend lacks.
 */
import { ConfigError, type Conditioner, type DataBatch, type Dataset, definePlugin, Rng, resolveRequired, TOKENS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseOptions } from './options.js';
import { normalizeText, textWords } from './tokenizer.js';

export const classLabelConditionerSchema = z
  .object({
    dim: z.number().int().min(1).max(4096).default(128).describe('width of the condition vector (the denoiser condDim)'),
    seed: z.number().int().min(0).default(0).describe('seed of the initial table'),
  })
  .strict();
export type ClassLabelConditionerOptions = z.output<typeof classLabelConditionerSchema>;

/** What a class-label conditioner needs to know of a dataset. */
export interface ClassSource {
  readonly id?: string;
  readonly classes: readonly string[];
  captionsOfClass?(k: number): readonly string[];
}

/** How many class names an error message lists before '...'. */
const LISTED_CLASSES = 12;

export class ClassLabelConditioner implements Conditioner {
  readonly id = 'class-label';
  readonly dim: number;
  readonly options: ClassLabelConditionerOptions;
  readonly classes: readonly string[];
  /** The [classes, dim] table. */
  readonly table: tf.Variable;
  /** Normalised class name or caption -> class. */
  private readonly promptIndex = new Map<string, number>();
  private readonly words = new Set<string>();
  private readonly example: string | null;

  constructor(source: ClassSource, options: z.input<typeof classLabelConditionerSchema> = {}) {
    this.options = parseOptions(classLabelConditionerSchema, options, 'class-label');
    this.dim = this.options.dim;
    const classes = source.classes;
    if (classes.length === 0) throw new RangeError('class-label conditioner: the dataset has no classes');
    this.classes = [...classes];
    // Class names first: a name always means its own class, even if another class's caption
    // normalises to the same text (the datasets' caption tables forbid shared captions).
    for (let k = 0; k < classes.length; k++) this.addPrompt(classes[k], k);
    let example: string | null = null;
    if (source.captionsOfClass) {
      for (let k = 0; k < classes.length; k++) {
        for (const c of source.captionsOfClass(k)) {
          this.addPrompt(c, k);
          example ??= c;
        }
      }
    }
    this.example = example;
    const init = tf.tensor2d(new Rng(this.options.seed).normalArray(classes.length * this.dim), [classes.length, this.dim]);
    this.table = tf.variable(init, true);
    init.dispose();
  }

  /** A class-label conditioner over `dataset`'s classes; a ConfigError when it has none. */
  static forDataset(dataset: Dataset, options: z.input<typeof classLabelConditionerSchema> = {}): ClassLabelConditioner {
    if (!dataset.classes || dataset.classes.length === 0) {
      throw new ConfigError('conditioner', `the 'class-label' conditioner needs a dataset with classes; '${dataset.id}' has none`);
    }
    return new ClassLabelConditioner({ id: dataset.id, classes: dataset.classes, captionsOfClass: dataset.captionsOfClass?.bind(dataset) }, options);
  }

  private addPrompt(text: string, k: number): void {
    const key = normalizeText(text);
    if (key && !this.promptIndex.has(key)) this.promptIndex.set(key, k);
    for (const w of textWords(text)) this.words.add(w);
  }

  get trainableVariables(): tf.Variable[] {
    return [this.table];
  }

  namedWeights(): Record<string, tf.Variable> {
    return { table: this.table };
  }

  /** The class a prompt names, or null for the null condition; a ConfigError for any other prompt. */
  classOf(prompt: string): number | null {
    const key = normalizeText(prompt);
    if (key === '') return null;
    const k = this.promptIndex.get(key);
    if (k !== undefined) return k;
    const n = this.classes.length;
    const names = n <= LISTED_CLASSES ? this.classes.join(', ') : `${this.classes.slice(0, 3).join(', ')}, ... (${n} classes)`;
    const caption = this.example !== null ? ` or a caption such as '${this.example}'` : '';
    throw new ConfigError('prompt', `'${prompt}' names no class; use one of: ${names}${caption}`);
  }

  unknownWords(prompt: string): string[] {
    return [...new Set(textWords(prompt).filter((w) => !this.words.has(w)))];
  }

  encodePrompts(prompts: readonly string[]): tf.Tensor2D {
    return this.encodeLabels(prompts.map((p) => this.classOf(p)));
  }

  encodeBatch(batch: DataBatch, drop?: readonly boolean[]): tf.Tensor2D {
    const labels = batch.labels;
    if (!labels) throw new ConfigError('conditioner', "the 'class-label' conditioner needs labels, and this batch has none; use a labelled dataset (mnist, faces)");
    if (drop && drop.length !== labels.length) throw new RangeError(`encodeBatch: drop has ${drop.length} entries for ${labels.length} labels`);
    return this.encodeLabels(labels.map((k, i) => (drop?.[i] ? null : k)));
  }

  /** Rows of the table for class indices [n], zeros for null: [n, dim]. */
  encodeLabels(labels: readonly (number | null)[]): tf.Tensor2D {
    const n = labels.length;
    const C = this.classes.length;
    const oneHot = new Float32Array(n * C);
    labels.forEach((k, i) => {
      if (k === null) return;
      if (!(Number.isInteger(k) && k >= 0 && k < C)) throw new RangeError(`class-label conditioner: label ${k} is not a class index 0..${C - 1}`);
      oneHot[i * C + k] = 1;
    });
    return tf.tidy(() => tf.matMul(tf.tensor2d(oneHot, [n, C]), this.table as tf.Tensor2D));
  }

  dispose(): void {
    this.table.dispose();
  }
}

export const classLabelConditionerPlugin = definePlugin({
  kind: 'conditioner',
  id: 'class-label',
  summary: "Class labels -> [dim]: a learned [classes, dim] table; prompts are class names or the dataset's captions",
  options: classLabelConditionerSchema,
  create: (o, container) => ClassLabelConditioner.forDataset(resolveRequired(container, TOKENS.Dataset), o),
});
