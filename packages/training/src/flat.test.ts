import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assignFlat, flatten } from './flat.js';

/** fn(), with the number of Reshape kernels tfjs' engine ran. */
function countReshapes<T>(fn: () => T): { result: T; reshapes: number } {
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...a: unknown[]) => unknown };
  const original = engine.runKernel;
  let reshapes = 0;
  engine.runKernel = function (this: unknown, name: string, ...a: unknown[]) {
    if (name === 'Reshape') reshapes++;
    return original.call(this, name, ...a);
  };
  try {
    return { result: fn(), reshapes };
  } finally {
    engine.runKernel = original;
  }
}

describe('flatten / assignFlat', () => {
  it('round-trip a matrix, two vectors and a scalar in order, reshaping only what is not a vector, no leaks', () => {
    const shapes = [[2, 3], [4], [1, 2, 2], [], [3]];
    const values = shapes.map((s, k) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => 10 * k + i));
    const tensors = shapes.map((s, k) => tf.tensor(values[k], s));
    const before = tf.memory().numTensors;
    const { result: flat, reshapes } = countReshapes(() => flatten(tensors));
    // the matrix, the rank-3 tensor and the scalar; the two vectors go to Concat as they are
    expect(reshapes).toBe(3);
    expect(flat.shape).toEqual([6 + 4 + 4 + 1 + 3]);
    expect(Array.from(flat.dataSync())).toEqual(values.flat());
    const vars = shapes.map((s) => {
      const z = tf.zeros(s);
      const v = tf.variable(z);
      z.dispose();
      return v;
    });
    const doubled = tf.mul(flat, 2);
    const assigned = countReshapes(() => assignFlat(vars, doubled));
    expect(assigned.reshapes).toBe(1 + 3); // the split's flat input, then the three non-vectors
    vars.forEach((v, k) => {
      expect(v.shape).toEqual(shapes[k]);
      expect(Array.from(v.dataSync())).toEqual(values[k].map((x) => 2 * x));
    });
    tf.dispose([flat, doubled, ...vars]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(tensors);
  });

  it('assignFlat names the sizes when they differ', () => {
    const v = tf.variable(tf.zeros([2, 2]));
    const f = tf.zeros([5]);
    expect(() => assignFlat([v], f)).toThrow('assignFlat: got 5 values for variables holding 4');
    tf.dispose([v, f]);
  });
});
