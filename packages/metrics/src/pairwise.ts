import * as tf from '@tensorflow/tfjs-core';

/**
 * Chunked pairwise squared Euclidean distances between the rows of two point clouds.
 *
 * A block of rows x_i (i in I) against y_j (j in J) is formed on the backend as
 * D_ij = max(0, |x_i|^2 + |y_j|^2 - 2 x_i . y_j), so memory is bounded by chunkSize^2 floats
 * whatever n and m are; per-block results are read back and accumulated in float64 in JS.
 */
function rowNorms(t: tf.Tensor2D): tf.Tensor2D {
  return tf.sum(tf.square(t), 1, true) as tf.Tensor2D;
}

/** Squared distances of a block: xb [r, d], xn [r, 1], yb [c, d], yn [1, c] -> [r, c]. */
function blockSqDist(xb: tf.Tensor2D, xn: tf.Tensor2D, yb: tf.Tensor2D, yn: tf.Tensor2D): tf.Tensor2D {
  return tf.relu(tf.sub(tf.add(xn, yn), tf.mul(tf.matMul(xb, yb, false, true), 2))) as tf.Tensor2D;
}

/** Row ranges [start, size) covering n rows in chunks. */
export function chunks(n: number, chunkSize: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += chunkSize) out.push([s, Math.min(chunkSize, n - s)]);
  return out;
}

/**
 * Sum over all pairs (i, j) of f(D_ij), where `f` maps a block of squared distances to a block of
 * the same shape on the backend. `symmetric` means x and y are the same set: only blocks with
 * j >= i are formed and off-diagonal blocks count twice. The diagonal pairs (i, i) are included.
 */
export function pairwiseSum(x: tf.Tensor2D, y: tf.Tensor2D, chunkSize: number, f: (d2: tf.Tensor2D) => tf.Tensor, symmetric = false): number {
  const xc = chunks(x.shape[0], chunkSize);
  const yc = chunks(y.shape[0], chunkSize);
  const d = x.shape[1];
  const xnAll = rowNorms(x);
  const ynAll = symmetric ? xnAll : rowNorms(y);
  let total = 0;
  try {
    for (let a = 0; a < xc.length; a++) {
      const [xs, xr] = xc[a];
      for (let b = symmetric ? a : 0; b < yc.length; b++) {
        const [ys, yr] = yc[b];
        const rows = tf.tidy(() => {
          const xb = tf.slice(x, [xs, 0], [xr, d]);
          const yb = tf.slice(y, [ys, 0], [yr, d]);
          const xn = tf.slice(xnAll, [xs, 0], [xr, 1]);
          const yn = tf.reshape(tf.slice(ynAll, [ys, 0], [yr, 1]), [1, yr]) as tf.Tensor2D;
          return tf.sum(f(blockSqDist(xb, xn, yb, yn)), 1).dataSync() as Float32Array;
        });
        let s = 0;
        for (let k = 0; k < rows.length; k++) s += rows[k];
        total += symmetric && b > a ? 2 * s : s;
      }
    }
  } finally {
    xnAll.dispose();
    if (!symmetric) ynAll.dispose();
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
  const d = x.shape[1];
  const xToY = new Int32Array(n);
  const yToX = new Int32Array(m);
  const bestX = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const bestY = new Float64Array(m).fill(Number.POSITIVE_INFINITY);
  const xnAll = rowNorms(x);
  const ynAll = rowNorms(y);
  try {
    for (const [xs, xr] of chunks(n, chunkSize)) {
      for (const [ys, yr] of chunks(m, chunkSize)) {
        const [minR, argR, minC, argC] = tf.tidy(() => {
          const xb = tf.slice(x, [xs, 0], [xr, d]);
          const yb = tf.slice(y, [ys, 0], [yr, d]);
          const xn = tf.slice(xnAll, [xs, 0], [xr, 1]);
          const yn = tf.reshape(tf.slice(ynAll, [ys, 0], [yr, 1]), [1, yr]) as tf.Tensor2D;
          const d2 = blockSqDist(xb, xn, yb, yn);
          return [
            tf.min(d2, 1).dataSync() as Float32Array,
            tf.argMin(d2, 1).dataSync() as Int32Array,
            tf.min(d2, 0).dataSync() as Float32Array,
            tf.argMin(d2, 0).dataSync() as Int32Array,
          ];
        }) as [Float32Array, Int32Array, Float32Array, Int32Array];
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
    xnAll.dispose();
    ynAll.dispose();
  }
  return { xToY, yToX };
}
