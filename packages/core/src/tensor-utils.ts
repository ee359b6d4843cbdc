import * as tf from '@tensorflow/tfjs-core';

/** A per-row coefficient column [B, 1, ...] from a float64 table and timesteps, for broadcasting. */
export function gatherCoefficients(table: Float64Array, t: number | number[] | tf.Tensor, rank: number, batch: number): tf.Tensor {
  let idx: number[];
  if (typeof t === 'number') idx = new Array(batch).fill(t);
  else if (Array.isArray(t)) idx = t;
  else idx = Array.from(t.dataSync());
  if (idx.length !== batch && idx.length === 1) idx = new Array(batch).fill(idx[0]);
  if (idx.length !== batch) throw new RangeError(`got ${idx.length} timesteps for a batch of ${batch}`);
  const vals = new Float32Array(batch);
  for (let i = 0; i < batch; i++) {
    const k = Math.round(idx[i]);
    if (!(k >= 0 && k < table.length)) throw new RangeError(`timestep ${idx[i]} outside [0, ${table.length - 1}]`);
    vals[i] = table[k];
  }
  const shape = [batch, ...new Array(Math.max(0, rank - 1)).fill(1)];
  return tf.tensor(vals, shape, 'float32');
}

/** True when every value of the tensor is finite. Synchronous read. */
export function allFinite(x: tf.Tensor): boolean {
  const d = x.dataSync();
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  return true;
}
