import * as tf from '@tensorflow/tfjs-core';

/**
 * Chunked pairwise squared Euclidean distances between the rows of two point clouds.
 *
 * A block of rows x_i (i in I) against y_j (j in J) is formed on the backend as
 * D_ij = max(0, |x_i|^2 + |y_j|^2 - 2 x_i . y_j) (one fused matMul), so memory is bounded by
 * chunkSize^2 floats whatever n and m are; per-block results are read back and accumulated in
 * float64 in JS.
 */

/**
 * Augmented rows so that one matMul yields squared distances:
 * [x, |x|^2, 1] . [-2y, 1, |y|^2] = |x|^2 + |y|^2 - 2 x.y. The relu of the fused matMul clamps
 * the small negatives that float32 cancellation leaves for (near-)coincident points. One pass
 * over each block instead of five separate elementwise ops.
 */
function augment(x: tf.Tensor2D, y: tf.Tensor2D, sameSet: boolean): { xa: tf.Tensor2D; ya: tf.Tensor2D } {
  return tf.tidy(() => {
    const xn = tf.sum(tf.square(x), 1, true);
    const yn = sameSet ? xn : tf.sum(tf.square(y), 1, true);
    const xa = tf.concat([x, xn, tf.onesLike(xn)], 1) as tf.Tensor2D;
    const ya = tf.concat([tf.mul(y, -2), tf.onesLike(yn), yn], 1) as tf.Tensor2D;
    return { xa, ya };
  });
}

/** Squared distances between rows [xs, xs + xr) of x and [ys, ys + yr) of y, from augmented rows. */
function blockSqDist(xa: tf.Tensor2D, ya: tf.Tensor2D, xs: number, xr: number, ys: number, yr: number): tf.Tensor2D {
  const k = xa.shape[1];
  const a = tf.slice(xa, [xs, 0], [xr, k]);
  const b = tf.slice(ya, [ys, 0], [yr, k]);
  return tf.fused.matMul({ a, b, transposeB: true, activation: 'relu' }) as tf.Tensor2D;
}

/**
 * Read a tensor's values and dispose it. (Never return large typed arrays from tf.tidy: it walks
 * every element of a returned container looking for tensors.)
 */
export function readAndDispose(t: tf.Tensor): Float32Array | Int32Array | Uint8Array {
  try {
    return t.dataSync() as Float32Array | Int32Array | Uint8Array;
  } finally {
    t.dispose();
  }
}

/** Row ranges [start, size) covering n rows in chunks. */
export function chunks(n: number, chunkSize: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += chunkSize) out.push([s, Math.min(chunkSize, n - s)]);
  return out;
}

/**
 * Sum over all pairs (i, j) of f(D_ij), where `f` maps a [r, c] block of squared distances to
 * values on the backend: a [r, c] block (summed here) or its row sums [r]. `symmetric` means x
 * and y are the same set: only blocks with j >= i are formed and off-diagonal blocks count twice. The diagonal pairs (i, i) are included.
 */
export function pairwiseSum(x: tf.Tensor2D, y: tf.Tensor2D, chunkSize: number, f: (d2: tf.Tensor2D) => tf.Tensor, symmetric = false): number {
  const xc = chunks(x.shape[0], chunkSize);
  const yc = chunks(y.shape[0], chunkSize);
  const { xa, ya } = augment(x, y, symmetric);
  let total = 0;
  try {
    for (let a = 0; a < xc.length; a++) {
      const [xs, xr] = xc[a];
      for (let b = symmetric ? a : 0; b < yc.length; b++) {
        const [ys, yr] = yc[b];
        const rowSums = tf.tidy(() => {
          const v = f(blockSqDist(xa, ya, xs, xr, ys, yr));
          return v.rank === 1 ? v : tf.sum(v, 1);
        });
        const rows = readAndDispose(rowSums);
        let s = 0;
        for (let k = 0; k < rows.length; k++) s += rows[k];
        total += symmetric && b > a ? 2 * s : s;
      }
    }
  } finally {
    tf.dispose([xa, ya]);
  }
  return total;
}

/**
 * Nearest neighbours both ways: for every row of x its nearest row of y, and for every row of y
 * its nearest row of x (by the float32 block distances). Indices only: callers recompute the
 * distances of the chosen pairs in float64, so a point that is also in the other set gets exactly 0.
 */
export function nearestNeighbours(x: tf.Tensor2D, y: tf.Tensor2D, chunkSize: number): { xToY: Int32Array; yToX: Int32Array } {
  const n = x.shape[0];
  const m = y.shape[0];
  const xToY = new Int32Array(n);
  const yToX = new Int32Array(m);
  const bestX = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const bestY = new Float64Array(m).fill(Number.POSITIVE_INFINITY);
  const { xa, ya } = augment(x, y, false);
  try {
    for (const [xs, xr] of chunks(n, chunkSize)) {
      for (const [ys, yr] of chunks(m, chunkSize)) {
        const block = tf.tidy(() => {
          const d2 = blockSqDist(xa, ya, xs, xr, ys, yr);
          return [tf.min(d2, 1), tf.argMin(d2, 1), tf.min(d2, 0), tf.argMin(d2, 0)];
        });
        const minR = readAndDispose(block[0]) as Float32Array;
        const argR = readAndDispose(block[1]) as Int32Array;
        const minC = readAndDispose(block[2]) as Float32Array;
        const argC = readAndDispose(block[3]) as Int32Array;
        for (let i = 0; i < xr; i++) {
          if (minR[i] < bestX[xs + i]) {
            bestX[xs + i] = minR[i];
            xToY[xs + i] = ys + argR[i];
          }
        }
        for (let j = 0; j < yr; j++) {
          if (minC[j] < bestY[ys + j]) {
            bestY[ys + j] = minC[j];
            yToX[ys + j] = xs + argC[j];
          }
        }
      }
    }
  } finally {
    tf.dispose([xa, ya]);
  }
  return { xToY, yToX };
}
