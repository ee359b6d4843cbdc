/**
 * Parameter initialisation as torch's `nn.Linear.reset_parameters()`:
 * weight ~ kaiming_uniform_(a = sqrt(5)), which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
 * bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Drawn from a seeded `Rng` so a model is reproducible.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@difflab/core';

/** The bound 1/sqrt(fan_in) of torch's default nn.Linear initialisation. */
export function linearInitBound(fanIn: number): number {
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}

/** A weight [fanIn, fanOut] (stored input-major) and a bias [fanOut], torch nn.Linear default init. */
export function initLinear(fanIn: number, fanOut: number, rng: Rng): { weight: tf.Variable; bias: tf.Variable } {
  const bound = linearInitBound(fanIn);
  const w = rng.uniformArray(fanIn * fanOut, -bound, bound);
  const b = rng.uniformArray(fanOut, -bound, bound);
  return { weight: variableFrom(tf.tensor2d(w, [fanIn, fanOut])), bias: variableFrom(tf.tensor1d(b)) };
}

/** A trainable variable holding `t`'s values; `t` is disposed (the variable keeps the data). */
export function variableFrom(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}
