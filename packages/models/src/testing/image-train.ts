// Test-only helpers for the image denoisers (not built into dist).
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from '@difflab/core';

/** Fixed batch: images, noise and timesteps drawn from tfjs seeds. */
export function fixedBatch(model: Denoiser, batch: number, seed = 1): { x0: tf.Tensor; noise: tf.Tensor; xt: tf.Tensor; t: tf.Tensor } {
  return tf.tidy(() => {
    const shape = [batch, ...model.sampleShape];
    const x0 = tf.tanh(tf.randomNormal(shape, 0, 1.5, 'float32', seed));
    const noise = tf.randomNormal(shape, 0, 1, 'float32', seed + 1);
    const t = tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 97 + 13) % 1000), 'int32');
    // alpha-bar 0.5 for every sample: x_t = sqrt(.5) x0 + sqrt(.5) noise
    const xt = tf.add(tf.mul(x0, Math.SQRT1_2), tf.mul(noise, Math.SQRT1_2));
    return { x0, noise, xt, t };
  });
}

/** MSE(predict(x_t, t), noise): the epsilon-prediction training loss. */
export function epsLoss(model: Denoiser, b: { xt: tf.Tensor; t: tf.Tensor; noise: tf.Tensor }): tf.Scalar {
  return tf.mean(tf.square(tf.sub(model.predict(b.xt, b.t), b.noise)));
}

/** `steps` Adam steps on the fixed batch; returns the losses. */
export function overfit(model: Denoiser, b: { xt: tf.Tensor; t: tf.Tensor; noise: tf.Tensor }, steps: number, lr = 1e-2): number[] {
  const opt = tf.train.adam(lr);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = opt.minimize(() => epsLoss(model, b), true, model.trainableVariables) as tf.Scalar;
    losses.push(loss.dataSync()[0] as number);
    loss.dispose();
  }
  opt.dispose();
  return losses;
}

/** Gradients of the loss for every named weight, as plain arrays. */
export function namedGrads(model: Denoiser, b: { xt: tf.Tensor; t: tf.Tensor; noise: tf.Tensor }): Record<string, Float32Array> {
  const named = model.namedWeights();
  const out: Record<string, Float32Array> = {};
  tf.tidy(() => {
    const { grads } = tf.variableGrads(() => epsLoss(model, b), model.trainableVariables);
    for (const [n, v] of Object.entries(named)) out[n] = (grads[v.name] as tf.Tensor).dataSync().slice() as Float32Array;
  });
  return out;
}

/** One plain SGD step (no optimiser state), for leak checks. */
export function sgdStep(model: Denoiser, b: { xt: tf.Tensor; t: tf.Tensor; noise: tf.Tensor }, lr = 1e-3): void {
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => epsLoss(model, b), model.trainableVariables);
    for (const v of model.trainableVariables) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, lr)));
    value.dataSync();
  });
}

export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i] as number));
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
  }
  return err / Math.max(scale, 1e-12);
}
