/**
 * The judge network: a small CNN classifier in TensorFlow.js ops, in the spirit of the LeNet /
 * "MNIST classifier" used to score conditional diffusion samples (and of the Inception network
 * behind FID, Heusel et al. 2017, at a scale that trains in minutes on one CPU core):
 *
 *   x [B, H, W, C] -> L x (Conv3x3(stride s_i, padding 1) + ReLU)
 *     -> flatten (NHWC order: h, w, c) -> Linear(., F) + ReLU  = the features [B, F]
 *     -> one Linear(F, n_a) head per attribute a               = the logits
 *
 * Parameters are initialised as torch's defaults (nn.Conv2d / nn.Linear:
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases) from a seeded `Rng`; layouts are
 * tfjs' (Conv `[k, k, in, out]`, Linear `[in, out]`), names torch-style module paths
 * (`convs.0.weight`, `fc.bias`, `heads.digit.weight`). Every op is a fused conv / matmul with
 * bias and activation; training needs the gradient kernels of `tf.conv2d`, which the wasm
 * backend gets from `registerWasmConvKernels()` of @difflab/runtime (see `train.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { formatZodIssue, type Rng } from '@difflab/core';
import { z } from 'zod';
import { combinationNames, type JudgeAttribute } from './attributes.js';

const attributeSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, _)'),
    values: z.array(z.string().min(1)).min(2, 'an attribute needs at least 2 values'),
  })
  .strict();

export const judgeConfigSchema = z
  .object({
    name: z.string().min(1).describe('what the judge judges, e.g. mnist or faces'),
    inputShape: z.tuple([z.number().int().min(4), z.number().int().min(4), z.number().int().min(1).max(4)]).describe('[H, W, C] the judge was trained at'),
    channels: z.array(z.number().int().min(1).max(256)).min(1).max(5).default([16, 32, 32]).describe('output channels of each 3x3 conv'),
    strides: z
      .array(z.union([z.literal(1), z.literal(2)]))
      .min(1)
      .max(5)
      .default([1, 2, 2])
      .describe('stride of each conv (1 or 2)'),
    featureDim: z.number().int().min(2).max(1024).default(128).describe('units of the feature layer'),
    attributes: z.array(attributeSchema).min(1).describe('one head per attribute; classes are their combinations'),
  })
  .strict()
  .refine((c) => c.channels.length === c.strides.length, { message: 'channels and strides must have the same length (one per conv)', path: ['strides'] })
  .refine((c) => new Set(c.attributes.map((a) => a.name)).size === c.attributes.length, { message: 'attribute names must be distinct', path: ['attributes'] });

export type JudgeConfig = z.output<typeof judgeConfigSchema>;
export type JudgeConfigInput = z.input<typeof judgeConfigSchema>;

/** Validate a judge configuration (defaults filled in); a bad one throws a one-line ConfigError under `path`. */
export function parseJudgeConfig(config: unknown, path = 'judge'): JudgeConfig {
  const r = judgeConfigSchema.safeParse(config);
  if (!r.success) throw formatZodIssue(path, r.error);
  return r.data;
}

interface Layer {
  weight: tf.Variable;
  bias: tf.Variable;
}

function uniformVariable(shape: number[], bound: number, rng: Rng): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.variable(tf.tensor(rng.uniformArray(size, -bound, bound), shape, 'float32'), true));
}

/** torch's default init of a layer with `fanIn` inputs: weight then bias, each U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
function createLayer(weightShape: number[], fanIn: number, rng: Rng): Layer {
  const bound = 1 / Math.sqrt(fanIn);
  const weight = uniformVariable(weightShape, bound, rng);
  const bias = uniformVariable([weightShape[weightShape.length - 1]], bound, rng);
  return { weight, bias };
}

/** Output side of Conv3x3(stride s, padding 1) on a side of length n. */
function convSide(n: number, stride: number): number {
  return Math.floor((n + 2 - 3) / stride) + 1;
}

/** The judge CNN's parameters and forward pass. Inputs must already have `config.inputShape`. */
export class JudgeNet {
  readonly config: JudgeConfig;
  readonly attributes: readonly JudgeAttribute[];
  /** Class names, the attribute combinations (see attributes.ts). */
  readonly classes: readonly string[];
  private readonly convs: Layer[] = [];
  private readonly fc: Layer;
  private readonly heads: Layer[];

  /** A freshly initialised network (torch default init from `rng`: convs, fc, then heads, in order). */
  constructor(config: JudgeConfigInput | JudgeConfig, rng: Rng) {
    this.config = parseJudgeConfig(config);
    const { inputShape, channels, strides, featureDim, attributes } = this.config;
    this.attributes = attributes;
    this.classes = combinationNames(attributes);
    let [h, w, c] = inputShape;
    for (let i = 0; i < channels.length; i++) {
      this.convs.push(createLayer([3, 3, c, channels[i]], 9 * c, rng));
      c = channels[i];
      h = convSide(h, strides[i]);
      w = convSide(w, strides[i]);
    }
    const flat = h * w * c;
    this.fc = createLayer([flat, featureDim], flat, rng);
    this.heads = attributes.map((a) => createLayer([featureDim, a.values.length], featureDim, rng));
  }

  /** Every weight by torch-style name, in creation order (the order of the weights file). */
  namedWeights(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    const add = (prefix: string, l: Layer) => {
      out[`${prefix}.weight`] = l.weight;
      out[`${prefix}.bias`] = l.bias;
    };
    for (const [i, l] of this.convs.entries()) add(`convs.${i}`, l);
    add('fc', this.fc);
    for (const [i, l] of this.heads.entries()) add(`heads.${this.attributes[i].name}`, l);
    return out;
  }

  /** The trainable variables (all weights). */
  trainableVariables(): tf.Variable[] {
    return Object.values(this.namedWeights());
  }

  /** Number of scalar parameters. */
  parameterCount(): number {
    return this.trainableVariables().reduce((n, v) => n + v.size, 0);
  }

  /**
   * Features [B, F] and one logits tensor [B, n_a] per attribute for x [B, H, W, C] of the
   * training shape. Differentiable; call inside `tf.tidy` (or dispose the results).
   */
  forward(x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D[] } {
    const features = this.featuresOf(x);
    const logits = this.heads.map((hd) => tf.fused.matMul({ a: features, b: hd.weight as tf.Tensor2D, bias: hd.bias }) as tf.Tensor2D);
    return { features, logits };
  }

  /** The feature layer only (the input of the heads; what Fréchet distances are computed on). */
  featuresOf(x: tf.Tensor4D): tf.Tensor2D {
    const [h0, w0, c0] = this.config.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h0 || x.shape[2] !== w0 || x.shape[3] !== c0) {
      throw new RangeError(`judge network expects [B, ${h0}, ${w0}, ${c0}], got [${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor4D = x;
      this.convs.forEach((l, i) => {
        h = tf.fused.conv2d({ x: h, filter: l.weight as tf.Tensor4D, strides: this.config.strides[i], pad: 1, bias: l.bias, activation: 'relu' });
      });
      const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
      return tf.fused.matMul({ a: flat, b: this.fc.weight as tf.Tensor2D, bias: this.fc.bias, activation: 'relu' }) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const v of this.trainableVariables()) v.dispose();
  }
}
