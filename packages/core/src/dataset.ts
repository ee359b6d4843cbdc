import type { Tensor } from '@tensorflow/tfjs-core';
import type { Rng } from './rng.js';

/** One batch from a dataset. `cond` holds labels or encoded captions for conditional sets. */
export interface DataBatch {
  x: Tensor;
  cond?: Tensor;
  labels?: number[];
  captions?: string[];
}

/**
 * A dataset of samples with a fixed shape. `size` is the number of distinct samples
 * (Infinity for generators that draw fresh points every time).
 */
export interface Dataset {
  readonly id: string;
  readonly sampleShape: readonly number[];
  readonly size: number;
  /** Draw n samples (with replacement for fixed sets), reproducibly from `rng`. */
  sample(n: number, rng: Rng): DataBatch;
  /** Class names for labelled sets. */
  readonly classes?: readonly string[];
}
