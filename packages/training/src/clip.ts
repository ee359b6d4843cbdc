/**
 * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2):
 *   total = ||concat(g)||_2;  coef = min(maxNorm / (total + 1e-6), 1);  g <- g coef
 * (torch multiplies by the clamped coefficient always, so gradients under the limit are
 * unchanged). Computed on the device, without reading the norm back.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Clip one flat gradient vector; returns the clipped vector and the norm before clipping. */
export function clipFlatByGlobalNorm(flat: tf.Tensor1D, maxNorm: number): { grad: tf.Tensor1D; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new RangeError(`maxNorm must be > 0, got ${maxNorm}`);
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(flat))) as tf.Scalar;
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { grad: tf.mul(flat, coef) as tf.Tensor1D, norm };
  });
}

/** Clip a list of gradients by their global norm (torch clip_grad_norm_). */
export function clipGradNorm(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new RangeError(`maxNorm must be > 0, got ${maxNorm}`);
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { grads: grads.map((g) => tf.mul(g, coef)), norm };
  });
}
