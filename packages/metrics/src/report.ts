import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Metric, Rng } from '@difflab/core';

/**
 * Reference levels for a metric, so that its value can be read (DESIGN: "sliced-W2 of about 3x
 * the data-vs-data floor"):
 *
 * - floor: the metric between two independent samples of the data (`dataA` vs `dataB`): what a
 *   perfect generator scores at this sample size;
 * - ceiling: the metric between N(0, I) samples shaped like `dataA` and `dataB`: what
 *   "generating" pure noise scores.
 *
 * Both calls get generators restored from one fork of `rng` (common random numbers: the same
 * directions / subsample draws), and the noise comes from another fork.
 */
export interface FloorAndCeiling {
  floor: number;
  ceiling: number;
}

export function floorAndCeiling(metric: Metric, dataA: tf.Tensor2D, dataB: tf.Tensor2D, rng: Rng = new Rng(0)): FloorAndCeiling {
  const state = rng.fork().getState();
  const noiseRng = rng.fork();
  const floor = metric.compute(dataA, dataB, Rng.fromState(state));
  const noise = tf.tensor2d(noiseRng.normalArray(dataA.shape[0] * dataA.shape[1]), [dataA.shape[0], dataA.shape[1]]);
  try {
    return { floor, ceiling: metric.compute(noise, dataB, Rng.fromState(state)) };
  } finally {
    noise.dispose();
  }
}

/** One metric's line in a report (plain JSON). */
export interface MetricReportEntry {
  /** metric(generated, reference). */
  value: number;
  /** metric(referenceB, reference): two independent data samples. */
  floor: number;
  /** metric(N(0, I) noise shaped like generated, reference). */
  ceiling: number;
  /** value / floor; null when the floor is not positive (e.g. an unbiased MMD^2 at ~0). */
  ratioToFloor: number | null;
}

/**
 * Report every metric of `metrics` for `generated` against `reference`, with its floor
 * (`referenceB`, an independent data sample of the same size as `generated`, against
 * `reference`) and ceiling (N(0, I) of generated's shape against `reference`). Keys are the
 * metric ids (array form) or the record's keys. For each metric the value, floor and ceiling
 * use the same random directions / subsamples (generators restored from one fork of `rng`).
 */
export function metricReport(
  generated: tf.Tensor2D,
  reference: tf.Tensor2D,
  referenceB: tf.Tensor2D,
  metrics: readonly Metric[] | Readonly<Record<string, Metric>>,
  rng: Rng = new Rng(0),
): Record<string, MetricReportEntry> {
  const entries: Array<[string, Metric]> = Array.isArray(metrics) ? metrics.map((m) => [m.id, m]) : Object.entries(metrics);
  const out: Record<string, MetricReportEntry> = {};
  for (const [key, metric] of entries) {
    if (key in out) throw new ConfigError('metrics', `metric '${key}' is listed twice; pass a record { name: metric } to report several of one kind`);
    const state = rng.fork().getState();
    const noiseRng = rng.fork();
    const value = metric.compute(generated, reference, Rng.fromState(state));
    const floor = metric.compute(referenceB, reference, Rng.fromState(state));
    const noise = tf.tensor2d(noiseRng.normalArray(generated.shape[0] * generated.shape[1]), [generated.shape[0], generated.shape[1]]);
    let ceiling: number;
    try {
      ceiling = metric.compute(noise, reference, Rng.fromState(state));
    } finally {
      noise.dispose();
    }
    out[key] = { value, floor, ceiling, ratioToFloor: floor > 0 && Number.isFinite(floor) && Number.isFinite(value) ? value / floor : null };
  }
  return out;
}
