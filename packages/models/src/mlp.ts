/**
 * MLP denoiser for points, after tiny-diffusion's `MLP` (tanelp/tiny-diffusion, ddpm.py):
 *
 *   h = concat(inputEmbedding(x), timestepEmbedding(t) [, cond])
 *   h = act(h W_in + b_in)
 *   h = h + act(h W_k + b_k)          k = 0 .. blocks-1   (tiny-diffusion's `Block`)
 *   out = h W_out + b_out             [B, dim]
 *
 * tiny-diffusion embeds each coordinate with sinusoidal features (scale 25) and t with
 * sinusoidal features; here those are the job's InputEmbedding and TimestepEmbedding plugins
 * (an absent InputEmbedding means the raw coordinates are used). Defaults match its model:
 * hidden 128, 3 blocks, exact (erf) GELU as torch's `nn.GELU()`, torch `nn.Linear` init.
 *
 * Weights are stored [in, out] (torch's transpose) so the forward pass is a plain fused matmul;
 * the whole stack is one op with a hand-written gradient (see `residual-mlp.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  ConfigError,
  type Denoiser,
  type DependencyContainer,
  definePlugin,
  formatZodIssue,
  type InputEmbedding,
  type PredictionType,
  Rng,
  resolveOptional,
  resolveRequired,
  TOKENS,
  type TimestepEmbedding,
} from '@difflab/core';
import { ACTIVATIONS, type ActivationName } from './activations.js';
import { residualMlp } from './residual-mlp.js';
import { initLinear } from './init.js';

export const mlpOptionsSchema = z
  .object({
    /** Width of the hidden layers. */
    hidden: z.number().int().positive().max(8192).default(128),
    /** Number of residual blocks x + act(Linear(x)). */
    blocks: z.number().int().min(0).max(64).default(3),
    /** What the network is trained to predict. */
    predictionType: z.enum(['epsilon', 'v_prediction', 'sample']).default('epsilon'),
    /** 'gelu' is the exact erf GELU (torch nn.GELU default); 'gelu_tanh' its tanh approximation. */
    activation: z.enum(ACTIVATIONS).default('gelu'),
    /** Seed of the weight initialisation. */
    seed: z.number().int().min(0).default(0),
    /** Dimension of a point (sampleShape = [dim]). */
    dim: z.number().int().positive().max(64).default(2),
    /** Width of an optional condition vector concatenated to the features (0: unconditional). */
    condDim: z.number().int().min(0).default(0),
  })
  .strict();

export type MlpOptions = z.output<typeof mlpOptionsSchema>;

export interface MlpEmbeddings {
  timestepEmbedding: TimestepEmbedding;
  /** Features of the points; when absent the raw coordinates are used. */
  inputEmbedding?: InputEmbedding;
}

interface Linear {
  weight: tf.Variable;
  bias: tf.Variable;
}

export class MLPDenoiser implements Denoiser {
  readonly config: MlpOptions;
  readonly predictionType: PredictionType;
  readonly sampleShape: readonly number[];
  readonly timestepEmbedding: TimestepEmbedding;
  readonly inputEmbedding: InputEmbedding | undefined;
  private readonly layerIn: Linear;
  private readonly blockLayers: Linear[];
  private readonly layerOut: Linear;
  private readonly embeddingsTrainable: boolean;
  private disposed = false;

  /** `options` are validated (defaults filled in); errors name `model.options.<field>`. */
  constructor(options: Partial<MlpOptions>, embeddings: MlpEmbeddings) {
    const parsed = mlpOptionsSchema.safeParse(options ?? {});
    if (!parsed.success) throw formatZodIssue('model.options', parsed.error);
    const cfg = parsed.data;
    if (!embeddings?.timestepEmbedding) throw new ConfigError('model', 'the mlp model needs a timestep embedding');
    const { timestepEmbedding, inputEmbedding } = embeddings;
    if (inputEmbedding && inputEmbedding.inDim !== cfg.dim) {
      throw new ConfigError(
        'model.options.dim',
        `input embedding '${inputEmbedding.id}' takes ${inputEmbedding.inDim}-d points but the mlp model has dim ${cfg.dim}`,
      );
    }
    this.config = cfg;
    this.predictionType = cfg.predictionType;
    this.sampleShape = [cfg.dim];
    this.timestepEmbedding = timestepEmbedding;
    this.inputEmbedding = inputEmbedding;
    const featDim = (inputEmbedding ? inputEmbedding.outDim : cfg.dim) + timestepEmbedding.dim + cfg.condDim;
    const rng = new Rng(cfg.seed);
    this.layerIn = initLinear(featDim, cfg.hidden, rng);
    this.blockLayers = [];
    for (let i = 0; i < cfg.blocks; i++) this.blockLayers.push(initLinear(cfg.hidden, cfg.hidden, rng));
    this.layerOut = initLinear(cfg.hidden, cfg.dim, rng);
    this.embeddingsTrainable = timestepEmbedding.trainableVariables.length + (inputEmbedding?.trainableVariables.length ?? 0) > 0;
  }

  /** Width of the concatenated features that enter the first layer. */
  get featureDim(): number {
    return this.layerIn.weight.shape[0];
  }

  /** xt [B, dim], t [B] (any numeric dtype), cond [B, condDim] -> prediction [B, dim]. */
  predict(xt: tf.Tensor, t: tf.Tensor, cond?: tf.Tensor): tf.Tensor {
    if (this.disposed) throw new Error('MLPDenoiser.predict called after dispose()');
    const { dim, condDim } = this.config;
    if (xt.rank !== 2 || xt.shape[1] !== dim) throw new RangeError(`mlp model expects x_t of shape [B, ${dim}], got [${xt.shape}]`);
    const batch = xt.shape[0];
    if (t.size !== batch) throw new RangeError(`mlp model got ${t.size} timesteps for a batch of ${batch}`);
    if (cond && condDim === 0) {
      throw new ConfigError('model.options.condDim', 'the mlp model got a condition but condDim is 0; set condDim to the condition width');
    }
    return tf.tidy(() => {
      const t1 = tf.reshape(t.dtype === 'float32' ? t : tf.cast(t, 'float32'), [batch]) as tf.Tensor1D;
      const feats: tf.Tensor2D[] = [this.inputEmbedding ? this.inputEmbedding.embed(xt as tf.Tensor2D) : (xt as tf.Tensor2D)];
      feats.push(this.timestepEmbedding.embed(t1));
      if (condDim > 0) {
        if (cond && cond.size !== batch * condDim) {
          throw new RangeError(`mlp model expects a condition of shape [B, ${condDim}], got [${cond.shape}]`);
        }
        // No condition: the zero vector (the null condition of classifier-free guidance).
        feats.push(cond ? (tf.cast(tf.reshape(cond, [batch, condDim]), 'float32') as tf.Tensor2D) : tf.zeros([batch, condDim]));
      }
      const layers = this.ownLayers().map((l) => ({ weight: l.weight as tf.Tensor2D, bias: l.bias as tf.Tensor1D }));
      return residualMlp(feats, layers, this.config.activation as ActivationName, this.embeddingsTrainable);
    });
  }

  /**
   * `predict` at one timestep shared by the batch (a sampling step): t is embedded once and its
   * share of the first layer, temb(t) W_in[t rows], is folded into that layer's bias, so the
   * batch skips the timestep features (a third of the first layer's input at the defaults).
   * Equal to `predict(xt, fill([B], t), cond)` up to float32 summation order.
   */
  predictAt(xt: tf.Tensor, t: number, cond?: tf.Tensor): tf.Tensor {
    if (this.disposed) throw new Error('MLPDenoiser.predictAt called after dispose()');
    if (!Number.isFinite(t)) throw new RangeError(`mlp model got timestep ${t}; expected a finite number`);
    const { dim, condDim } = this.config;
    if (xt.rank !== 2 || xt.shape[1] !== dim) throw new RangeError(`mlp model expects x_t of shape [B, ${dim}], got [${xt.shape}]`);
    if (cond && condDim === 0) {
      throw new ConfigError('model.options.condDim', 'the mlp model got a condition but condDim is 0; set condDim to the condition width');
    }
    const batch = xt.shape[0];
    return tf.tidy(() => {
      const xDim = this.inputEmbedding ? this.inputEmbedding.outDim : dim;
      const tDim = this.timestepEmbedding.dim;
      const w = this.layerIn.weight as tf.Tensor2D;
      const hidden = w.shape[1];
      const temb = this.timestepEmbedding.embed(tf.tensor1d([t], 'float32'));
      // Reshape before the add: tfjs-backend-wasm's _FusedMatMul checks the rank of the bias's
      // data as first allocated, so a bias reshaped from [1, hidden] is refused.
      const bias = tf.add(this.layerIn.bias, tf.reshape(tf.matMul(temb, tf.slice(w, [xDim, 0], [tDim, hidden])), [hidden])) as tf.Tensor1D;
      const feats: tf.Tensor2D[] = [this.inputEmbedding ? this.inputEmbedding.embed(xt as tf.Tensor2D) : (xt as tf.Tensor2D)];
      const wRows: tf.Tensor2D[] = [tf.slice(w, [0, 0], [xDim, hidden])];
      if (condDim > 0) {
        if (cond && cond.size !== batch * condDim) {
          throw new RangeError(`mlp model expects a condition of shape [B, ${condDim}], got [${cond.shape}]`);
        }
        feats.push(cond ? (tf.cast(tf.reshape(cond, [batch, condDim]), 'float32') as tf.Tensor2D) : tf.zeros([batch, condDim]));
        wRows.push(tf.slice(w, [xDim + tDim, 0], [condDim, hidden]));
      }
      const weight = wRows.length === 1 ? wRows[0] : (tf.concat(wRows, 0) as tf.Tensor2D);
      const rest = [...this.blockLayers, this.layerOut].map((l) => ({ weight: l.weight as tf.Tensor2D, bias: l.bias as tf.Tensor1D }));
      return residualMlp(feats, [{ weight, bias }, ...rest], this.config.activation as ActivationName, false);
    });
  }

  get trainableVariables(): tf.Variable[] {
    return [...this.ownLayers().flatMap((l) => [l.weight, l.bias]), ...this.embeddingVariables().map(([, v]) => v)];
  }

  /**
   * Stable names: `in.weight`, `in.bias`, `blocks.<k>.weight`, `blocks.<k>.bias`, `out.weight`,
   * `out.bias` (weights [in, out]), then `timestepEmbedding.<i>` / `inputEmbedding.<i>` for
   * trainable embedding variables.
   */
  namedWeights(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    out['in.weight'] = this.layerIn.weight;
    out['in.bias'] = this.layerIn.bias;
    this.blockLayers.forEach((l, k) => {
      out[`blocks.${k}.weight`] = l.weight;
      out[`blocks.${k}.bias`] = l.bias;
    });
    out['out.weight'] = this.layerOut.weight;
    out['out.bias'] = this.layerOut.bias;
    for (const [name, v] of this.embeddingVariables()) out[name] = v;
    return out;
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.trainableVariables.reduce((n, v) => n + v.size, 0);
  }

  /** Disposes the model's own layers; the embeddings belong to whoever created them. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.ownLayers()) {
      l.weight.dispose();
      l.bias.dispose();
    }
  }

  private ownLayers(): Linear[] {
    return [this.layerIn, ...this.blockLayers, this.layerOut];
  }

  private embeddingVariables(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    this.timestepEmbedding.trainableVariables.forEach((v, i) => {
      out.push([`timestepEmbedding.${i}`, v]);
    });
    this.inputEmbedding?.trainableVariables.forEach((v, i) => {
      out.push([`inputEmbedding.${i}`, v]);
    });
    return out;
  }
}

/** Plugin 'mlp' (kind 'model'): needs TOKENS.TimestepEmbedding; uses TOKENS.InputEmbedding when registered. */
export const mlpPlugin = definePlugin({
  kind: 'model',
  id: 'mlp',
  summary: 'MLP denoiser for points (tiny-diffusion): embeddings -> Linear+GELU -> residual GELU blocks -> Linear',
  options: mlpOptionsSchema,
  create(options: MlpOptions, container: DependencyContainer): MLPDenoiser {
    const timestepEmbedding = resolveRequired(container, TOKENS.TimestepEmbedding, 'timestep embedding (TOKENS.TimestepEmbedding)');
    const inputEmbedding = resolveOptional(container, TOKENS.InputEmbedding);
    return new MLPDenoiser(options, { timestepEmbedding, inputEmbedding });
  },
});
