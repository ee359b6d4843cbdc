/**
 * Text conditioner: a caption -> a condition vector [dim] for a denoiser, trained with it.
 *
 *   words   -> ids              word-level `Tokenizer` over the dataset's vocabulary, '[unk]' for
 *                               other words, at most `maxTokens` of them
 *   x_0     = tok[ids] + pos[0..L)                        learned token and position tables
 *   x_l+1   = x_l + Attn(LN(x_l)),  x_l+1 += MLP(LN(x_l+1))  pre-norm transformer encoder blocks
 *                                                          (Vaswani et al. 2017; pre-norm as in
 *                                                          GPT-2 / Xiong et al. 2020), MLP =
 *                                                          Linear(w, r w) -> GELU -> Linear(r w, w),
 *                                                          r = mlpRatio
 *   pooled  = sum_i m_i LN(x_L)_i / sum_i m_i             masked mean over the words
 *   c       = Linear(width, dim)(pooled)
 *
 * Padding never reaches a word: padded keys get -1e9 added to their attention scores (their
 * softmax weight is exactly 0 in float32) and pooling weights them 0, so a caption's vector does
 * not depend on how far it is padded.
 *
 * The null condition (the empty prompt '', a text without words, or a row dropped by
 * conditioning dropout) is the zero vector exactly, not the encoding of an empty sequence: the
 * image denoisers read "no condition" as zeros, so `predict(x, t)` equals the null condition.
 *
 * Initialisation is torch's defaults from one seeded `Rng`: nn.Embedding N(0, 1) (the padding
 * row zero, as `padding_idx`), nn.Linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias,
 * nn.LayerNorm weight 1, bias 0. Linear weights are stored [in, out] (torch's transpose).
 *
 * Speed (wasm): equal captions of a batch are encoded once, and a batch is padded only to its
 * longest caption. The lookups tok[ids] and pos[i] are one-hot matmuls: the registered gradient
 * of `tf.gather` needs `UnsortedSegmentSum`, which stock tfjs-backend-wasm lacks, and its GatherV2
 * is slower than these small matmuls anyway.
 *
 * Gradients: the trainer's `tf.variableGrads` trains it with the denoiser. Matmuls and Linear
 * layers carry their own gradient (`tf.customGrad`): plain matmuls after explicit transposes,
 * where tfjs' registered one multiplies with transposeA / transposeB, which wasm runs several
 * times slower; the tests check them against float64 finite differences. Layer norm, GELU (erf),
 * softmax and the rest use tfjs' registered gradients.
 */
import { ConfigError, type Conditioner, type DataBatch, type Dataset, definePlugin, Rng, resolveRequired, TOKENS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseOptions } from './options.js';
import { PAD_ID, Tokenizer } from './tokenizer.js';

/** Added to the attention score of a padded key: exp(-1e9 - max) is exactly 0 in float32. */
const MASKED_SCORE = -1e9;
const LN_EPS = 1e-5;

export const textConditionerSchema = z
  .object({
    dim: z.number().int().min(1).max(4096).default(128).describe('width of the condition vector (the denoiser condDim)'),
    width: z.number().int().min(1).default(64).describe('width of the token embeddings and the transformer'),
    layers: z.number().int().min(0).default(2).describe('transformer encoder blocks (0: pooled embeddings only)'),
    heads: z.number().int().min(1).default(4).describe('attention heads (width must be divisible by heads)'),
    mlpRatio: z.number().int().min(1).default(4).describe('hidden width of each block MLP, in multiples of width'),
    maxTokens: z.number().int().min(1).default(16).describe('words kept from a caption; longer ones are truncated'),
    seed: z.number().int().min(0).default(0).describe('seed of the initial weights'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.width % o.heads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['heads'], message: `width ${o.width} is not divisible by heads ${o.heads}; use a divisor of ${o.width}` });
    }
  });
export type TextConditionerOptions = z.output<typeof textConditionerSchema>;

interface Linear {
  /** [in, out] */
  weight: tf.Variable;
  /** [out] */
  bias: tf.Variable;
}

interface Norm {
  weight: tf.Variable;
  bias: tf.Variable;
}

interface Block {
  norm1: Norm;
  qkv: Linear;
  proj: Linear;
  norm2: Norm;
  fc1: Linear;
  fc2: Linear;
}

function variable(values: Float32Array | number[], shape: number[]): tf.Variable {
  const t = tf.tensor(values, shape, 'float32');
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

function initLinear(fanIn: number, fanOut: number, rng: Rng): Linear {
  const bound = 1 / Math.sqrt(fanIn);
  return { weight: variable(rng.uniformArray(fanIn * fanOut, -bound, bound), [fanIn, fanOut]), bias: variable(rng.uniformArray(fanOut, -bound, bound), [fanOut]) };
}

function initNorm(c: number): Norm {
  return { weight: variable(new Float32Array(c).fill(1), [c]), bias: variable(new Float32Array(c), [c]) };
}

function swapLast2(x: tf.Tensor): tf.Tensor {
  return x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [0, 2, 1]);
}

/**
 * a @ b (2-D, or batched 3-D) with the gradient da = dy b^T, db = a^T dy as plain matmuls after
 * explicit transposes: tfjs' registered MatMul gradient multiplies with transposeA / transposeB,
 * which the wasm backend runs several times slower (the same trick as @difflab/models' layers).
 */
const matmul = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor3D, swapLast2(sb) as tf.Tensor3D), tf.matMul(swapLast2(sa) as tf.Tensor3D, dy as tf.Tensor3D)],
  };
}) as <T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: tf.Tensor) => T;

/** x W + b with the same plain-matmul gradient; db is ones[1, M] @ dy (a column sum as one matmul). */
const linear2d = tf.customGrad((x, w, b, save) => {
  (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
  return {
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b as tf.Tensor }),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => {
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, tf.transpose(sw as tf.Tensor2D)), tf.matMul(tf.transpose(sx as tf.Tensor2D), d), tf.reshape(tf.matMul(tf.ones([1, d.shape[0]]), d), [d.shape[1]])];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

function linear(x: tf.Tensor2D, p: Linear): tf.Tensor2D {
  return linear2d(x, p.weight, p.bias);
}

/** torch nn.LayerNorm over the last axis: biased variance, eps inside the sqrt. */
function layerNorm(x: tf.Tensor2D, p: Norm): tf.Tensor2D {
  const xc = tf.sub(x, tf.mean(x, 1, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), 1, true), LN_EPS));
  return tf.add(tf.mul(tf.mul(xc, rstd), p.weight), p.bias) as tf.Tensor2D;
}

/** Exact (erf) GELU, torch nn.GELU() default. */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as tf.Tensor2D;
}

/** Token ids and mask [n, L] row-major (a sub-batch of tokenized texts). */
export interface TokenRows {
  ids: Int32Array;
  mask: Float32Array;
  n: number;
  L: number;
}

/** A caption encoder: tokenizer + embeddings + pre-norm transformer + masked mean pool + Linear. */
export class TextConditioner implements Conditioner {
  readonly id = 'text';
  readonly dim: number;
  readonly options: TextConditionerOptions;
  readonly tokenizer: Tokenizer;
  /** Token embeddings [vocab + 2, width] (row 0 = padding, kept zero; row 1 = '[unk]'). */
  readonly tok: tf.Variable;
  /** Position embeddings [maxTokens, width]. */
  readonly pos: tf.Variable;
  private readonly blocks: Block[];
  private readonly norm: Norm;
  private readonly out: Linear;
  private readonly named: Record<string, tf.Variable>;

  /** `vocabulary`: the known words (a dataset's `vocabulary`). */
  constructor(vocabulary: readonly string[], options: z.input<typeof textConditionerSchema> = {}) {
    this.options = parseOptions(textConditionerSchema, options, 'text');
    const { dim, width, layers, mlpRatio, maxTokens, seed } = this.options;
    this.dim = dim;
    this.tokenizer = new Tokenizer(vocabulary, maxTokens);
    const rng = new Rng(seed);
    const V = this.tokenizer.size;
    const tokInit = rng.normalArray(V * width);
    tokInit.fill(0, PAD_ID * width, (PAD_ID + 1) * width);
    this.tok = variable(tokInit, [V, width]);
    this.pos = variable(rng.normalArray(maxTokens * width), [maxTokens, width]);
    this.blocks = [];
    for (let l = 0; l < layers; l++) {
      this.blocks.push({
        norm1: initNorm(width),
        qkv: initLinear(width, 3 * width, rng),
        proj: initLinear(width, width, rng),
        norm2: initNorm(width),
        fc1: initLinear(width, mlpRatio * width, rng),
        fc2: initLinear(mlpRatio * width, width, rng),
      });
    }
    this.norm = initNorm(width);
    this.out = initLinear(width, dim, rng);
    const named: Record<string, tf.Variable> = { tok: this.tok, pos: this.pos };
    const addLinear = (name: string, p: Linear | Norm) => {
      named[`${name}.weight`] = p.weight;
      named[`${name}.bias`] = p.bias;
    };
    this.blocks.forEach((b, l) => {
      addLinear(`layers.${l}.norm1`, b.norm1);
      addLinear(`layers.${l}.attn.qkv`, b.qkv);
      addLinear(`layers.${l}.attn.proj`, b.proj);
      addLinear(`layers.${l}.norm2`, b.norm2);
      addLinear(`layers.${l}.mlp.fc1`, b.fc1);
      addLinear(`layers.${l}.mlp.fc2`, b.fc2);
    });
    addLinear('norm', this.norm);
    addLinear('out', this.out);
    this.named = named;
  }

  /** A text conditioner over `dataset`'s vocabulary; a ConfigError when the dataset has no captions. */
  static forDataset(dataset: Dataset, options: z.input<typeof textConditionerSchema> = {}): TextConditioner {
    if (!dataset.vocabulary || dataset.vocabulary.length === 0) {
      throw new ConfigError('conditioner', `the 'text' conditioner needs a dataset with captions; '${dataset.id}' has none`);
    }
    return new TextConditioner(dataset.vocabulary, options);
  }

  get trainableVariables(): tf.Variable[] {
    return Object.values(this.named);
  }

  namedWeights(): Record<string, tf.Variable> {
    return { ...this.named };
  }

  unknownWords(prompt: string): string[] {
    return this.tokenizer.unknownWords(prompt);
  }

  encodePrompts(prompts: readonly string[]): tf.Tensor2D {
    return this.encodeTexts(prompts);
  }

  encodeBatch(batch: DataBatch, drop?: readonly boolean[]): tf.Tensor2D {
    const captions = batch.captions;
    if (!captions) throw new ConfigError('conditioner', "the 'text' conditioner needs captions, and this batch has none; use a captioned dataset (mnist, faces) or the 'class-label' conditioner");
    if (drop && drop.length !== captions.length) throw new RangeError(`encodeBatch: drop has ${drop.length} entries for ${captions.length} captions`);
    return this.encodeTexts(captions.map((c, i) => (drop?.[i] ? null : c)));
  }

  /**
   * Condition vectors [n, dim] for texts; null, '' and texts without words are the null
   * condition (zeros). Equal token sequences are encoded once.
   */
  encodeTexts(texts: readonly (string | null)[]): tf.Tensor2D {
    const n = texts.length;
    const maxTokens = this.tokenizer.maxTokens;
    const rowOf = new Int32Array(n).fill(-1);
    const keys = new Map<string, number>();
    const uniques: Int32Array[] = [];
    texts.forEach((t, i) => {
      if (t === null) return;
      const e = this.tokenizer.encode(t);
      if (e.length === 0) return;
      const ids = e.ids.subarray(0, e.length);
      const key = ids.join(',');
      let u = keys.get(key);
      if (u === undefined) {
        u = uniques.length;
        keys.set(key, u);
        uniques.push(ids);
      }
      rowOf[i] = u;
    });
    const U = uniques.length;
    if (U === 0) return tf.zeros([n, this.dim]);
    const L = Math.min(maxTokens, Math.max(...uniques.map((u) => u.length)));
    const rows: TokenRows = { ids: new Int32Array(U * L), mask: new Float32Array(U * L), n: U, L };
    uniques.forEach((ids, u) => {
      rows.ids.set(ids, u * L);
      rows.mask.fill(1, u * L, u * L + ids.length);
    });
    const identity = U === n && rowOf.every((u, i) => u === i);
    if (identity) return this.encodeTokens(rows);
    // Row i of the result is row rowOf[i] of the encodings, or zeros: a 0/1 selection matmul
    // (exact: one 1 and zeros per row), differentiable on every backend.
    const sel = new Float32Array(n * U);
    rowOf.forEach((u, i) => {
      if (u >= 0) sel[i * U + u] = 1;
    });
    return tf.tidy(() => tf.matMul(tf.tensor2d(sel, [n, U]), this.encodeTokens(rows)));
  }

  /**
   * The encoder on token rows [n, L] (L <= maxTokens): [n, dim]. Every row needs at least one
   * word (mask 1); padded positions (mask 0) do not change the result, whatever their ids.
   */
  encodeTokens(rows: TokenRows): tf.Tensor2D {
    const { ids, mask, n, L } = rows;
    const { width, heads, maxTokens } = this.options;
    if (L < 1 || L > maxTokens) throw new RangeError(`encodeTokens: L must be 1..${maxTokens}, got ${L}`);
    if (ids.length !== n * L || mask.length !== n * L) throw new RangeError(`encodeTokens: ids and mask must have ${n} x ${L} entries`);
    const V = this.tokenizer.size;
    const d = width / heads;
    // The lookups tok[ids] and pos[0..L) as one-hot matmuls: padded slots select no row (zeros).
    const oneHot = new Float32Array(n * L * V);
    const posHot = new Float32Array(n * L * maxTokens);
    const counts = new Float32Array(n);
    const bias = new Float32Array(n * L);
    for (let r = 0; r < n * L; r++) {
      if (mask[r] !== 0) {
        const id = ids[r];
        if (!(id >= 0 && id < V)) throw new RangeError(`encodeTokens: token id ${id} is outside 0..${V - 1}`);
        oneHot[r * V + id] = 1;
        posHot[r * maxTokens + (r % L)] = 1;
        counts[Math.floor(r / L)] += 1;
      } else {
        bias[r] = MASKED_SCORE;
      }
    }
    const pool = new Float32Array(n * L);
    for (let r = 0; r < n * L; r++) {
      const c = counts[Math.floor(r / L)];
      if (c === 0) throw new RangeError(`encodeTokens: row ${Math.floor(r / L)} has no words`);
      pool[r] = mask[r] !== 0 ? 1 / c : 0;
    }
    return tf.tidy(() => {
      let x = tf.add(matmul(tf.tensor2d(oneHot, [n * L, V]), this.tok), matmul(tf.tensor2d(posHot, [n * L, maxTokens]), this.pos)) as tf.Tensor2D;
      const keyBias = tf.tensor4d(bias, [n, 1, 1, L]);
      // heads: [n L, w] -> [n heads, L, d] (q, v) or [n heads, d, L] (k^T), one transpose each
      const split = (y: tf.Tensor2D, perm: number[], shape: [number, number, number]): tf.Tensor3D =>
        heads === 1 && perm[3] === 3 ? tf.reshape(y, shape) : tf.reshape(tf.transpose(tf.reshape(y, [n, L, heads, d]), perm), shape);
      for (const b of this.blocks) {
        const h = layerNorm(x, b.norm1);
        // the fused qkv weight is split (not its output: a slice copies its whole input on wasm)
        const [wq, wk, wv] = tf.split(b.qkv.weight, 3, 1);
        const [bq, bk, bv] = tf.split(b.qkv.bias, 3, 0);
        const q = split(linear2d(h, wq, bq), [0, 2, 1, 3], [n * heads, L, d]);
        const kT = split(linear2d(h, wk, bk), [0, 2, 3, 1], [n * heads, d, L]);
        const v = split(linear2d(h, wv, bv), [0, 2, 1, 3], [n * heads, L, d]);
        const scores = tf.add(tf.reshape(matmul(tf.mul(q, 1 / Math.sqrt(d)) as tf.Tensor3D, kT), [n, heads, L, L]), keyBias);
        const att = tf.reshape(tf.softmax(scores), [n * heads, L, L]) as tf.Tensor3D;
        const o = matmul(att, v);
        const merged = (heads === 1 ? tf.reshape(o, [n * L, width]) : tf.reshape(tf.transpose(tf.reshape(o, [n, heads, L, d]), [0, 2, 1, 3]), [n * L, width])) as tf.Tensor2D;
        x = tf.add(x, linear(merged, b.proj));
        x = tf.add(x, linear(gelu(linear(layerNorm(x, b.norm2), b.fc1)), b.fc2));
      }
      const hL = tf.reshape(layerNorm(x, this.norm), [n, L, width]) as tf.Tensor3D;
      const pooled = tf.reshape(matmul(tf.tensor3d(pool, [n, 1, L]), hL), [n, width]) as tf.Tensor2D;
      return linear(pooled, this.out);
    });
  }

  dispose(): void {
    for (const v of Object.values(this.named)) v.dispose();
  }
}

export const textConditionerPlugin = definePlugin({
  kind: 'conditioner',
  id: 'text',
  summary: "Captions -> [dim]: word tokenizer over the dataset's vocabulary, learned token + position embeddings, pre-norm transformer, masked mean pool, Linear",
  options: textConditionerSchema,
  create: (o, container) => TextConditioner.forDataset(resolveRequired(container, TOKENS.Dataset), o),
});
