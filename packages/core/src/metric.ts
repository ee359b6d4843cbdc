import type { Tensor2D } from '@tensorflow/tfjs-core';
import type { Rng } from './rng.js';

/** A distance between two sets of samples (rows). Lower is closer; 0 for identical distributions. */
export interface Metric {
  readonly id: string;
  /** Human-readable formula / description for reports. */
  readonly summary: string;
  compute(generated: Tensor2D, reference: Tensor2D, rng?: Rng): number;
}
