import type * as tf from '@tensorflow/tfjs-core';

/**
 * Read a tensor back and dispose it. Never return typed arrays from `tf.tidy`: tidy walks every
 * element of its result looking for tensors, which is very slow for large arrays.
 */
export function readAndDispose(t: tf.Tensor): Float32Array {
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}
