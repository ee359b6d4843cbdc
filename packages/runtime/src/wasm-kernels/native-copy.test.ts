import * as tf from '@tensorflow/tfjs-core';
import { isNativeKernel } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { NATIVE, NATIVE_SKIP_REASON, useNativeKernels, values } from '../testing/native.js';
import type { NativeBlas } from './native-blas.js';
import { slicePlan } from './native-copy.js';
import { registerNativeKernels, unregisterNativeKernels } from './native-kernels.js';

// Concat, Slice and ResizeNearestNeighbor on difflab-blas's strided copies (native/copy.c) against
// tfjs-backend-cpu bit for bit (they move values, so every bit must survive: NaN payloads, -0,
// int32 extremes), the kernels they replace where they fall back, and a JavaScript copy for the
// large copies the addon splits over its threads.

/** The addon's thread count as loaded (restored after a test changes it). */
const NATIVE_THREADS = NATIVE.blas ? NATIVE.blas.info().threads : 1;

interface Result {
  shape: number[];
  dtype: string;
  /** the 32-bit words of the values (float32 by bits), or the values themselves for other dtypes */
  data: ArrayLike<number> | string[];
}

const read = (t: tf.Tensor): Result => {
  const d = t.dataSync() as ArrayLike<number> | string[];
  const data =
    t.dtype === 'float32'
      ? new Uint32Array(Float32Array.from(d as ArrayLike<number>).buffer)
      : t.dtype === 'int32'
        ? Int32Array.from(d as ArrayLike<number>)
        : t.dtype === 'bool'
          ? Uint8Array.from(d as ArrayLike<number>)
          : Array.from(d as string[]);
  return { shape: t.shape, dtype: t.dtype, data };
};

/** Large results: shape and dtype equal, and the number of differing words 0 (a deep toEqual of millions of numbers is slow). */
function expectSame(got: Result, want: Result, label: string): void {
  expect([got.shape, got.dtype], label).toEqual([want.shape, want.dtype]);
  expect(got.data.length, label).toBe(want.data.length);
  let differ = 0;
  for (let i = 0; i < want.data.length; i++) if (got.data[i] !== want.data[i]) differ++;
  expect(differ, label).toBe(0);
}

/** f's result (tensors made inside f, all disposed), read outside tidy: tidy walks a returned typed array's every index looking for tensors. */
function result(f: () => tf.Tensor): Result {
  const t = tf.tidy(f);
  try {
    return read(t);
  } finally {
    t.dispose();
  }
}

/** f's result on `backend`, then back on wasm. */
async function on(backend: string, f: () => tf.Tensor): Promise<Result> {
  await tf.setBackend(backend);
  try {
    return result(f);
  } finally {
    await tf.setBackend('wasm');
  }
}

/** f's result on wasm with the kernels the native ones replaced (difflab's WebAssembly / JS kernels). */
function withoutNative(f: () => tf.Tensor): Result {
  unregisterNativeKernels();
  try {
    return result(f);
  } finally {
    registerNativeKernels(NATIVE.blas as NativeBlas);
  }
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
/** float32 values with the bit patterns a copy must keep: NaN, -0, infinities, subnormals. */
function floats(n: number, seed: number): Float32Array {
  const v = values(n, seed, 100);
  const special = [Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, -3.4e38];
  for (let i = 0; i < n; i += 7) v[i] = special[(i / 7) % special.length];
  return v;
}
function ints(n: number, seed: number): Int32Array {
  const v = Int32Array.from(values(n, seed, 1e9), Math.round);
  if (n > 1) [v[0], v[n - 1]] = [2147483647, -2147483648];
  return v;
}
const make = (shape: number[], dtype: 'float32' | 'int32', seed: number) => (dtype === 'float32' ? tf.tensor(floats(size(shape), seed), shape) : tf.tensor(ints(size(shape), seed), shape, 'int32'));

describe.skipIf(NATIVE_SKIP_REASON)('native strided copies on wasm: Concat, Slice, ResizeNearestNeighbor', () => {
  useNativeKernels();

  it('registers the native Concat, Slice and ResizeNearestNeighbor', () => {
    for (const name of [tf.Concat, tf.Slice, tf.ResizeNearestNeighbor]) {
      const k = tf.getKernel(name, 'wasm');
      expect(isNativeKernel(k), name).toBe(true);
    }
  });

  const concatCases: [number[][], number][] = [
    [[[2, 3, 4], [2, 5, 4]], 1],
    [[[2, 3, 4], [2, 3, 1], [2, 3, 7]], -1],
    [[[2, 3, 4], [2, 3, 1], [2, 3, 7]], 2],
    [[[3, 4], [5, 4]], 0],
    [[[3, 4], [5, 4]], -2],
    [[[5], [7], [1]], 0],
    [[[5], [7]], -1],
    [[[2, 4, 4, 6], [2, 4, 4, 3]], 3],
    [[[2, 4, 4, 6], [2, 4, 3, 6]], -2],
    [[[2, 0, 4], [2, 3, 4], [2, 5, 4]], 1], // an empty input among two others: skipped
    [[[2, 3, 4], [0, 3, 4]], 0], // one non-empty input: tfjs' identity
    [[[4, 3], [4, 0]], 1],
    [[[2, 3, 0], [2, 3, 0]], -1], // all empty
  ];
  for (const dtype of ['float32', 'int32'] as const) {
    it(`Concat of ${dtype} equals tfjs-backend-cpu's bit for bit (any axis, negative axes, 1-D, empty inputs)`, async () => {
      for (const [shapes, axis] of concatCases) {
        const f = () =>
          tf.concat(
            shapes.map((s, i) => make(s, dtype, 10 + i)),
            axis,
          );
        const want = await on('cpu', f);
        const got = result(f);
        expect(got, `${JSON.stringify(shapes)} axis ${axis}`).toEqual(want);
      }
    });
  }

  it('Concat of bool and string tensors goes to the kernel it replaced', () => {
    const bools = () => tf.concat([tf.tensor2d([true, false, true, true], [2, 2], 'bool'), tf.tensor2d([false, true], [2, 1], 'bool')], 1);
    expect(result(bools)).toEqual(withoutNative(bools));
    expect(Array.from(result(bools).data as ArrayLike<number>)).toEqual([1, 0, 0, 1, 1, 1]);
    const strings = () => tf.concat([tf.tensor1d(['a', 'b'], 'string'), tf.tensor1d(['c'], 'string')]);
    expect(result(strings).data).toEqual(['a', 'b', 'c']);
  });

  it('slicePlan views a box cut in one axis as one strided copy, and refuses two cut axes', () => {
    expect(slicePlan([6, 5, 4], [2, 0, 0], [3, 5, 4])).toEqual([1, 60, 120, 40]);
    expect(slicePlan([6, 5, 4], [0, 1, 0], [6, 3, 4])).toEqual([6, 12, 20, 4]);
    expect(slicePlan([6, 5, 4], [0, 0, 1], [6, 5, 2])).toEqual([30, 2, 4, 1]);
    expect(slicePlan([6, 5, 4], [0, 0, 0], [6, 5, 4])).toEqual([1, 120, 120, 0]);
    expect(slicePlan([17], [3], [9])).toEqual([1, 9, 17, 3]);
    expect(slicePlan([6, 5, 4], [1, 1, 0], [2, 2, 4])).toBeNull();
  });

  const sliceCases: [number[], number[], number[]][] = [
    [[6, 5, 4], [2, 0, 0], [3, 5, 4]],
    [[6, 5, 4], [0, 1, 0], [6, 3, 4]],
    [[6, 5, 4], [0, 0, 1], [6, 5, 2]],
    [[6, 5, 4], [0, 0, 3], [-1, -1, 1]],
    [[2, 4, 4, 12], [0, 0, 0, 5], [-1, -1, -1, 7]], // a channel slice of NHWC
    [[2, 4, 4, 12], [0, 0, 0, 0], [2, 4, 4, 12]], // the whole tensor
    [[17], [3], [9]],
    [[17], [0], [17]],
    [[6, 5, 4], [1, 1, 0], [2, 2, 4]], // two axes cut: the fallback
    [[6, 5, 4], [0, 2, 0], [6, 0, 4]], // empty
  ];
  for (const dtype of ['float32', 'int32'] as const) {
    it(`Slice of ${dtype} equals tfjs-backend-cpu's bit for bit (a cut in any one axis, sizes of -1, 1-D, whole, two cut axes, empty)`, async () => {
      for (const [shape, begin, sz] of sliceCases) {
        const f = () => tf.slice(make(shape, dtype, 3), begin, sz);
        const want = await on('cpu', f);
        const got = result(f);
        expect(got, `${JSON.stringify([shape, begin, sz])}`).toEqual(want);
      }
    });
  }

  it('Slice of bool goes to the kernel it replaced', () => {
    const f = () => tf.slice(tf.tensor2d([true, false, true, false, false, true], [3, 2], 'bool'), [1, 0], [2, 2]);
    expect(result(f)).toEqual(withoutNative(f));
  });

  const resize = (images: tf.Tensor, newSize: [number, number], alignCorners: boolean, halfPixelCenters: boolean) =>
    tf.engine().runKernel(tf.ResizeNearestNeighbor, { images }, { alignCorners, halfPixelCenters, size: newSize } as unknown as tf.NamedAttrMap) as tf.Tensor;

  it("ResizeNearestNeighbor equals tfjs-backend-cpu's bit for bit for every alignCorners / halfPixelCenters, up, down, 2x, non-integer ratios, C = 1, 3, 8", async () => {
    const sizes: [number, number][] = [
      [6, 10],
      [9, 15],
      [2, 3],
      [4, 7],
      [7, 4],
      [1, 1],
      [5, 1],
      [3, 5],
    ];
    for (const C of [1, 3, 8])
      for (const newSize of sizes)
        for (const alignCorners of [false, true])
          for (const halfPixelCenters of [false, true]) {
            const f = () => resize(make([2, 3, 5, C], 'float32', C), newSize, alignCorners, halfPixelCenters);
            const want = await on('cpu', f);
            const got = result(f);
            expect(got, `C ${C} size ${newSize} alignCorners ${alignCorners} halfPixelCenters ${halfPixelCenters}`).toEqual(want);
          }
    // and through the op as unet.ts calls it (2x, both flags false)
    const op = () => tf.image.resizeNearestNeighbor(make([2, 4, 4, 16], 'float32', 7) as tf.Tensor4D, [8, 8]);
    expect(result(op)).toEqual(await on('cpu', op));
  });

  it('ResizeNearestNeighbor of int32 images goes to the kernel it replaced (float32 out, as tfjs-backend-wasm)', () => {
    const f = () => resize(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1], 'int32'), [4, 4], false, false);
    const got = result(f);
    expect(got).toEqual(withoutNative(f));
    expect(got.dtype).toBe('float32');
  });

  it('large copies split over two threads give the same values as one thread and as a JavaScript copy', () => {
    const blas = NATIVE.blas as NativeBlas;
    const heap = new Float32Array(8_000_000);
    heap.set(floats(4_000_000, 5));
    const src = 0;
    const dst = 4_000_000;
    // strided rows, contiguous rows, one long row: >= 1M values each, so two threads split them
    const cases: [string, number, number, number, number][] = [
      ['strided rows', 700, 600, 3001, 513],
      ['contiguous rows', 1000, 1000, 2000, 1000],
      ['one row', 0, 0, 1, 2_000_003],
    ];
    const bits = new Uint32Array(heap.buffer);
    for (const [name, srcStride, dstStride, rows, cols] of cases) {
      const run = (t: number) => {
        blas.setThreads(t);
        try {
          bits.fill(0xdeadbeef, dst);
          blas.copy2d(heap, src, srcStride, dst, dstStride, rows, cols);
          return bits.slice(dst);
        } finally {
          blas.setThreads(NATIVE_THREADS);
        }
      };
      const one = run(1);
      const two = run(2);
      const want = new Uint32Array(4_000_000).fill(0xdeadbeef);
      for (let r = 0; r < rows; r++) want.set(bits.subarray(src + r * srcStride, src + r * srcStride + cols), r * dstStride);
      let differ = 0;
      let wrong = 0;
      for (let i = 0; i < want.length; i++) {
        if (one[i] !== two[i]) differ++;
        if (two[i] !== want[i]) wrong++;
      }
      expect(differ, name).toBe(0);
      expect(wrong, name).toBe(0);
    }
  });

  it("large Concat, Slice and ResizeNearestNeighbor (the UNet's shapes) give the same bits on one and two threads, and tfjs-backend-cpu's", async () => {
    const blas = NATIVE.blas as NativeBlas;
    const a = floats(64 * 16 * 16 * 64, 1);
    const b = floats(64 * 16 * 16 * 32, 2);
    const x = floats(16 * 16 * 16 * 64, 3);
    const ops: [string, () => tf.Tensor][] = [
      ['concat', () => tf.concat([tf.tensor4d(a, [64, 16, 16, 64]), tf.tensor4d(b, [64, 16, 16, 32])], 3)],
      ['slice', () => tf.slice(tf.tensor4d(a, [64, 16, 16, 64]), [0, 0, 0, 16], [-1, -1, -1, 40])],
      ['resize 2x', () => tf.image.resizeNearestNeighbor(tf.tensor4d(x, [16, 16, 16, 64]), [32, 32])],
      ['resize 3x half pixel', () => tf.image.resizeNearestNeighbor(tf.tensor4d(x, [16, 16, 16, 64]), [48, 40], false, true)],
    ];
    for (const [name, f] of ops) {
      const run = (t: number) => {
        blas.setThreads(t);
        try {
          return result(f);
        } finally {
          blas.setThreads(NATIVE_THREADS);
        }
      };
      const one = run(1);
      expectSame(run(2), one, `${name}: two threads`);
      expectSame(one, await on('cpu', f), `${name}: cpu`);
    }
  });

  it('rejects operands outside the heap, overlapping spans and bad sizes with a one-line RangeError', () => {
    const blas = NATIVE.blas as NativeBlas;
    const heap = new Float32Array(100);
    const outside = /^difflab-blas copy2d: an operand lies outside the heap \(or a size is not positive\)$/;
    expect(() => blas.copy2d(heap, 95, 10, 0, 10, 1, 10)).toThrow(outside);
    expect(() => blas.copy2d(heap, 0, 10, 60, 10, 5, 10)).toThrow(outside);
    expect(() => blas.copy2d(heap, -1, 10, 50, 10, 1, 10)).toThrow(outside);
    expect(() => blas.copy2d(heap, 0, 10, 50, 5, 2, 10)).toThrow(outside); // dstStride < cols
    expect(() => blas.copy2d(heap, 0, 10, 50, 10, 0, 10)).toThrow(outside);
    expect(() => blas.copy2d(heap, 0, 10, 50, 10, 2 ** 40, 10)).toThrow(outside);
    expect(() => blas.copy2d(heap, 0, 10, 15, 10, 2, 10)).toThrow(/^difflab-blas copy2d: the source and destination overlap$/);
    expect(() => blas.copy2d(heap, 95, 10, 0, 10, 1, 10)).toThrow(RangeError);
    expect(() => blas.resizeNearest(heap, 90, 1, 2, 2, 4, 2, 2, 0, 0, 0)).toThrow(/^difflab-blas resizeNearest: an operand lies outside the heap \(or a size is not positive\)$/);
    expect(() => blas.resizeNearest(heap, 0, 1, 2, 2, 4, 4, 4, 0, 0, 8)).toThrow(/^difflab-blas resizeNearest: the input and output overlap$/);
    expect(() => (blas.copy2d as unknown as (...a: unknown[]) => void)(heap, 0, 10, 50)).toThrow(/^difflab-blas copy2d: expected 7 arguments$/);
    // right at the ends of the heap, spans touching: copies
    heap.set([1, 2, 3, 4, 5, 6], 0);
    blas.copy2d(heap, 0, 3, 96, 2, 2, 2);
    expect(Array.from(heap.subarray(96, 100))).toEqual([1, 2, 4, 5]);
    blas.copy2d(heap, 0, 10, 50, 10, 5, 10);
    expect(heap[99]).toBe(heap[49]);
  });

  it('keeps tensor and data-buffer counts flat over repeated calls (native paths, identity, fallbacks)', () => {
    const a = tf.tensor4d(floats(2 * 4 * 4 * 6, 1), [2, 4, 4, 6]);
    const b = tf.tensor4d(floats(2 * 4 * 4 * 3, 2), [2, 4, 4, 3]);
    const e = tf.zeros([2, 4, 4, 0]);
    const ab = tf.cast(a, 'bool');
    const bb = tf.cast(b, 'bool');
    const once = () => {
      tf.concat([a, b], 3).dispose();
      tf.concat([a, e], -1).dispose(); // identity
      tf.concat([ab, bb], 3).dispose(); // fallback
      tf.slice(a, [0, 0, 0, 2], [-1, -1, -1, 3]).dispose();
      tf.slice(a, [0, 1, 1, 0], [-1, 2, 2, -1]).dispose(); // fallback
      tf.image.resizeNearestNeighbor(a, [8, 8]).dispose();
      tf.tidy(() => tf.image.resizeNearestNeighbor(tf.concat([a, b], 3), [5, 7], true)).dispose();
    };
    // the backend's own count too: a kernel's output it made but never returned is in no engine count
    const backendIds = () => tf.engine().backend.numDataIds();
    tf.tidy(once);
    const before = { ...tf.memory(), ids: backendIds() };
    for (let i = 0; i < 5; i++) tf.tidy(once);
    for (let i = 0; i < 5; i++) once();
    const after = { ...tf.memory(), ids: backendIds() };
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
    expect(after.ids).toBe(before.ids);
    tf.dispose([a, b, e, ab, bb]);
  });
});
