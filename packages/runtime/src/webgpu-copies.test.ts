import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startBackend } from './start-backend.js';
import { countPrograms, hasSwiftShader, lcgValues, SWIFTSHADER_SKIP_REASON } from './testing/swiftshader.js';

// SplitV and Concat of contiguous pieces on webgpu as buffer copies (webgpu-copies.ts): the cpu
// backend's values, no program, no leaks, and the pieces intact when the source is disposed and
// its buffer reused before the queue is submitted; other splits and concats through tfjs-webgpu.

afterAll(async () => {
  await startBackend('wasm');
});

describe('SplitV / Concat as buffer copies on webgpu (Dawn + SwiftShader)', () => {
  it('split a flat vector and rows, concat them back: cpu values, 0 programs, no leaks', async (ctx) => {
    ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
    await startBackend('webgpu');
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    // sizes above tfjs-webgpu's CPU hand-off (1,000 values): tensors on the GPU, as a model's are
    const flat = lcgValues(5000, 1);
    const rows = lcgValues(60 * 70, 2);
    const ints = Array.from({ length: 2000 }, (_, i) => i * 3 - 7);
    const x = tf.tensor1d(flat);
    const m = tf.tensor2d(rows, [60, 70]);
    const xi = tf.tensor1d(ints, 'int32');
    const [gx, gm, gi] = [tf.mul(x, 1), tf.mul(m, 1), tf.add(xi, tf.scalar(0, 'int32'))];
    const tensors = tf.memory().numTensors;
    const ids = backend.numDataIds();
    const { result, programs } = countPrograms(() => {
      const parts = tf.split(gx, [1, 1499, 3000, 500]);
      const rowParts = tf.split(gm, [20, 1, 39], 0);
      const intParts = tf.split(gi, [1004, 996]);
      const back = tf.concat(parts);
      const backRows = tf.concat(rowParts, 0);
      const backInts = tf.concat(intParts);
      return { parts, rowParts, intParts, back, backRows, backInts };
    });
    expect(programs).toBe(0);
    expect(result.parts.map((p) => p.shape)).toEqual([[1], [1499], [3000], [500]]);
    expect(result.rowParts.map((p) => p.shape)).toEqual([[20, 70], [1, 70], [39, 70]]);
    expect(Array.from(await result.back.data())).toEqual(Array.from(Float32Array.from(flat)));
    expect(Array.from(await result.backRows.data())).toEqual(Array.from(Float32Array.from(rows)));
    expect(Array.from(await result.backInts.data())).toEqual(ints);
    expect(Array.from(await result.parts[2].data())).toEqual(Array.from(Float32Array.from(flat.slice(1500, 4500))));
    expect(Array.from(await result.rowParts[2].data())).toEqual(Array.from(Float32Array.from(rows.slice(21 * 70))));
    expect(result.intParts[1].dtype).toBe('int32');
    tf.dispose([...result.parts, ...result.rowParts, ...result.intParts, result.back, result.backRows, result.backInts]);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.numDataIds()).toBe(ids);
    tf.dispose([x, m, xi, gx, gm, gi]);
  });

  it('holds a disposed source buffer until the queue is submitted: not handed to new tensors, the pieces intact', async (ctx) => {
    ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
    await startBackend('webgpu');
    const backend = tf.engine().backend as unknown as { tensorMap: { get(id: object): { resource: unknown } } };
    const v = lcgValues(4096, 3);
    for (let round = 0; round < 3; round++) {
      const src = tf.mul(tf.tensor1d(v), 2);
      // submitted and read: no recorded program owns src's buffer any more, only the copies below
      await src.data();
      const srcBuffer = backend.tensorMap.get(src.dataId).resource;
      // in one tidy, as a training step is: difflab's dispatch path submits when the outermost
      // scope ends, so nothing is submitted before its end
      const reused: boolean[] = [];
      const { result, programs } = countPrograms(() =>
        tf.tidy(() => {
          const [a, b] = tf.split(src, [1000, 3096]);
          const c = tf.concat([b, a]);
          src.dispose();
          // same-size tensors made before the submit: a queue write into src's buffer would land
          // before the recorded copies, so the buffer must stay out of the pool until then
          for (let i = 0; i < 4; i++) {
            const o = tf.mul(tf.tensor1d(new Float32Array(4096).fill(i + round)), 1);
            reused.push(backend.tensorMap.get(o.dataId).resource === srcBuffer);
          }
          return [a, b, c];
        }),
      );
      expect(programs).toBe(4);
      expect(reused).toEqual([false, false, false, false]);
      const [a, b, c] = result;
      const [av, cv] = [await a.data(), await c.data()];
      expect(av[999]).toBe(Math.fround(v[999]) * 2);
      expect(Array.from(cv.slice(0, 3096))).toEqual(Array.from(Float32Array.from(v.slice(1000)).map((z) => z * 2)));
      expect(Array.from(cv.slice(3096))).toEqual(Array.from(Float32Array.from(v.slice(0, 1000)).map((z) => z * 2)));
      tf.dispose([a, b, c]);
    }
  });

  it('other splits and concats (an inner axis, values on the CPU) go to tfjs-webgpu, with its values', async (ctx) => {
    ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
    await startBackend('webgpu');
    const rows = lcgValues(60 * 70, 4);
    const m = tf.mul(tf.tensor2d(rows, [60, 70]), 1);
    const cols = countPrograms(() => tf.split(m, [30, 40], 1));
    expect(cols.programs).toBe(2);
    const want = tf.slice(m, [0, 30], [60, 40]);
    expect(Array.from(await cols.result[1].data())).toEqual(Array.from(await want.data()));
    const inner = countPrograms(() => tf.concat(cols.result, 1));
    expect(inner.programs).toBeGreaterThan(0);
    expect(Array.from(await inner.result.data())).toEqual(Array.from(await m.data()));
    // values still on the CPU (tfjs-webgpu keeps small results there): its kernel
    const small = tf.tensor1d([1, 2, 3, 4]);
    const [p, q] = tf.split(small, [1, 3]);
    expect(Array.from(await q.data())).toEqual([2, 3, 4]);
    tf.dispose([m, want, ...cols.result, inner.result, small, p, q]);
  });
});
