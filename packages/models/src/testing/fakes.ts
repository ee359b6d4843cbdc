// Test-only fakes of the core embedding contracts (not built into dist). The real plugins live
// in @difflab/embeddings, which this package must not depend on.
import * as tf from '@tensorflow/tfjs-core';
import type { InputEmbedding, TimestepEmbedding } from '@difflab/core';

/** Transformer sinusoidal features of t: [sin(t f_i), cos(t f_i)], f_i = 10000^(-i/(half-1)). */
export class FakeSinusoidalTime implements TimestepEmbedding {
  readonly id = 'fake-sinusoidal';
  readonly trainableVariables: tf.Variable[] = [];
  constructor(readonly dim = 16) {}
  freqs(): number[] {
    const half = this.dim / 2;
    return Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / (half - 1)));
  }
  embed(t: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const e = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(this.freqs(), [1, this.dim / 2]));
      return tf.concat([tf.sin(e), tf.cos(e)], 1) as tf.Tensor2D;
    });
  }
  dispose(): void {}
}

/** A learnable linear input embedding x W (W [inDim, outDim]), to check gradients reach embeddings. */
export class FakeLinearInput implements InputEmbedding {
  readonly id = 'fake-linear';
  readonly w: tf.Variable;
  constructor(
    readonly inDim = 2,
    readonly outDim = 8,
    seed = 1,
  ) {
    const t = tf.randomUniform([inDim, outDim], -1, 1, 'float32', seed);
    this.w = tf.variable(t, true);
    t.dispose();
  }
  get trainableVariables(): tf.Variable[] {
    return [this.w];
  }
  embed(x: tf.Tensor2D): tf.Tensor2D {
    // Its own gradient: tfjs-core in Node registers none (see residual-mlp.ts).
    const op = tf.customGrad((w, save) => {
      (save as tf.GradSaveFunc)([x]);
      return { value: tf.matMul(x, w as tf.Tensor2D), gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) => tf.matMul(tf.transpose(xs), dy as tf.Tensor2D) };
    });
    return op(this.w) as tf.Tensor2D;
  }
  dispose(): void {
    this.w.dispose();
  }
}

export { erf64 } from '@difflab/core';

/** L = sum(y * c) with its own gradient dL/dy = c (no registered gradients needed). */
export function dotLoss(y: tf.Tensor, c: tf.Tensor): tf.Scalar {
  const op = tf.customGrad((yi, save) => {
    (save as tf.GradSaveFunc)([c]);
    return { value: tf.sum(tf.mul(yi as tf.Tensor, c)) as tf.Scalar, gradFunc: (dy: tf.Tensor, [cs]: tf.Tensor[]) => tf.mul(dy, cs) };
  });
  return op(y) as tf.Scalar;
}
