import { DIFFLAB_KERNELS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { maxDiff, NATIVE, NATIVE_SKIP_REASON, onThreads, useNativeKernels, values } from '../testing/native.js';

// The convolutions on difflab-blas against float64 loops written from the definitions (NHWC,
// tfjs' cross-correlation, symmetric or 'same' padding). Skipped, with the reason, where the
// addon was not built.
const blas = NATIVE.blas;

interface Geom {
  B: number;
  H: number;
  W: number;
  Cin: number;
  Cout: number;
  k: number;
  s: number;
  p: number;
}
const outSize = (n: number, g: Geom) => Math.floor((n + 2 * g.p - g.k) / g.s) + 1;

/** Calls f(b, oh, ow, i, j, ih, iw) for every in-bounds tap. */
function taps(g: Geom, f: (b: number, oh: number, ow: number, i: number, j: number, ih: number, iw: number) => void): void {
  const Ho = outSize(g.H, g);
  const Wo = outSize(g.W, g);
  for (let b = 0; b < g.B; b++)
    for (let oh = 0; oh < Ho; oh++)
      for (let ow = 0; ow < Wo; ow++)
        for (let i = 0; i < g.k; i++)
          for (let j = 0; j < g.k; j++) {
            const ih = oh * g.s - g.p + i;
            const iw = ow * g.s - g.p + j;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) f(b, oh, ow, i, j, ih, iw);
          }
}

function refForward(g: Geom, x: Float32Array, w: Float32Array, bias?: Float32Array, relu = false): Float64Array {
  const Ho = outSize(g.H, g);
  const Wo = outSize(g.W, g);
  const y = new Float64Array(g.B * Ho * Wo * g.Cout);
  taps(g, (b, oh, ow, i, j, ih, iw) => {
    for (let ci = 0; ci < g.Cin; ci++) {
      const xv = x[((b * g.H + ih) * g.W + iw) * g.Cin + ci];
      for (let co = 0; co < g.Cout; co++) y[((b * Ho + oh) * Wo + ow) * g.Cout + co] += xv * w[((i * g.k + j) * g.Cin + ci) * g.Cout + co];
    }
  });
  if (bias) for (let r = 0; r < y.length; r++) y[r] += bias[r % g.Cout];
  if (relu) for (let r = 0; r < y.length; r++) y[r] = Math.max(0, y[r]);
  return y;
}

function refGrads(g: Geom, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float64Array; dw: Float64Array } {
  const Ho = outSize(g.H, g);
  const Wo = outSize(g.W, g);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  taps(g, (b, oh, ow, i, j, ih, iw) => {
    for (let ci = 0; ci < g.Cin; ci++) {
      const xi = ((b * g.H + ih) * g.W + iw) * g.Cin + ci;
      for (let co = 0; co < g.Cout; co++) {
        const d = dy[((b * Ho + oh) * Wo + ow) * g.Cout + co];
        const wi = ((i * g.k + j) * g.Cin + ci) * g.Cout + co;
        dx[xi] += d * w[wi];
        dw[wi] += d * x[xi];
      }
    }
  });
  return { dx, dw };
}

const GEOMS: Geom[] = [
  { B: 2, H: 9, W: 7, Cin: 5, Cout: 6, k: 3, s: 1, p: 1 },
  { B: 3, H: 8, W: 8, Cin: 4, Cout: 3, k: 3, s: 2, p: 1 },
  { B: 2, H: 6, W: 5, Cin: 3, Cout: 4, k: 1, s: 1, p: 0 }, // pointwise: no im2col
  { B: 1, H: 7, W: 9, Cin: 2, Cout: 5, k: 5, s: 1, p: 2 },
  { B: 2, H: 7, W: 6, Cin: 3, Cout: 2, k: 2, s: 2, p: 0 },
  { B: 70, H: 20, W: 20, Cin: 24, Cout: 8, k: 3, s: 1, p: 1 }, // more im2col rows than one chunk holds
  { B: 3, H: 9, W: 8, Cin: 19, Cout: 1, k: 3, s: 1, p: 1 }, // one output channel: direct loops (19 = 16 + 3)
  { B: 2, H: 8, W: 8, Cin: 16, Cout: 1, k: 3, s: 2, p: 1 },
  { B: 2, H: 6, W: 7, Cin: 35, Cout: 1, k: 3, s: 1, p: 1 }, // 35 = 2 x 16 + 3 lanes
  { B: 3, H: 9, W: 9, Cin: 1, Cout: 6, k: 3, s: 1, p: 1 }, // one input channel (an image's first conv): im2col by value
  // Cout a multiple of 16 (AVX-512 builds: the direct loops of conv.c): tiles of 12 x 32 channels with a
  // 7-pixel remainder; 6 x 64 (13 = 2 x 6 + 1) with 20 input channels (dW: 12 + 8, dx: im2col);
  // 24 x 16 at stride 2; 5x5 taps; no padding with 128 outputs (two column blocks; dx padded by 2)
  { B: 2, H: 9, W: 31, Cin: 32, Cout: 32, k: 3, s: 1, p: 1 },
  { B: 3, H: 7, W: 13, Cin: 20, Cout: 64, k: 3, s: 1, p: 1 },
  { B: 2, H: 8, W: 10, Cin: 16, Cout: 48, k: 3, s: 2, p: 1 },
  { B: 2, H: 6, W: 30, Cin: 48, Cout: 16, k: 5, s: 1, p: 2 },
  { B: 1, H: 5, W: 7, Cin: 64, Cout: 128, k: 3, s: 1, p: 0 },
  { B: 2, H: 7, W: 6, Cin: 32, Cout: 32, k: 2, s: 2, p: 0 },
  { B: 40, H: 6, W: 5, Cin: 8, Cout: 16, k: 3, s: 1, p: 1 }, // 240 rows: more than the filter gradient's 8 blocks
];

describe.skipIf(NATIVE_SKIP_REASON)('native OpenBLAS convolutions on wasm', () => {
  useNativeKernels();

  for (const g of GEOMS) {
    const name = `B${g.B} ${g.H}x${g.W}x${g.Cin} -> ${g.Cout}, k${g.k} s${g.s} p${g.p}`;
    const x = values(g.B * g.H * g.W * g.Cin, 1);
    const w = values(g.k * g.k * g.Cin * g.Cout, 2);
    const Ho = outSize(g.H, g);
    const Wo = outSize(g.W, g);
    const dy = values(g.B * Ho * Wo * g.Cout, 3);
    const xs: [number, number, number, number] = [g.B, g.H, g.W, g.Cin];
    const ws: [number, number, number, number] = [g.k, g.k, g.Cin, g.Cout];

    it(`Conv2D ${name} equals the defining sum`, () => {
      const y = tf.tidy(() => tf.conv2d(tf.tensor4d(x, xs), tf.tensor4d(w, ws), g.s, g.p === 0 ? 'valid' : g.p));
      expect(y.shape).toEqual([g.B, Ho, Wo, g.Cout]);
      expect(maxDiff(y.dataSync(), refForward(g, x, w))).toBeLessThan(1e-4);
      y.dispose();
    });

    it(`DifflabConv2DFilterGrad and DifflabConv2DInputGrad ${name} equal the defining sums`, () => {
      const { dx, dw } = refGrads(g, x, w, dy);
      const before = tf.memory().numTensors;
      const [gx, gw] = tf.tidy(() => {
        const dyt = tf.tensor4d(dy, [g.B, Ho, Wo, g.Cout]);
        const common = { strideHeight: g.s, strideWidth: g.s, padTop: g.p, padLeft: g.p };
        const fw = tf.engine().runKernel(DIFFLAB_KERNELS.conv2dFilterGrad, { x: tf.tensor4d(x, xs), dy: dyt }, { ...common, filterHeight: g.k, filterWidth: g.k }) as tf.Tensor;
        const fx = tf.engine().runKernel(DIFFLAB_KERNELS.conv2dInputGrad, { dy: dyt, filter: tf.tensor4d(w, ws) }, { ...common, inputShape: xs } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [fx, fw];
      });
      expect(gx.shape).toEqual(xs);
      expect(gw.shape).toEqual(ws);
      expect(maxDiff(gx.dataSync(), dx)).toBeLessThan(1e-4 * Math.max(1, g.k * g.k * g.Cout / 10));
      expect(maxDiff(gw.dataSync(), dw)).toBeLessThan(2e-3);
      tf.dispose([gx, gw]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("FusedConv2D adds the bias and applies relu; 'same' padding and a stride of 2 agree with the loops", () => {
    const g: Geom = { B: 2, H: 8, W: 8, Cin: 3, Cout: 4, k: 3, s: 2, p: 1 };
    const x = values(2 * 8 * 8 * 3, 4);
    const w = values(3 * 3 * 3 * 4, 5);
    const bias = values(4, 6);
    // tfjs 'same' with stride 2 on 8 pads 0 on top / left and 1 at the end: compare with the
    // explicit equivalent on the cpu backend's definition instead of the symmetric loop.
    const y = tf.tidy(() => tf.fused.conv2d({ x: tf.tensor4d(x, [2, 8, 8, 3]), filter: tf.tensor4d(w, [3, 3, 3, 4]), strides: 2, pad: 1, bias: tf.tensor1d(bias), activation: 'relu' }));
    expect(maxDiff(y.dataSync(), refForward(g, x, w, bias, true))).toBeLessThan(1e-4);
    y.dispose();
    const same = tf.tidy(() => tf.conv2d(tf.tensor4d(x, [2, 8, 8, 3]), tf.tensor4d(w, [3, 3, 3, 4]), 2, 'same'));
    const explicit = tf.tidy(() => tf.conv2d(tf.pad(tf.tensor4d(x, [2, 8, 8, 3]), [[0, 0], [0, 1], [0, 1], [0, 0]]), tf.tensor4d(w, [3, 3, 3, 4]), 2, 'valid'));
    expect(maxDiff(same.dataSync(), explicit.dataSync())).toBeLessThan(1e-5);
    tf.dispose([same, explicit]);
  });

  it('a dilated convolution goes to the WebAssembly kernel (same values as the dilated-filter definition)', () => {
    const x = values(1 * 7 * 7 * 2, 7);
    const w = values(2 * 2 * 2 * 3, 8);
    const y = tf.tidy(() => tf.conv2d(tf.tensor4d(x, [1, 7, 7, 2]), tf.tensor4d(w, [2, 2, 2, 3]), 1, 'valid', 'NHWC', 2));
    // dilation 2 of a 2x2 filter = a 3x3 filter with zeros between the taps
    const w3 = new Float32Array(3 * 3 * 2 * 3);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let c = 0; c < 6; c++) w3[((2 * i * 3 + 2 * j) * 6) + c] = w[(i * 2 + j) * 6 + c];
    expect(maxDiff(y.dataSync(), refForward({ B: 1, H: 7, W: 7, Cin: 2, Cout: 3, k: 3, s: 1, p: 0 }, x, w3))).toBeLessThan(1e-4);
    y.dispose();
  });

  for (const g of [
    { B: 3, H: 8, W: 7, Cin: 16, Cout: 32, k: 3, s: 1, p: 1 }, // direct loops (AVX-512 builds)
    { B: 2, H: 6, W: 6, Cin: 3, Cout: 5, k: 3, s: 2, p: 1 }, // im2col + sgemm
  ] as Geom[]) {
    it(`DifflabConv2DAdd B${g.B} ${g.H}x${g.W}x${g.Cin} -> ${g.Cout} s${g.s}: conv + bias + a per-image or per-pixel addend`, () => {
      const Ho = outSize(g.H, g);
      const Wo = outSize(g.W, g);
      const x = values(g.B * g.H * g.W * g.Cin, 21);
      const w = values(g.k * g.k * g.Cin * g.Cout, 22);
      const bias = values(g.Cout, 23);
      const conv = refForward(g, x, w, bias);
      const attrs = { strideHeight: g.s, strideWidth: g.s, padTop: g.p, padLeft: g.p, outHeight: Ho, outWidth: Wo };
      for (const perImage of [true, false]) {
        const shape: [number, number, number, number] = perImage ? [g.B, 1, 1, g.Cout] : [g.B, Ho, Wo, g.Cout];
        const addend = values(shape.reduce((a, b) => a * b, 1), perImage ? 24 : 25);
        const before = tf.memory().numTensors;
        const y = tf.tidy(() =>
          (tf.engine().runKernel(DIFFLAB_KERNELS.conv2dAdd, { x: tf.tensor4d(x, [g.B, g.H, g.W, g.Cin]), filter: tf.tensor4d(w, [g.k, g.k, g.Cin, g.Cout]), bias: tf.tensor1d(bias), addend: tf.tensor4d(addend, shape) }, attrs) as tf.Tensor).dataSync().slice(),
        );
        expect(tf.memory().numTensors).toBe(before);
        const want = conv.map((v, i) => v + addend[perImage ? Math.floor(i / (Ho * Wo * g.Cout)) * g.Cout + (i % g.Cout) : i]);
        expect(maxDiff(y, want), perImage ? 'per image' : 'per pixel').toBeLessThan(1e-4);
      }
      expect(() =>
        tf.tidy(() => tf.engine().runKernel(DIFFLAB_KERNELS.conv2dAdd, { x: tf.tensor4d(x, [g.B, g.H, g.W, g.Cin]), filter: tf.tensor4d(w, [g.k, g.k, g.Cin, g.Cout]), bias: tf.tensor1d(bias), addend: tf.zeros([g.B, Ho, 1, g.Cout]) }, attrs)),
      ).toThrow(new RegExp(`^DifflabConv2DAdd: addend must be \\[${g.B}, 1, 1, ${g.Cout}\\] or \\[${g.B}, ${Ho}, ${Wo}, ${g.Cout}\\], got \\[${g.B},${Ho},1,${g.Cout}\\]$`));
    });
  }

  it('gives one thread\'s bits on two threads (dW summed in fixed blocks; the direct loops\' rows from a shared counter)', () => {
    const g: Geom = { B: 16, H: 16, W: 16, Cin: 32, Cout: 64, k: 3, s: 1, p: 1 };
    const xs: [number, number, number, number] = [g.B, g.H, g.W, g.Cin];
    const x = values(g.B * g.H * g.W * g.Cin, 11);
    const w = values(9 * g.Cin * g.Cout, 12);
    const dy = values(g.B * g.H * g.W * g.Cout, 13);
    const run = (t: number) =>
      onThreads(t, () => {
        const common = { strideHeight: 1, strideWidth: 1, padTop: 1, padLeft: 1 };
        const dyt = tf.tensor4d(dy, [g.B, g.H, g.W, g.Cout]);
        return [
          tf.conv2d(tf.tensor4d(x, xs), tf.tensor4d(w, [3, 3, g.Cin, g.Cout]), 1, 1),
          tf.engine().runKernel(DIFFLAB_KERNELS.conv2dFilterGrad, { x: tf.tensor4d(x, xs), dy: dyt }, { ...common, filterHeight: 3, filterWidth: 3 }) as tf.Tensor,
          tf.engine().runKernel(DIFFLAB_KERNELS.conv2dInputGrad, { dy: dyt, filter: tf.tensor4d(w, [3, 3, g.Cin, g.Cout]) }, { ...common, inputShape: xs } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      });
    const one = run(1);
    const two = run(2);
    // im2col + sgemm (no AVX-512) cuts y and dx into sgemm calls where the images split, and
    // OpenBLAS rounds a row differently by its place in a call: only dW is pinned there
    const pinned = (blas as NonNullable<typeof blas>).info().directConv ? [0, 1, 2] : [1];
    for (const i of pinned) {
      let differ = 0;
      for (let j = 0; j < one[i].length; j++) if (!Object.is(one[i][j], two[i][j])) differ++;
      expect(differ, ['y', 'dw', 'dx'][i]).toBe(0);
    }
    expect(maxDiff(two[1], refGrads(g, x, w, dy).dw)).toBeLessThan(2e-3);
  });

  it('refuses operands outside the heap with a one-line RangeError', () => {
    const heap = new Float32Array(30);
    expect(() => blas?.conv2d(heap, 0, 1, 4, 4, 2, 0, 3, 3, 2, 1, 1, 1, 1, 4, 4, 0, -1, 0, -1, 0)).toThrow(/difflab-blas conv2d: an operand lies outside the heap/);
    // a per-pixel addend of 32 values at offset 40 of a 60-value heap
    expect(() => blas?.conv2d(new Float32Array(60), 0, 1, 4, 4, 1, 16, 1, 1, 2, 1, 1, 0, 0, 4, 4, 20, -1, 0, 40, 2)).toThrow(/conv2d: an operand lies outside/);
    expect(() => blas?.conv2d(new Float32Array(100), 0, 1, 2, 2, 1, 4, 1, 1, 1, 1, 1, 0, 0, 2, 2, 8, -1, 0, 12, 3)).toThrow(/^difflab-blas conv2d: addMode must be 0 \(none\), 1 \(per image\) or 2 \(per pixel\)$/);
    expect(() => blas?.convFilterGrad(heap, 0, 1, 4, 4, 2, 0, 4, 4, 2, 3, 3, 1, 1, 1, 1, 40)).toThrow(/convFilterGrad: an operand lies outside/);
    expect(() => blas?.convInputGrad(heap, 0, 1, 4, 4, 2, 0, 3, 3, 2, 1, 1, 1, 1, 4, 4, 40)).toThrow(/convInputGrad: an operand lies outside/);
  });
});
