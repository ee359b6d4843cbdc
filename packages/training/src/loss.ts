/**
 * The denoising loss for each prediction type (Ho et al. 2020 eq. 14 "simple" loss; v-prediction
 * from Salimans & Ho 2022 sec. 4), as diffusers' training examples compute it:
 *
 *   x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
 *   target = eps                                          ('epsilon')
 *          = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0      ('v_prediction', schedule.velocity)
 *          = x_0                                          ('sample')
 *   loss = mean((model(x_t, t, cond) - target)^2)         (F.mse_loss, reduction 'mean')
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, NoiseSchedule, PredictionType } from '@difflab/core';

/** The regression target of a model with this prediction type. */
export function predictionTarget(
  predictionType: PredictionType,
  schedule: NoiseSchedule,
  x0: tf.Tensor,
  noise: tf.Tensor,
  t: number[] | tf.Tensor,
): tf.Tensor {
  switch (predictionType) {
    case 'epsilon':
      return noise;
    case 'v_prediction':
      return schedule.velocity(x0, noise, t);
    case 'sample':
      return x0;
    default:
      throw new RangeError(`unknown prediction type '${String(predictionType)}'; allowed: epsilon, v_prediction, sample`);
  }
}

/**
 * mean((pred - target)^2) with a hand-written gradient 2 (pred - target) / N with respect to
 * `pred` only (the target is a constant). Needs no registered tfjs gradient: tfjs-core in Node
 * registers none.
 *
 * With `rowWeights` (one constant per row of the batch, axis 0): mean_i(w_i mean_j(d_ij^2)),
 * diffusers' `(F.mse_loss(pred, target, reduction='none').mean(dims) * weights).mean()`, with
 * the gradient 2 w_i d_ij / N.
 */
export function mseLoss(pred: tf.Tensor, target: tf.Tensor, rowWeights?: ArrayLike<number>): tf.Scalar {
  if (pred.size !== target.size) throw new RangeError(`mseLoss: prediction [${pred.shape}] and target [${target.shape}] differ in size`);
  const n = pred.size;
  const rows = pred.shape[0] ?? 1;
  if (rowWeights && rowWeights.length !== rows) throw new RangeError(`mseLoss: ${rowWeights.length} row weights for a batch of ${rows}`);
  const op = tf.customGrad((p, save) => {
    let diff = tf.sub(p as tf.Tensor, tf.reshape(target, (p as tf.Tensor).shape));
    // row weights as sqrt(w) on the difference: mean((sqrt(w) d)^2) = mean(w d^2), gradient 2 w d / N
    const sqrtW = rowWeights ? tf.tensor(Float32Array.from(rowWeights, Math.sqrt), [rows, ...new Array<number>(Math.max(0, pred.rank - 1)).fill(1)]) : null;
    if (sqrtW) diff = tf.mul(diff, sqrtW);
    (save as tf.GradSaveFunc)(sqrtW ? [diff, sqrtW] : [diff]);
    return {
      value: tf.mean(tf.square(diff)) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [d, w]: tf.Tensor[]) => {
        const g = tf.mul(d, tf.mul(dy, 2 / n));
        return w ? tf.mul(g, w) : g;
      },
    };
  });
  return op(pred) as tf.Scalar;
}

/**
 * Min-SNR-gamma weights (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting
 * Strategy"; diffusers' training examples): SNR_t = abar_t / (1 - abar_t), and per row
 * min(SNR_t, gamma) / SNR_t for epsilon, min(SNR_t, gamma) / (SNR_t + 1) for v_prediction,
 * min(SNR_t, gamma) for sample (x_0) prediction.
 */
export function minSnrWeights(schedule: NoiseSchedule, t: readonly number[], gamma: number, predictionType: PredictionType): Float32Array {
  if (!(gamma > 0)) throw new RangeError(`snrGamma must be positive, got ${gamma}`);
  const abar = schedule.alphasCumprod;
  return Float32Array.from(t, (ti) => {
    const a = abar[ti] as number;
    const snr = a / (1 - a);
    const m = Math.min(snr, gamma);
    if (predictionType === 'epsilon') return m / snr;
    if (predictionType === 'v_prediction') return m / (snr + 1);
    return m;
  });
}

/**
 * The diffusion training loss of `model` on clean samples `x0` at timesteps `t` (one per row)
 * with Gaussian `noise` (same shape as x0). Returns a scalar; disposes its intermediates.
 * Pass `t` as a number[] to avoid a device read-back in `schedule.addNoise`.
 */
export function diffusionLoss(
  model: Denoiser,
  schedule: NoiseSchedule,
  x0: tf.Tensor,
  t: number[] | tf.Tensor1D,
  noise: tf.Tensor,
  cond?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const xt = schedule.addNoise(x0, noise, t);
    const tTensor = Array.isArray(t) ? tf.tensor1d(t, 'float32') : t;
    const pred = model.predict(xt, tTensor, cond);
    const target = predictionTarget(model.predictionType, schedule, x0, noise, t);
    return mseLoss(pred, target);
  });
}
