import { formatZodIssue } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';

/**
 * Validate options against a plugin schema (defaults filled in) for direct, non-plugin use of a
 * class. Errors are `ConfigError`s whose path starts with `prefix`, as the registry's.
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw formatZodIssue(prefix, r.error);
  return r.data;
}

/** Timesteps as a float32 [B] tensor (`t` itself when it is one; else a new tensor: call inside `tf.tidy`). */
export function timestepsTensor(t: tf.Tensor | readonly number[]): tf.Tensor1D {
  if (Array.isArray(t)) return tf.tensor1d(t as number[], 'float32');
  const tt = t as tf.Tensor;
  if (tt.rank !== 1) throw new RangeError(`timesteps must be a 1-D tensor [B], got shape [${tt.shape.join(', ')}]`);
  return (tt.dtype === 'float32' ? tt : tf.cast(tt, 'float32')) as tf.Tensor1D;
}

/** Throw unless `n` is an integer >= `min`. */
export function checkInt(name: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${n}`);
}
