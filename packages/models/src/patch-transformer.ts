/**
 * `patch-transformer`: a DiT-like image denoiser without adaLN (Peebles & Xie 2023, "Scalable
 * Diffusion Models with Transformers", with conditioning by addition), exactly as specified in
 * docs/image-models.md so that its PyTorch twin does the same work:
 *
 *   tokens = Linear(p*p*C, w)(patchify_p(x))            [B, N, w], N = (H/p)(W/p), features (py, px, c)
 *   h = tokens + pos_2d_sincos + Linear(4w, w)(SiLU(temb))[:, None]
 *   depth x { h += Attn(LN(h)); h += MLP(LN(h)) }         pre-norm, MLP = Linear(w, r w) GELU(erf) Linear(r w, w)
 *   out = unpatchify_p(Linear(w, p*p*C)(LN(h)))          [B, H, W, C]
 *
 * The 2-D positional embedding is MAE's `get_2d_sincos_pos_embed` (facebookresearch/mae,
 * util/pos_embed.py): the first w/2 features encode the column (w coordinate), the last w/2 the
 * row, each as [sin(pos omega), cos(pos omega)], omega_i = 10000^(-i / (w/4)).
 *
 * `conditioning: 'adaln'` adds DiT's adaLN-Zero: c = SiLU(temb) (timestep + condition) sets, per
 * block, a shift, scale and gate for each of the two sub-blocks,
 *   (shift1, scale1, gate1, shift2, scale2, gate2) = Linear(4w, 6w)(c)     zero-initialised
 *   h += gate1 * Attn(LN(h) (1 + scale1) + shift1);  h += gate2 * MLP(LN(h) (1 + scale2) + shift2)
 * and the output norm LN(h) (1 + scale) + shift with (shift, scale) = Linear(4w, 2w)(c), so the
 * timestep and the condition reach every block instead of only the input tokens (the default
 * `add`). Each block starts as the identity.
 *
 * wasm-friendly: patchify / unpatchify and the head split use 4-D transposes only, attention is
 * batched plain matmuls on [B * heads, N, d].
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, type DependencyContainer, definePlugin, formatZodIssue, PREDICTION_TYPES } from '@difflab/core';
import { ImageDenoiser } from './image-denoiser.js';
import { gelu, type LinearParams, layerNorm, linear, type NormParams, selfAttention, silu } from './layers.js';

export const patchTransformerOptionsSchema = z
  .object({
    /** Side of the square patches; imageSize must be a multiple of it. */
    patch: z.number().int().positive().max(64).default(4),
    /** Model width w (token features); a multiple of 4 and of heads. */
    width: z.number().int().positive().max(4096).default(128),
    /** Number of transformer blocks. */
    depth: z.number().int().min(0).max(64).default(4),
    /** Attention heads (head size w / heads). */
    heads: z.number().int().positive().max(64).default(4),
    /** Hidden width of the MLP as a multiple of w. */
    mlpRatio: z.number().int().positive().max(16).default(4),
    /** Image height and width (sampleShape = [imageSize, imageSize, imageChannels]). */
    imageSize: z.number().int().positive().max(1024).default(28),
    /** Image channels (1 for MNIST). */
    imageChannels: z.number().int().positive().default(1),
    /** What the network is trained to predict. */
    predictionType: z.enum(PREDICTION_TYPES as unknown as ['epsilon', 'v_prediction', 'sample']).default('epsilon'),
    /** Seed of the weight initialisation. */
    seed: z.number().int().min(0).default(0),
    /** Width of a condition vector added to temb through Linear(condDim, 4w) (0: unconditional). */
    condDim: z.number().int().min(0).default(0),
    /** How temb (timestep + condition) enters: `add` to the input tokens, or `adaln` (adaLN-Zero in every block). */
    conditioning: z.enum(['add', 'adaln']).default('add'),
  })
  .strict();

export type PatchTransformerOptions = z.output<typeof patchTransformerOptionsSchema>;

/** MAE's 1-D sin-cos embedding of positions `pos` with `dim` features: [sin(pos omega), cos(pos omega)]. */
function sincos1d(dim: number, pos: number): number[] {
  const half = dim / 2;
  const out = new Array<number>(dim);
  for (let i = 0; i < half; i++) {
    const omega = 1 / 10000 ** (i / half);
    out[i] = Math.sin(pos * omega);
    out[half + i] = Math.cos(pos * omega);
  }
  return out;
}

/**
 * MAE's `get_2d_sincos_pos_embed(dim, grid)` for a gridH x gridW grid, as a Float32Array
 * [gridH * gridW, dim] in row-major token order: token (i, j) gets [emb_1d(dim/2, j), emb_1d(dim/2, i)]
 * (MAE's meshgrid puts the w coordinate first).
 */
export function sincosPositionalEmbedding2d(dim: number, gridH: number, gridW: number): Float32Array {
  if (dim % 4 !== 0) throw new RangeError(`2-D sin-cos positional embedding needs a width divisible by 4, got ${dim}`);
  const out = new Float32Array(gridH * gridW * dim);
  for (let i = 0; i < gridH; i++) {
    for (let j = 0; j < gridW; j++) {
      const row = [...sincos1d(dim / 2, j), ...sincos1d(dim / 2, i)];
      out.set(row, (i * gridW + j) * dim);
    }
  }
  return out;
}

interface Block {
  norm1: NormParams;
  qkv: LinearParams;
  proj: LinearParams;
  norm2: NormParams;
  fc1: LinearParams;
  fc2: LinearParams;
  /** adaLN-Zero: Linear(4w, 6w) -> shift1, scale1, gate1, shift2, scale2, gate2. */
  modulation?: LinearParams;
}

export class PatchTransformerDenoiser extends ImageDenoiser<PatchTransformerOptions> {
  /** Tokens per image (H/p)(W/p). */
  readonly tokens: number;
  private readonly pos: tf.Tensor3D;
  private readonly patchEmbed: LinearParams;
  private readonly timeProj: LinearParams;
  private readonly blocks: Block[] = [];
  private readonly normOut: NormParams;
  private readonly projOut: LinearParams;
  private readonly modulationOut: LinearParams | null = null;

  /** `options` are validated (defaults filled in); errors name `model.options.<field>`. */
  constructor(options: Partial<PatchTransformerOptions> = {}) {
    const parsed = patchTransformerOptionsSchema.safeParse(options ?? {});
    if (!parsed.success) throw formatZodIssue('model.options', parsed.error);
    const cfg = parsed.data;
    if (cfg.imageSize % cfg.patch !== 0) throw new ConfigError('model.options.patch', `imageSize ${cfg.imageSize} is not a multiple of patch ${cfg.patch}`);
    if (cfg.width % 4 !== 0) throw new ConfigError('model.options.width', `must be a multiple of 4 (2-D sin-cos positions), got ${cfg.width}`);
    if (cfg.width % cfg.heads !== 0) throw new ConfigError('model.options.heads', `width ${cfg.width} is not divisible into ${cfg.heads} heads`);
    super(cfg, cfg.width, 'patch-transformer');
    const { patch: p, width: w, imageChannels: c, imageSize } = cfg;
    const grid = imageSize / p;
    this.tokens = grid * grid;
    const patchDim = p * p * c;
    this.patchEmbed = this.addLinear('patch_embed', patchDim, w);
    this.timeProj = this.addLinear('time_proj', this.tembDim, w);
    for (let i = 0; i < cfg.depth; i++) {
      this.blocks.push({
        norm1: this.addNorm(`blocks.${i}.norm1`, w),
        qkv: this.addLinear(`blocks.${i}.attn.qkv`, w, 3 * w),
        proj: this.addLinear(`blocks.${i}.attn.proj`, w, w),
        norm2: this.addNorm(`blocks.${i}.norm2`, w),
        fc1: this.addLinear(`blocks.${i}.mlp.fc1`, w, cfg.mlpRatio * w),
        fc2: this.addLinear(`blocks.${i}.mlp.fc2`, cfg.mlpRatio * w, w),
        ...(cfg.conditioning === 'adaln' ? { modulation: this.addLinear(`blocks.${i}.adaLN_modulation`, this.tembDim, 6 * w, 'zeros') } : {}),
      });
    }
    this.normOut = this.addNorm('norm_out', w);
    this.projOut = this.addLinear('proj_out', w, patchDim);
    if (cfg.conditioning === 'adaln') this.modulationOut = this.addLinear('adaLN_out', this.tembDim, 2 * w, 'zeros');
    this.pos = tf.tensor3d(sincosPositionalEmbedding2d(w, grid, grid), [1, this.tokens, w]);
  }

  /** [B, H, W, C] -> tokens [B * N, p*p*C], features ordered (py, px, c), tokens row-major. */
  patchify(x: tf.Tensor4D): tf.Tensor2D {
    const [b, h, w, c] = x.shape;
    const p = this.config.patch;
    return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [(b * h) / p, p, w / p, p * c]), [0, 2, 1, 3]), [-1, p * p * c]) as tf.Tensor2D);
  }

  /** Inverse of `patchify`: [B * N, p*p*C] -> [B, H, W, C]. */
  unpatchify(tokens: tf.Tensor, batch: number): tf.Tensor4D {
    const [h, w, c] = this.sampleShape as [number, number, number];
    const p = this.config.patch;
    return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(tokens, [(batch * h) / p, w / p, p, p * c]), [0, 2, 1, 3]), [batch, h, w, c]) as tf.Tensor4D);
  }

  protected forward(x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor4D {
    let h = this.embedTokens(x, temb);
    const c = this.config.conditioning === 'adaln' ? silu(temb) : null;
    for (const blk of this.blocks) h = this.block(h, blk, c).h;
    let out = layerNorm(h, this.normOut);
    if (c && this.modulationOut) {
      const [shift, scale] = this.modulations(c, this.modulationOut, 2);
      out = modulate(out, shift, scale);
    }
    return this.unpatchify(linear(out, this.projOut), x.shape[0]);
  }

  /** Linear(4w, k w)(c) as k tensors [B, 1, w]. */
  private modulations(c: tf.Tensor, p: LinearParams, k: number): tf.Tensor[] {
    const batch = c.shape[0] as number;
    return tf.split(tf.reshape(linear(c, p), [batch, 1, k * this.config.width]), k, 2);
  }

  /** Patch tokens + positions + Linear(4w, w)(SiLU(temb)): [B, N, w]. */
  private embedTokens(x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor3D {
    const batch = x.shape[0];
    const w = this.config.width;
    const tok = tf.reshape(linear(this.patchify(x), this.patchEmbed), [batch, this.tokens, w]);
    const time = tf.reshape(linear(silu(temb), this.timeProj), [batch, 1, w]);
    return tf.add(tok, tf.add(this.pos, time)) as tf.Tensor3D;
  }

  /**
   * h += Attn(LN(h)); h += MLP(LN(h)) (adaLN: modulated norms, gated residuals, from c = SiLU(temb)).
   * With `withWeights`, also the attention weights [B * heads, N, N].
   */
  private block(h: tf.Tensor3D, blk: Block, c: tf.Tensor | null, withWeights = false): { h: tf.Tensor3D; weights?: tf.Tensor3D } {
    const batch = h.shape[0];
    const n = this.tokens;
    const w = this.config.width;
    const heads = this.config.heads;
    const m = c && blk.modulation ? this.modulations(c, blk.modulation, 6) : null;
    let a: tf.Tensor = layerNorm(h, blk.norm1);
    if (m) a = modulate(a, m[0], m[1]);
    const att = selfAttention(tf.reshape(a, [batch * n, w]) as tf.Tensor2D, blk.qkv, batch, n, heads, withWeights);
    let y: tf.Tensor = tf.reshape(linear(att.out, blk.proj), [batch, n, w]);
    if (m) y = tf.mul(y, m[2]);
    let out = tf.add(h, y);
    let b: tf.Tensor = layerNorm(out, blk.norm2);
    if (m) b = modulate(b, m[3], m[4]);
    let z: tf.Tensor = linear(gelu(linear(b, blk.fc1)), blk.fc2);
    if (m) z = tf.mul(z, m[5]);
    out = tf.add(out, z);
    return { h: out as tf.Tensor3D, weights: att.weights };
  }

  /** The attention weights [B * heads, N, N] of block `index` for (x_t, t) (for inspection and tests). */
  attentionWeights(xt: tf.Tensor4D, t: tf.Tensor, index = 0): tf.Tensor3D {
    if (!(index >= 0 && index < this.blocks.length)) throw new RangeError(`block index ${index} out of range [0, ${this.blocks.length})`);
    return tf.tidy(() => {
      const temb = this.timestepEmbedding(t, xt.shape[0]);
      const c = this.config.conditioning === 'adaln' ? silu(temb) : null;
      let h = this.embedTokens(xt, temb);
      for (let i = 0; i < index; i++) h = this.block(h, this.blocks[i] as Block, c).h;
      return this.block(h, this.blocks[index] as Block, c, true).weights as tf.Tensor3D;
    });
  }

  override dispose(): void {
    super.dispose();
    this.pos.dispose();
  }
}

/** x (1 + scale) + shift, scale and shift [B, 1, w] broadcast over the tokens. */
function modulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.add(tf.add(x, tf.mul(x, scale)), shift);
}

/** Plugin 'patch-transformer' (kind 'model'): needs nothing from the container. */
export const patchTransformerPlugin = definePlugin({
  kind: 'model',
  id: 'patch-transformer',
  summary: 'DiT-like patch transformer for images: patchify -> pos + time -> pre-norm attention/MLP blocks (optionally adaLN-Zero) -> unpatchify',
  options: patchTransformerOptionsSchema,
  create(options: PatchTransformerOptions, _container: DependencyContainer): PatchTransformerDenoiser {
    return new PatchTransformerDenoiser(options);
  },
});
