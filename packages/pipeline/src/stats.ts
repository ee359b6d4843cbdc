/** Small statistics on interleaved [N, d] float arrays, used by the job reports. */

/** Mean Euclidean norm of the rows (mean distance from the origin). */
export function meanNorm(x: Float32Array, d = 2): number {
  const n = x.length / d;
  let s = 0;
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let k = 0; k < d; k++) r += x[i * d + k] ** 2;
    s += Math.sqrt(r);
  }
  return s / n;
}

/** Pearson correlation of column k of a and column k of b, averaged over the d columns. */
export function meanColumnCorrelation(a: Float32Array, b: Float32Array, d = 2): number {
  const n = a.length / d;
  let total = 0;
  for (let k = 0; k < d; k++) {
    let ma = 0;
    let mb = 0;
    for (let i = 0; i < n; i++) {
      ma += a[i * d + k];
      mb += b[i * d + k];
    }
    ma /= n;
    mb /= n;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
      const da = a[i * d + k] - ma;
      const db = b[i * d + k] - mb;
      sab += da * db;
      saa += da * da;
      sbb += db * db;
    }
    total += sab / Math.sqrt(saa * sbb);
  }
  return total / d;
}

/** Per-column variance, averaged over the columns. */
export function meanColumnVariance(x: Float32Array, d = 2): number {
  const n = x.length / d;
  let total = 0;
  for (let k = 0; k < d; k++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + k];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * d + k] - m) ** 2;
    total += v / n;
  }
  return total / d;
}

/** Symmetric axis limits that hold the given quantile of |coordinates| of all arrays. */
export function sharedLimits(arrays: Float32Array[], quantile = 0.999, minHalf = 1): [number, number] {
  const all: number[] = [];
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) all.push(Math.abs(a[i]));
  all.sort((p, q) => p - q);
  const q = all.length ? all[Math.min(all.length - 1, Math.floor(quantile * all.length))] : minHalf;
  const half = Math.max(minHalf, Math.ceil(q * 1.05 * 2) / 2);
  return [-half, half];
}

/**
 * Mean distance from each row of `x` to its nearest row of `ref` (both interleaved [n, d]):
 * how far a cloud sits from the data manifold, whatever its spread. Plain JS, O(n m d).
 */
export function meanNearestDistance(x: Float32Array, ref: Float32Array, d = 2): number {
  const n = x.length / d;
  const m = ref.length / d;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let best = Number.POSITIVE_INFINITY;
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = x[i * d + k] - ref[j * d + k];
        s += diff * diff;
      }
      if (s < best) best = s;
    }
    total += Math.sqrt(best);
  }
  return total / n;
}
