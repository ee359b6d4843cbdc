import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@difflab/core';

/** diffusers' `dynamic_thresholding_ratio` / `sample_max_value` pair. */
export interface DynamicThresholdingOptions {
  /** Quantile of |x_0| per sample, in [0, 1] (diffusers `dynamic_thresholding_ratio`, default 0.995). */
  ratio: number;
  /** Upper bound of the threshold s (diffusers `sample_max_value`, default 1.0); > 0. */
  maxValue: number;
}

/** diffusers' defaults: ratio 0.995, sample_max_value 1.0. */
export const DYNAMIC_THRESHOLDING_DEFAULTS: Readonly<DynamicThresholdingOptions> = { ratio: 0.995, maxValue: 1 };

/** Check `ratio` and `maxValue`; errors name `path.ratio` / `path.maxValue` (or the given key names). */
export function checkDynamicThresholding(
  o: DynamicThresholdingOptions,
  path = '',
  keys: { ratio: string; maxValue: string } = { ratio: 'dynamicThresholdingRatio', maxValue: 'sampleMaxValue' },
): void {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  if (typeof o.ratio !== 'number' || !(o.ratio >= 0 && o.ratio <= 1)) throw new ConfigError(p(keys.ratio), `must be a number in [0, 1], got ${JSON.stringify(o.ratio)}`);
  if (typeof o.maxValue !== 'number' || !(o.maxValue > 0) || !Number.isFinite(o.maxValue)) {
    throw new ConfigError(p(keys.maxValue), `must be a finite number > 0, got ${JSON.stringify(o.maxValue)}`);
  }
}

/**
 * Dynamic thresholding of Saharia et al. 2022 ("Photorealistic Text-to-Image Diffusion Models with Deep
 * Language Understanding", Imagen, sec. 2.3), as diffusers' `_threshold_sample`: for each sample of the
 * batch, s = clamp(quantile(|x_0|, ratio), 1, maxValue) over all its non-batch entries, then
 * x_0 <- clamp(x_0, -s, s) / s. With s clamped to 1 this is plain clipping to [-1, 1].
 *
 * The quantile is torch.quantile's 'linear' interpolation: with the n sorted |x| values v and
 * rank = fround(ratio) (n - 1) in float32, s = lerp(v[floor(rank)], v[ceil(rank)], rank - floor(rank)).
 * torch's lerp is `a + w (b - a)` for w < 0.5, else `b - (b - a)(1 - w)`, each with a fused multiply-add on
 * CPUs with FMA (torch 1.13 measured); here both are two rounded float32 operations, so s can differ from
 * torch's by one float32 ulp. (torch.clamp(s, min=1, max=maxValue) with maxValue < 1 gives maxValue, as here.)
 *
 * `x0` has a batch dimension first and at least one more (diffusers needs [B, C, ...]; any rank >= 2 works
 * here). Returns a new tensor; `x0` is not disposed. Works on any backend (no data read back).
 */
export function dynamicThreshold(x0: tf.Tensor, o: DynamicThresholdingOptions): tf.Tensor {
  checkDynamicThresholding(o);
  if (x0.rank < 2) throw new RangeError(`dynamicThreshold: x0 needs a batch dimension and at least one more, got shape [${x0.shape}]`);
  const B = x0.shape[0];
  const n = x0.size / B;
  const f = Math.fround;
  const rank = f(f(o.ratio) * (n - 1));
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const w = f(rank - below);
  return tf.tidy(() => {
    const flat = tf.reshape(x0, [B, n]);
    // topk sorts descending: ascending index i is descending index n - 1 - i
    const { values: sorted, indices } = tf.topk(tf.abs(flat), n, true);
    indices.dispose();
    const lo = tf.slice(sorted, [0, n - 1 - below], [B, 1]);
    const hi = tf.slice(sorted, [0, n - 1 - above], [B, 1]);
    const diff = tf.sub(hi, lo);
    const quantile = w < 0.5 ? tf.add(lo, tf.mul(diff, w)) : tf.sub(hi, tf.mul(diff, f(1 - w)));
    // torch.clamp(s, min=1, max) is min(max(s, 1), max), also when max < 1
    const s = tf.minimum(tf.maximum(quantile, 1), o.maxValue);
    const clipped = tf.minimum(tf.maximum(flat, tf.neg(s)), s);
    return tf.reshape(tf.div(clipped, s), x0.shape);
  });
}
