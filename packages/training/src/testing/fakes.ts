// Test-only fakes of the core contracts (not built into dist). The real schedules, datasets
// and models live in other packages, which this package must not depend on.
import * as tf from '@tensorflow/tfjs-core';
import type { DataBatch, Dataset, Denoiser, NoiseSchedule, PredictionType, Rng } from '@difflab/core';

function rowCoefs(table: Float64Array, t: number | number[] | tf.Tensor, batch: number, rank: number, f: (a: number) => number): tf.Tensor {
  const idx = typeof t === 'number' ? new Array(batch).fill(t) : Array.isArray(t) ? t : Array.from(t.dataSync());
  return tf.tensor(
    idx.map((k) => f(table[k])),
    [batch, ...new Array(rank - 1).fill(1)],
  );
}

/** Linear betas (float64), alpha-bar = cumprod(1 - beta), addNoise and velocity. */
export class FakeLinearSchedule {
  readonly id = 'fake-linear';
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  constructor(
    readonly numTrainTimesteps = 50,
    betaStart = 1e-4,
    betaEnd = 0.02,
  ) {
    const T = numTrainTimesteps;
    this.betas = Float64Array.from({ length: T }, (_, i) => betaStart + ((betaEnd - betaStart) * i) / (T - 1));
    this.alphas = this.betas.map((b) => 1 - b);
    this.alphasCumprod = new Float64Array(T);
    let p = 1;
    for (let i = 0; i < T; i++) this.alphasCumprod[i] = p *= this.alphas[i];
  }
  addNoise(x0: tf.Tensor, noise: tf.Tensor, t: number | number[] | tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [B, r] = [x0.shape[0], x0.rank];
      return tf.add(tf.mul(rowCoefs(this.alphasCumprod, t, B, r, Math.sqrt), x0), tf.mul(rowCoefs(this.alphasCumprod, t, B, r, (a) => Math.sqrt(1 - a)), noise));
    });
  }
  velocity(x0: tf.Tensor, noise: tf.Tensor, t: number | number[] | tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [B, r] = [x0.shape[0], x0.rank];
      return tf.sub(tf.mul(rowCoefs(this.alphasCumprod, t, B, r, Math.sqrt), noise), tf.mul(rowCoefs(this.alphasCumprod, t, B, r, (a) => Math.sqrt(1 - a)), x0));
    });
  }
  asSchedule(): NoiseSchedule {
    return this as unknown as NoiseSchedule;
  }
}

/** 2-D Gaussian points N(mean, std^2 I), drawn with the rng's tfSeed. */
export class FakeGaussianDataset implements Dataset {
  readonly id = 'fake-gaussian';
  readonly sampleShape = [2];
  readonly size = Number.POSITIVE_INFINITY;
  constructor(
    readonly mean: [number, number] = [1, -0.5],
    readonly std = 0.3,
  ) {}
  sample(n: number, rng: Rng): DataBatch {
    return { x: tf.tidy(() => tf.add(tf.mul(tf.randomNormal([n, 2], 0, 1, 'float32', rng.tfSeed()), this.std), tf.tensor2d([this.mean]))) };
  }
}

/**
 * A small denoiser: features [x, sin(t f), cos(t f)] -> relu hidden layer -> linear, with its
 * own gradient (tfjs-core in Node registers no gradient functions).
 */
export class FakeMlpDenoiser implements Denoiser {
  readonly sampleShape = [2];
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b2: tf.Variable;
  private readonly freqs = [1, 0.3, 0.1, 0.03];
  constructor(
    readonly predictionType: PredictionType = 'epsilon',
    hidden = 32,
    seed = 1,
  ) {
    const fin = 2 + 2 * this.freqs.length;
    const mk = (t: tf.Tensor) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    };
    this.w1 = mk(tf.randomUniform([fin, hidden], -1 / Math.sqrt(fin), 1 / Math.sqrt(fin), 'float32', seed));
    this.b1 = mk(tf.zeros([hidden]));
    this.w2 = mk(tf.randomUniform([hidden, 2], -1 / Math.sqrt(hidden), 1 / Math.sqrt(hidden), 'float32', seed + 1));
    this.b2 = mk(tf.zeros([2]));
  }
  get trainableVariables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }
  namedWeights(): Record<string, tf.Variable> {
    return { w1: this.w1, b1: this.b1, w2: this.w2, b2: this.b2 };
  }
  predict(xt: tf.Tensor, t: tf.Tensor): tf.Tensor {
    const feats = tf.tidy(() => {
      const e = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d([this.freqs]));
      return tf.concat([xt as tf.Tensor2D, tf.sin(e), tf.cos(e)], 1) as tf.Tensor2D;
    });
    const op = tf.customGrad((w1, b1, w2, b2, save) => {
      const h = tf.relu(tf.add(tf.matMul(feats, w1 as tf.Tensor2D), b1 as tf.Tensor));
      (save as tf.GradSaveFunc)([feats, h, w2 as tf.Tensor]);
      return {
        value: tf.add(tf.matMul(h as tf.Tensor2D, w2 as tf.Tensor2D), b2 as tf.Tensor) as tf.Tensor2D,
        gradFunc: (dy: tf.Tensor, [f, hs, w2s]: tf.Tensor[]) => {
          const dh = tf.mul(tf.matMul(dy as tf.Tensor2D, tf.transpose(w2s as tf.Tensor2D)), tf.step(hs));
          return [tf.matMul(tf.transpose(f as tf.Tensor2D), dh), tf.sum(dh, 0), tf.matMul(tf.transpose(hs as tf.Tensor2D), dy as tf.Tensor2D), tf.sum(dy, 0)];
        },
      };
    });
    const out = op(this.w1, this.b1, this.w2, this.b2);
    feats.dispose();
    return out;
  }
  dispose(): void {
    tf.dispose(this.trainableVariables);
  }
}
