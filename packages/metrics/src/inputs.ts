import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Rng } from '@difflab/core';

/**
 * Input checks and preparation shared by the point-cloud metrics: both sets must be rank-2
 * `[n, d]` tensors with the same `d` and enough rows.
 */
export function checkPointClouds(id: string, generated: tf.Tensor, reference: tf.Tensor, minRows = 1): void {
  for (const [name, t] of [
    ['generated', generated],
    ['reference', reference],
  ] as const) {
    if (t.rank !== 2) throw new ConfigError(`metric.${id}`, `${name} must be a point cloud [n, d], got shape [${t.shape.join(', ')}]`);
    if (t.shape[0] < minRows) throw new ConfigError(`metric.${id}`, `${name} needs at least ${minRows} row(s), got ${t.shape[0]}`);
  }
  if (generated.shape[1] !== reference.shape[1]) {
    throw new ConfigError(`metric.${id}`, `generated has d = ${generated.shape[1]} columns, reference has d = ${reference.shape[1]}; both must be [n, d] with the same d`);
  }
}

/**
 * Indices of `k` distinct rows out of `n`, drawn uniformly without replacement from `rng`
 * (partial Fisher-Yates), in ascending order. Returns null when `k` is 0 or `k >= n` (keep all).
 */
export function subsampleIndices(n: number, k: number, rng: Rng): Int32Array | null {
  if (!(k > 0) || k >= n) return null;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
  }
  return idx.slice(0, k).sort();
}

/**
 * At most `maxPoints` rows of `x` (all rows when `maxPoints` is 0 or `n <= maxPoints`), as a new
 * float32 tensor the caller owns. The subsample is drawn without replacement from `rng`.
 */
export function subsampleRows(x: tf.Tensor2D, maxPoints: number, rng: Rng): tf.Tensor2D {
  const idx = subsampleIndices(x.shape[0], maxPoints, rng);
  return tf.tidy(() => {
    const f = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    return idx ? tf.gather(f, tf.tensor1d(idx, 'int32')) : tf.clone(f);
  });
}

/**
 * Subsample both sets (generated first, then reference, from the same stream) and subtract the
 * reference mean from both. Every metric here is translation invariant; centring keeps the
 * float32 expansion |x|^2 + |y|^2 - 2 x.y of squared distances accurate for offset data.
 * Returns new tensors the caller must dispose.
 */
export function preparePair(generated: tf.Tensor2D, reference: tf.Tensor2D, maxPoints: number, rng: Rng): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const xs = subsampleRows(generated, maxPoints, rng);
  const ys = subsampleRows(reference, maxPoints, rng);
  const out = tf.tidy(() => {
    const mu = tf.mean(ys, 0, true);
    return { x: tf.sub(xs, mu) as tf.Tensor2D, y: tf.sub(ys, mu) as tf.Tensor2D };
  });
  xs.dispose();
  ys.dispose();
  return out;
}
