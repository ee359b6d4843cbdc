/**
 * Many variables viewed as one flat float32 vector, so optimiser, clipping and EMA arithmetic
 * run as a handful of large ops instead of a few ops per variable (per-op overhead dominates
 * small tensors on the wasm backend).
 */
import * as tf from '@tensorflow/tfjs-core';

/** All values of `tensors` concatenated in order into one [N] tensor. */
export function flatten(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  // (no Reshape kernel for what is already a vector: each costs tfjs' engine its bookkeeping)
  const flat = (t: tf.Tensor) => (t.rank === 1 ? t : tf.reshape(t, [-1]));
  return tf.tidy(() => (tensors.length === 1 ? tf.reshape(tensors[0], [-1]) : tf.concat(tensors.map(flat))) as tf.Tensor1D);
}

/** Assign consecutive slices of `flat` to `variables` (in order). */
export function assignFlat(variables: readonly tf.Variable[], flat: tf.Tensor): void {
  const sizes = variables.map((v) => v.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (flat.size !== total) throw new RangeError(`assignFlat: got ${flat.size} values for variables holding ${total}`);
  tf.tidy(() => {
    const parts = variables.length === 1 ? [flat] : tf.split(tf.reshape(flat, [-1]), sizes);
    variables.forEach((v, i) => {
      v.assign(v.rank === 1 && parts[i].rank === 1 ? parts[i] : tf.reshape(parts[i], v.shape));
    });
  });
}

/** A non-trainable flat variable of `n` zeros (optimiser / EMA state). */
export function zerosVariable(n: number): tf.Variable {
  const z = tf.zeros([n]);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

/** A non-trainable variable holding a copy of `t` flattened. */
export function flatVariableFrom(t: tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(tf.reshape(t, [-1]), false));
}

export function totalSize(variables: readonly tf.Variable[]): number {
  return variables.reduce((n, v) => n + v.size, 0);
}
