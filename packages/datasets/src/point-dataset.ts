/**
 * A 2-D point set behind the `Dataset` contract. Either a fixed set of `size` points drawn once
 * from `Rng(seed)` (then `sample(n, rng)` draws rows with replacement), or, with `size` 0 or
 * null, an endless generator that draws n fresh points from `rng` on every call.
 */
import { type DataBatch, type Dataset, formatZodIssue, Rng } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';

/** Draws n points from `rng` as an interleaved Float32Array [x0, y0, x1, y1, ...] of length 2n. */
export type PointGenerator = (n: number, rng: Rng) => Float32Array;

/** Options every 2-D set shares: the fixed-set size and its seed. */
export const pointSetOptionFields = {
  size: z
    .number()
    .int()
    .min(0)
    .max(10_000_000)
    .nullable()
    .default(10000)
    .describe('number of fixed points; 0 or null: draw fresh points on every call'),
  seed: z.number().int().min(0).default(0).describe('seed of the fixed set'),
};

/** Validate options against a schema (defaults filled in); errors are ConfigErrors under `prefix`. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw formatZodIssue(prefix, r.error);
  return r.data;
}

/** A batch of 2-D points. */
export interface PointBatch extends DataBatch {
  x: tf.Tensor2D;
}

export class PointDataset2D implements Dataset {
  readonly id: string;
  readonly sampleShape: readonly number[] = [2];
  /** Number of fixed points, or Infinity for a generator. */
  readonly size: number;
  /** The fixed points (interleaved x, y), or null for a generator. */
  private readonly points: Float32Array | null;
  private readonly generate: PointGenerator;

  constructor(id: string, generate: PointGenerator, size: number | null = 10000, seed = 0) {
    if (size !== null && !(Number.isInteger(size) && size >= 0)) throw new RangeError(`size must be an integer >= 0 or null, got ${size}`);
    this.id = id;
    this.generate = generate;
    if (size === null || size === 0) {
      this.size = Number.POSITIVE_INFINITY;
      this.points = null;
    } else {
      this.size = size;
      this.points = generate(size, new Rng(seed));
    }
  }

  /** True when every call draws fresh points. */
  get isGenerator(): boolean {
    return this.points === null;
  }

  /** n points [n, 2] float32: rows of the fixed set with replacement, or fresh points. */
  sample(n: number, rng: Rng): PointBatch {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample(n): n must be an integer >= 0, got ${n}`);
    let data: Float32Array;
    if (this.points === null) {
      data = this.generate(n, rng);
    } else {
      data = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const j = rng.int(this.size);
        data[2 * i] = this.points[2 * j];
        data[2 * i + 1] = this.points[2 * j + 1];
      }
    }
    return { x: tf.tensor2d(data, [n, 2], 'float32') };
  }

  /** Every fixed point as a [size, 2] tensor (not part of the core contract). Throws for a generator. */
  all(): tf.Tensor2D {
    if (this.points === null) throw new RangeError(`${this.id}: all() needs a fixed set (size > 0); this one draws fresh points on every call`);
    return tf.tensor2d(this.points, [this.size, 2], 'float32');
  }
}
