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
  /** Class names for labelled sets (`labels` index into it). */
  readonly classes?: readonly string[];
  /** Every word its captions use, lowercase, sorted (a text conditioner's vocabulary). */
  readonly vocabulary?: readonly string[];
  /** The captions the set gives samples of class k (a class-label conditioner maps prompts back to k). */
  captionsOfClass?(k: number): readonly string[];
}
