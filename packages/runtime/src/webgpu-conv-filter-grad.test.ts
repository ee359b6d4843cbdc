import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { startBackend } from './start-backend.js';
import { hasSwiftShader, lcgValues, SWIFTSHADER_SKIP_REASON } from './testing/swiftshader.js';
import { planFilterGrad } from './webgpu-conv-filter-grad.js';

interface Geometry {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

/** The defining sum, in float64: dW[i, j, ci, co] = sum_{b, oh, ow} x[b, oh sh + i - pt, ow sw + j - pl, ci] dy[b, oh, ow, co]. */
function reference(x: number[], xs: number[], dy: number[], ys: number[], g: Geometry): number[] {
  const [B, H, W, Cin] = xs;
  const [, Ho, Wo, Cout] = ys;
  const out = new Array(g.kh * g.kw * Cin * Cout).fill(0);
  for (let kh = 0; kh < g.kh; kh++)
    for (let kw = 0; kw < g.kw; kw++)
      for (let ci = 0; ci < Cin; ci++)
        for (let co = 0; co < Cout; co++) {
          let acc = 0;
          for (let b = 0; b < B; b++)
            for (let oh = 0; oh < Ho; oh++)
              for (let ow = 0; ow < Wo; ow++) {
                const ih = oh * g.sh + kh - g.pt;
                const iw = ow * g.sw + kw - g.pl;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[((b * H + ih) * W + iw) * Cin + ci] * dy[((b * Ho + oh) * Wo + ow) * Cout + co];
              }
          out[((kh * g.kw + kw) * Cin + ci) * Cout + co] = acc;
        }
  return out;
}

afterAll(async () => {
  await startBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

describe('planFilterGrad (split-K plan)', () => {
  it('covers K exactly once with no empty chunk, and gives >= 512 workgroups when K allows', () => {
    // The bench UNet's filter gradients at batch 64 (32x32 and 16x16 levels), and a wide layer.
    for (const [M, N, K] of [
      [9, 32, 65536],
      [288, 32, 65536],
      [288, 64, 16384],
      [576, 64, 16384],
      [32, 64, 16384],
      [288, 1, 65536],
      [4608, 512, 4096],
      [27, 5, 72],
    ]) {
      const p = planFilterGrad(M, N, K);
      const tiles = Math.ceil(M / 32) * Math.ceil(N / 32);
      expect(p.splits * p.tilesPerSplit * 32).toBeGreaterThanOrEqual(K);
      expect((p.splits - 1) * p.tilesPerSplit * 32).toBeLessThan(K);
      expect(p.tilesPerSplit).toBeGreaterThanOrEqual(Math.min(4, Math.ceil(K / 32)));
      if (K >= 512 * 4 * 32) expect(p.splits * tiles).toBeGreaterThanOrEqual(512);
      if (tiles >= 512) expect(p.splits).toBe(1);
    }
  });
});

describe('DifflabConv2DFilterGrad on webgpu (Dawn + SwiftShader)', () => {
  const sq = (k: number, s: number, p: number): Geometry => ({ kh: k, kw: k, sh: s, sw: s, pt: p, pl: p });
  const cases = [
    { name: '3x3 stride 1 pad 1, one chunk', B: 2, H: 6, W: 6, Cin: 3, Cout: 5, g: sq(3, 1, 1) },
    { name: '3x3 stride 1 pad 1, 8 chunks with a partial last one, 2x2 tiles', B: 4, H: 15, W: 15, Cin: 4, Cout: 40, g: sq(3, 1, 1) },
    { name: '3x3 stride 2 pad 1, odd size (a downsampling conv)', B: 3, H: 9, W: 7, Cin: 6, Cout: 8, g: sq(3, 2, 1) },
    { name: '1x1 pad 0, 33 input channels (two row tiles)', B: 2, H: 5, W: 6, Cin: 33, Cout: 7, g: sq(1, 1, 0) },
    { name: '3x3 pad 1, one input and one output channel', B: 8, H: 12, W: 12, Cin: 1, Cout: 1, g: sq(3, 1, 1) },
    { name: '3x3 pad 0 (valid)', B: 2, H: 7, W: 6, Cin: 2, Cout: 3, g: sq(3, 1, 0) },
    { name: '3x2 filter, strides 2 / 1, pads 1 / 0', B: 2, H: 8, W: 7, Cin: 3, Cout: 4, g: { kh: 3, kw: 2, sh: 2, sw: 1, pt: 1, pl: 0 } },
  ];
  for (const c of cases) {
    it(`${c.name}: equals the defining sum within 1e-5 relative, and frees its partials`, async (ctx) => {
      ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
      await startBackend('webgpu');
      const { g } = c;
      const Ho = Math.floor((c.H + 2 * g.pt - g.kh) / g.sh) + 1;
      const Wo = Math.floor((c.W + 2 * g.pl - g.kw) / g.sw) + 1;
      const xs = [c.B, c.H, c.W, c.Cin];
      const ys = [c.B, Ho, Wo, c.Cout];
      const x = lcgValues(xs.reduce((a, b) => a * b), 11);
      const dy = lcgValues(ys.reduce((a, b) => a * b), 12);
      const xt = tf.tensor4d(x, xs as [number, number, number, number]);
      const dyt = tf.tensor4d(dy, ys as [number, number, number, number]);
      const backend = tf.engine().backend as unknown as { numDataIds(): number };
      const tensors = tf.memory().numTensors;
      const dataIds = backend.numDataIds();
      const attrs = { filterHeight: g.kh, filterWidth: g.kw, strideHeight: g.sh, strideWidth: g.sw, padTop: g.pt, padLeft: g.pl };
      const dw = tf.engine().runKernel(DIFFLAB_KERNELS.conv2dFilterGrad, { x: xt, dy: dyt }, attrs) as tf.Tensor;
      expect(dw.shape).toEqual([g.kh, g.kw, c.Cin, c.Cout]);
      const got = Array.from(await dw.data());
      dw.dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backend.numDataIds()).toBe(dataIds);
      tf.dispose([xt, dyt]);
      const want = reference(x, xs, dy, ys, g);
      const scale = Math.max(...want.map(Math.abs));
      const err = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
      expect(err / scale).toBeLessThan(1e-5);
    });
  }
});
