/**
 * What the two image denoisers (`patch-transformer`, `unet`) share, as specified in
 * docs/image-models.md: the timestep embedding
 *
 *   temb = Linear(4w, 4w)(SiLU(Linear(128, 4w)(sinusoidal_128(t))))   [+ Linear(condDim, 4w)(cond)]
 *
 * with diffusers' `get_timestep_embedding(t, 128, flip_sin_to_cos=True, downscale_freq_shift=0)`
 * (names follow diffusers' `TimestepEmbedding`: `time_embedding.linear_1`, `.linear_2`), input
 * checks, the ordered list of named weights, and dispose.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Denoiser, type PredictionType, Rng } from '@difflab/core';
import { type Conv2dParams, createConv2d, createLinear, createNorm, type LinearParams, linear, type NormParams, silu, sinusoidalTimestepEmbedding } from './layers.js';

/** Width of the sinusoidal timestep features (docs/image-models.md). */
export const TIME_FEATURES = 128;

export interface ImageDenoiserConfig {
  predictionType: PredictionType;
  seed: number;
  /** Image height and width. */
  imageSize: number;
  /** Image channels C. */
  imageChannels: number;
  condDim: number;
}

export abstract class ImageDenoiser<C extends ImageDenoiserConfig> implements Denoiser {
  readonly config: C;
  readonly predictionType: PredictionType;
  /** [H, W, C] (NHWC without the batch). */
  readonly sampleShape: readonly number[];
  /** Width of temb (4w). */
  readonly tembDim: number;
  protected readonly rng: Rng;
  private readonly named: [string, tf.Variable][] = [];
  private readonly timeLinear1: LinearParams;
  private readonly timeLinear2: LinearParams;
  private readonly condLinear: LinearParams | null;
  private disposed = false;

  protected constructor(
    config: C,
    /** Model width w; temb has 4w features. */
    width: number,
    private readonly modelName: string,
  ) {
    this.config = config;
    this.predictionType = config.predictionType;
    this.sampleShape = [config.imageSize, config.imageSize, config.imageChannels];
    this.tembDim = 4 * width;
    this.rng = new Rng(config.seed);
    this.timeLinear1 = this.addLinear('time_embedding.linear_1', TIME_FEATURES, this.tembDim);
    this.timeLinear2 = this.addLinear('time_embedding.linear_2', this.tembDim, this.tembDim);
    this.condLinear = config.condDim > 0 ? this.addLinear('cond_embedding', config.condDim, this.tembDim) : null;
  }

  /** The network after the timestep embedding: x [B, H, W, C], temb [B, 4w] -> [B, H, W, C]. */
  protected abstract forward(x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor4D;

  /** x_t [B, H, W, C], t [B], cond [B, condDim] (condDim > 0; absent = the zero vector) -> [B, H, W, C]. */
  predict(xt: tf.Tensor, t: tf.Tensor, cond?: tf.Tensor): tf.Tensor {
    if (this.disposed) throw new Error(`${this.modelName} model: predict called after dispose()`);
    const [h, w, c] = this.sampleShape;
    if (xt.rank !== 4 || xt.shape[1] !== h || xt.shape[2] !== w || xt.shape[3] !== c) {
      throw new RangeError(`${this.modelName} model expects x_t of shape [B, ${h}, ${w}, ${c}], got [${xt.shape}]`);
    }
    const batch = xt.shape[0] as number;
    if (t.size !== batch) throw new RangeError(`${this.modelName} model got ${t.size} timesteps for a batch of ${batch}`);
    const { condDim } = this.config;
    if (cond && condDim === 0) {
      throw new ConfigError('model.options.condDim', `the ${this.modelName} model got a condition but condDim is 0; set condDim to the condition width`);
    }
    if (cond && cond.size !== batch * condDim) throw new RangeError(`${this.modelName} model expects a condition of shape [B, ${condDim}], got [${cond.shape}]`);
    return tf.tidy(() => {
      const x = (xt.dtype === 'float32' ? xt : tf.cast(xt, 'float32')) as tf.Tensor4D;
      return this.forward(x, this.timestepEmbedding(t, batch, cond));
    });
  }

  /** temb [B, 4w] for timesteps t [B] (and the condition, when condDim > 0). */
  timestepEmbedding(t: tf.Tensor, batch: number, cond?: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      const feats = sinusoidalTimestepEmbedding(tf.reshape(t, [batch]), TIME_FEATURES);
      let temb = linear(silu(linear(feats, this.timeLinear1)), this.timeLinear2) as tf.Tensor2D;
      if (this.condLinear) {
        const c = cond ? tf.cast(tf.reshape(cond, [batch, this.config.condDim]), 'float32') : tf.zeros([batch, this.config.condDim]);
        temb = tf.add(temb, linear(c, this.condLinear));
      }
      return temb;
    });
  }

  get trainableVariables(): tf.Variable[] {
    return this.named.map(([, v]) => v);
  }

  /** Torch-like stable names (`blocks.0.attn.qkv.weight`), in construction order. */
  namedWeights(): Record<string, tf.Variable> {
    return Object.fromEntries(this.named);
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.named.reduce((n, [, v]) => n + v.size, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const [, v] of this.named) v.dispose();
  }

  /** A Linear layer with torch's default init, or all zeros (`zeros`: adaLN-Zero's modulation). */
  protected addLinear(name: string, inDim: number, outDim: number, init: 'default' | 'zeros' = 'default'): LinearParams {
    const p = createLinear(inDim, outDim, this.rng);
    if (init === 'zeros') {
      tf.tidy(() => {
        p.weight.assign(tf.zerosLike(p.weight));
        p.bias.assign(tf.zerosLike(p.bias));
      });
    }
    return this.register(name, p);
  }

  protected addNorm(name: string, channels: number): NormParams {
    return this.register(name, createNorm(channels));
  }

  protected addConv(name: string, inCh: number, outCh: number, kernel: number, stride = 1): Conv2dParams {
    return this.register(name, createConv2d(inCh, outCh, kernel, this.rng, { stride }));
  }

  private register<P extends { weight: tf.Variable; bias: tf.Variable }>(name: string, p: P): P {
    this.named.push([`${name}.weight`, p.weight], [`${name}.bias`, p.bias]);
    return p;
  }
}
