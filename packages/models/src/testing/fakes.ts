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

/** erf in float64: Maclaurin series for |x| < 3.5, asymptotic erfc beyond (error < 1e-12). */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  const x2 = ax * ax;
  let s = 1;
  let term = 1;
  for (let n = 1; n < 8; n++) {
    term *= -(2 * n - 1) / (2 * x2);
    s += term;
  }
  const erfc = (Math.exp(-x2) / (ax * Math.sqrt(Math.PI))) * s;
  return Math.sign(x) * (1 - erfc);
}

/** L = sum(y * c) with its own gradient dL/dy = c (no registered gradients needed). */
export function dotLoss(y: tf.Tensor, c: tf.Tensor): tf.Scalar {
  const op = tf.customGrad((yi, save) => {
    (save as tf.GradSaveFunc)([c]);
    return { value: tf.sum(tf.mul(yi as tf.Tensor, c)) as tf.Scalar, gradFunc: (dy: tf.Tensor, [cs]: tf.Tensor[]) => tf.mul(dy, cs) };
  });
  return op(y) as tf.Scalar;
}
