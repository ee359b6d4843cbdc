/**
 * `unet`: a small convolutional UNet denoiser (after Ho et al. 2020, "Denoising Diffusion
 * Probabilistic Models", and diffusers' UNet2DModel blocks), exactly as specified in
 * docs/image-models.md so that its PyTorch twin does the same work. With channels [c_0 .. c_{L-1}]:
 *
 *   h = conv_in(x)                                           Conv3x3(C, c_0)
 *   level i = 0 .. L-1:   h = ResBlock(c_{i-1} -> c_i)(h); skip_i = h; h = Conv3x3 stride 2 (c_i -> c_i)(h)
 *   middle:               ResBlock(c_L-1) -> SelfAttention(c_L-1) -> ResBlock(c_L-1)
 *   level i = L-1 .. 0:   h = Conv3x3(nearest_x2(h)); h = ResBlock(ch + c_i -> c_i)(concat[h, skip_i])
 *   out = Conv3x3(c_0, C)(SiLU(GroupNorm(c_0)(h)))
 *
 * ResBlock(cin -> cout): h = Conv3x3(SiLU(GN(x))) + Linear(4w, cout)(SiLU(temb))[:, None, None];
 * h = Conv3x3(SiLU(GN(h))); out = h + (cin == cout ? x : Conv1x1(x)). w = c_0, temb [B, 4 c_0].
 * SelfAttention: GN -> qkv Linear(c, 3c) over channels -> softmax(q k^T / sqrt(c)) v (1 head)
 * -> Linear(c, c) -> + x. Every Conv3x3 uses torch's padding=1 (also at stride 2: pad 1 on every side).
 *
 * Tensors are NHWC; conv weights are stored [3, 3, in, out] (torch: [out, in, 3, 3]).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, type DependencyContainer, definePlugin, formatZodIssue, PREDICTION_TYPES } from '@difflab/core';
import { ImageDenoiser } from './image-denoiser.js';
import { type Conv2dParams, concatChannels, conv2d, conv2dAdd, groupNorm, groupNormSilu, type LinearParams, linear, type NormParams, selfAttention, silu } from './layers.js';

export const unetOptionsSchema = z
  .object({
    /** Channels per resolution level; each level halves the resolution. */
    channels: z.array(z.number().int().positive().max(4096)).min(1).max(8).default([32, 64]),
    /** GroupNorm groups (every channel count must be divisible by it). */
    groups: z.number().int().positive().default(8),
    /** Image height and width; a multiple of 2^levels. */
    imageSize: z.number().int().positive().max(1024).default(32),
    /** Image channels (1: MNIST padded to 32x32; 3: colour). */
    imageChannels: z.number().int().positive().default(1),
    /** What the network is trained to predict. */
    predictionType: z.enum(PREDICTION_TYPES as unknown as ['epsilon', 'v_prediction', 'sample']).default('epsilon'),
    /** Seed of the weight initialisation. */
    seed: z.number().int().min(0).default(0),
    /** Width of a condition vector added to temb through Linear(condDim, 4w) (0: unconditional). */
    condDim: z.number().int().min(0).default(0),
  })
  .strict();

export type UNetOptions = z.output<typeof unetOptionsSchema>;

interface ResBlock {
  norm1: NormParams;
  conv1: Conv2dParams;
  tembProj: LinearParams;
  norm2: NormParams;
  conv2: Conv2dParams;
  skip: Conv2dParams | undefined;
}

interface AttnBlock {
  norm: NormParams;
  qkv: LinearParams;
  proj: LinearParams;
}

/**
 * Nearest-neighbour x2 upsampling (torch `F.interpolate(scale_factor=2, mode='nearest')`). Its
 * gradient, the sum over each 2x2 block, is 4 avgPool(dy, 2, 2): tfjs-backend-cpu's
 * ResizeNearestNeighborGrad is wrong for batches > 1 (4.22), and a pooling kernel is fast everywhere.
 */
const upsample2x = tf.customGrad((x, save) => {
  (save as tf.GradSaveFunc)([]);
  const [, h, w] = (x as tf.Tensor4D).shape;
  return {
    value: tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [2 * h, 2 * w]),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.avgPool(dy as tf.Tensor4D, 2, 2, 'valid'), 4),
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

export class UNetDenoiser extends ImageDenoiser<UNetOptions> {
  private readonly convIn: Conv2dParams;
  private readonly down: { res: ResBlock; downsample: Conv2dParams }[] = [];
  private readonly mid: { res1: ResBlock; attn: AttnBlock; res2: ResBlock };
  /** Deepest level first (index = level). */
  private readonly up: { upsampleConv: Conv2dParams; res: ResBlock }[] = [];
  private readonly normOut: NormParams;
  private readonly convOut: Conv2dParams;

  /** `options` are validated (defaults filled in); errors name `model.options.<field>`. */
  constructor(options: Partial<UNetOptions> = {}) {
    const parsed = unetOptionsSchema.safeParse(options ?? {});
    if (!parsed.success) throw formatZodIssue('model.options', parsed.error);
    const opts = parsed.data;
    const levels = opts.channels.length;
    if (opts.imageSize % 2 ** levels !== 0) {
      throw new ConfigError('model.options.imageSize', `must be a multiple of 2^${levels} (one halving per level), got ${opts.imageSize}`);
    }
    const bad = opts.channels.find((c) => c % opts.groups !== 0);
    if (bad !== undefined) throw new ConfigError('model.options.groups', `channel count ${bad} is not divisible into ${opts.groups} groups`);
    super(opts, opts.channels[0] as number, 'unet');
    const ch = opts.channels;
    const c0 = ch[0] as number;
    const imgC = opts.imageChannels;
    this.convIn = this.addConv('conv_in', imgC, c0, 3);
    let prev = c0;
    ch.forEach((c, i) => {
      const res = this.addResBlock(`down.${i}.res`, prev, c);
      const downsample = this.addConv(`down.${i}.downsample`, c, c, 3, 2);
      this.down.push({ res, downsample });
      prev = c;
    });
    this.mid = {
      res1: this.addResBlock('mid.res1', prev, prev),
      attn: { norm: this.addNorm('mid.attn.norm', prev), qkv: this.addLinear('mid.attn.qkv', prev, 3 * prev), proj: this.addLinear('mid.attn.proj', prev, prev) },
      res2: this.addResBlock('mid.res2', prev, prev),
    };
    const ups: { upsampleConv: Conv2dParams; res: ResBlock }[] = [];
    for (let i = levels - 1; i >= 0; i--) {
      const c = ch[i] as number;
      const upsampleConv = this.addConv(`up.${i}.upsample_conv`, prev, prev, 3);
      const res = this.addResBlock(`up.${i}.res`, prev + c, c);
      ups[i] = { upsampleConv, res };
      prev = c;
    }
    this.up = ups;
    this.normOut = this.addNorm('norm_out', c0);
    this.convOut = this.addConv('conv_out', c0, imgC, 3);
  }

  private addResBlock(name: string, cin: number, cout: number): ResBlock {
    return {
      norm1: this.addNorm(`${name}.norm1`, cin),
      conv1: this.addConv(`${name}.conv1`, cin, cout, 3),
      tembProj: this.addLinear(`${name}.temb_proj`, this.tembDim, cout),
      norm2: this.addNorm(`${name}.norm2`, cout),
      conv2: this.addConv(`${name}.conv2`, cout, cout, 3),
      skip: cin === cout ? undefined : this.addConv(`${name}.skip`, cin, cout, 1),
    };
  }

  private resBlock(x: tf.Tensor4D, p: ResBlock, tembAct: tf.Tensor2D): tf.Tensor4D {
    const g = this.config.groups;
    const cout = p.conv1.weight.shape[3] as number;
    // the time embedding and the residual are added inside the convolutions (one pass each, where
    // the backend has DifflabConv2DAdd; a conv and an Add otherwise)
    const h = conv2dAdd(groupNormSilu(x, p.norm1, g), p.conv1, tf.reshape(linear(tembAct, p.tembProj), [-1, 1, 1, cout]) as tf.Tensor4D);
    return conv2dAdd(groupNormSilu(h, p.norm2, g), p.conv2, p.skip ? conv2d(x, p.skip) : x);
  }

  private attnBlock(x: tf.Tensor4D, p: AttnBlock): tf.Tensor4D {
    const [b, h, w, c] = x.shape;
    const o = linear(selfAttention(tf.reshape(groupNorm(x, p.norm, this.config.groups), [b * h * w, c]) as tf.Tensor2D, p.qkv, b, h * w, 1).out, p.proj);
    return tf.add(x, tf.reshape(o, [b, h, w, c]));
  }

  protected forward(x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor4D {
    const tembAct = silu(temb) as tf.Tensor2D;
    let h = conv2d(x, this.convIn);
    const skips: tf.Tensor4D[] = [];
    for (const lvl of this.down) {
      h = this.resBlock(h, lvl.res, tembAct);
      skips.push(h);
      h = conv2d(h, lvl.downsample);
    }
    h = this.resBlock(h, this.mid.res1, tembAct);
    h = this.attnBlock(h, this.mid.attn);
    h = this.resBlock(h, this.mid.res2, tembAct);
    for (let i = this.up.length - 1; i >= 0; i--) {
      const lvl = this.up[i] as { upsampleConv: Conv2dParams; res: ResBlock };
      h = conv2d(upsample2x(h), lvl.upsampleConv);
      h = this.resBlock(concatChannels(h, skips[i] as tf.Tensor4D), lvl.res, tembAct);
    }
    return conv2d(groupNormSilu(h, this.normOut, this.config.groups), this.convOut);
  }
}

/** Plugin 'unet' (kind 'model'): needs nothing from the container. */
export const unetPlugin = definePlugin({
  kind: 'model',
  id: 'unet',
  summary: 'small convolutional UNet for images: ResBlocks with time embedding, stride-2 downsampling, mid self-attention, skip concatenation',
  options: unetOptionsSchema,
  create(options: UNetOptions, _container: DependencyContainer): UNetDenoiser {
    return new UNetDenoiser(options);
  },
});
