import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Metric, Rng, type RngState } from '@difflab/core';

/** The two reference levels of a metric at a given sample size. */
export interface FloorAndCeiling {
  /** metric(dataA, dataB): two independent data samples, what a perfect generator scores. */
  floor: number;
  /** metric(N(0, I) shaped like dataA, dataB): what "generating" pure noise scores. */
  ceiling: number;
}

/** One metric's line in a report (plain JSON). */
export interface MetricReportEntry {
  /** metric(generated, reference). */
  value: number;
  /** metric(referenceB, reference): two independent data samples. */
  floor: number;
  /** metric(N(0, I) shaped like referenceB, reference). */
  ceiling: number;
  /** value / floor; null when the floor is not positive (e.g. an unbiased MMD^2 near 0) or not finite. */
  ratioToFloor: number | null;
}

function levels(metric: Metric, dataA: tf.Tensor2D, dataB: tf.Tensor2D, state: RngState, noiseRng: Rng): FloorAndCeiling {
  const floor = metric.compute(dataA, dataB, Rng.fromState(state));
  const [n, d] = dataA.shape;
  const noise = tf.tensor2d(noiseRng.normalArray(n * d), [n, d]);
  try {
    return { floor, ceiling: metric.compute(noise, dataB, Rng.fromState(state)) };
  } finally {
    noise.dispose();
  }
}

/**
 * Floor and ceiling of a metric, so that its value can be read against them (DESIGN: "sliced-W2
 * of about 3x the data-vs-data floor"): the floor is metric(dataA, dataB) for two independent
 * data samples; the ceiling is metric(Z, dataB) for Z ~ N(0, I) with dataA's shape.
 * Both calls get generators restored from one fork of `rng` (common random numbers: the same
 * directions / subsample draws); the noise comes from a second fork.
 */
export function floorAndCeiling(metric: Metric, dataA: tf.Tensor2D, dataB: tf.Tensor2D, rng: Rng = new Rng(0)): FloorAndCeiling {
  const state = rng.fork().getState();
  return levels(metric, dataA, dataB, state, rng.fork());
}

/**
 * Report each metric for `generated` against `reference`, with its floor (`referenceB`, an
 * independent data sample, best of the same size as `generated`, against `reference`) and
 * ceiling (N(0, I) shaped like `referenceB` against `reference`). Keys are the metric ids
 * (array form; an id listed twice is an error) or the record's keys. For one metric, value,
 * floor and ceiling use the same random directions / subsamples (generators restored from one
 * fork of `rng`), which makes ratioToFloor less noisy. Returns plain JSON.
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
    if (Object.hasOwn(out, key)) throw new ConfigError('metrics', `metric '${key}' is listed twice; pass a record { name: metric } to report several of one kind`);
    const state = rng.fork().getState();
    const noiseRng = rng.fork();
    const value = metric.compute(generated, reference, Rng.fromState(state));
    const { floor, ceiling } = levels(metric, referenceB, reference, state, noiseRng);
    const ratioToFloor = floor > 0 && Number.isFinite(floor) && Number.isFinite(value) ? value / floor : null;
    out[key] = { value, floor, ceiling, ratioToFloor };
  }
  return out;
}
