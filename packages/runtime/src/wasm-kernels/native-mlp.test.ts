import { DIFFLAB_KERNELS, erf64 } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { NATIVE_SKIP_REASON, onThreads, useNativeKernels, values } from '../testing/native.js';

/** max |got - want| / max(1, max |want|): errors relative to the tensor's scale. */
function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  return d / scale;
}

// DifflabResidualMlp / DifflabResidualMlpGrad on difflab-blas (native/mlp.c) against a float64
// forward pass written from the definition (h_0 = act(x W_0 + b_0), h_l = h_{l-1} + act(h_{l-1}
// W_l + b_l), y = h_K W_{K+1} + b_{K+1}) and its gradient against central finite differences of
// that float64 pass, for a scalar loss sum(y * r) with fixed r.

type Act = 'gelu' | 'silu' | 'relu';
const ACTS: Record<Act, (z: number) => number> = {
  gelu: (z) => 0.5 * z * (1 + erf64(z / Math.SQRT2)),
  silu: (z) => z / (1 + Math.exp(-z)),
  relu: (z) => Math.max(z, 0),
};

interface Net {
  N: number;
  D0: number;
  H: number;
  Dout: number;
  K: number;
  act: Act;
}

/** float64 forward pass; params = [W_0, b_0, .., W_{K+1}, b_{K+1}] as flat arrays. */
function refForward(net: Net, x: ArrayLike<number>, params: ArrayLike<number>[]): Float64Array {
  const { N, D0, H, Dout, K } = net;
  const f = ACTS[net.act];
  const affine = (inp: ArrayLike<number>, din: number, W: ArrayLike<number>, b: ArrayLike<number>, dout: number) => {
    const out = new Float64Array(N * dout);
    for (let r = 0; r < N; r++)
      for (let j = 0; j < dout; j++) {
        let s = b[j];
        for (let i = 0; i < din; i++) s += inp[r * din + i] * W[i * dout + j];
        out[r * dout + j] = s;
      }
    return out;
  };
  let h = affine(x, D0, params[0], params[1], H).map(f);
  for (let l = 1; l <= K; l++) {
    const a = affine(h, H, params[2 * l], params[2 * l + 1], H).map(f);
    h = h.map((v, i) => v + a[i]);
  }
  return affine(h, H, params[2 * K + 2], params[2 * K + 3], Dout);
}

function shapesOf(net: Net): number[][] {
  const out: number[][] = [];
  for (let l = 0; l <= net.K + 1; l++) {
    const din = l === 0 ? net.D0 : net.H;
    const dout = l === net.K + 1 ? net.Dout : net.H;
    out.push([din, dout], [dout]);
  }
  return out;
}

function namedInputs(x: tf.Tensor, params: tf.Tensor[]): Record<string, tf.Tensor> {
  const m: Record<string, tf.Tensor> = { x };
  params.forEach((p, i) => {
    m[`${i % 2 ? 'b' : 'w'}${i >> 1}`] = p;
  });
  return m;
}

describe.skipIf(NATIVE_SKIP_REASON)('native residual MLP kernels on wasm', () => {
  useNativeKernels();

  const nets: Net[] = [
    { N: 7, D0: 5, H: 8, Dout: 2, K: 2, act: 'gelu' },
    { N: 4, D0: 3, H: 6, Dout: 3, K: 0, act: 'silu' },
    { N: 9, D0: 4, H: 5, Dout: 2, K: 3, act: 'relu' },
  ];
  for (const net of nets) {
    for (const inputGrad of [false, true]) {
      it(`${net.act}, ${net.K} blocks, inputGrad ${inputGrad}: y equals the float64 definition; every gradient equals finite differences`, () => {
        const { N, D0, Dout, K } = net;
        const shapes = shapesOf(net);
        const x = values(N * D0, 11, 1.5);
        const params = shapes.map((s, i) => values(s.reduce((a, b) => a * b, 1), 20 + i, 0.7));
        const r = values(N * Dout, 99);
        const before = tf.memory().numTensors;
        const out = tf.tidy(() => {
          const xt = tf.tensor2d(x, [N, D0]);
          const pt = params.map((p, i) => tf.tensor(p, shapes[i]));
          const [y, saved] = tf.engine().runKernel(DIFFLAB_KERNELS.residualMlp, namedInputs(xt, pt), { act: net.act, blocks: K }) as unknown as tf.Tensor[];
          expect(saved.shape).toEqual([K + 1, 3, N, net.H]);
          const ws: Record<string, tf.Tensor> = {};
          pt.forEach((p, i) => {
            if (i % 2 === 0) ws[`w${i >> 1}`] = p;
          });
          const grads = tf.engine().runKernel(DIFFLAB_KERNELS.residualMlpGrad, { dy: tf.tensor2d(r, [N, Dout]), x: xt, saved, ...ws }, { act: net.act, blocks: K, inputGrad }) as unknown as tf.Tensor[];
          return [y, ...grads].map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
        });
        expect(tf.memory().numTensors).toBe(before);
        const [y, ...grads] = out;
        expect(y.shape).toEqual([N, Dout]);
        const want = refForward(net, x, params);
        for (let i = 0; i < want.length; i++) expect(Math.abs(y.data[i] - want[i])).toBeLessThan(2e-5 * Math.max(1, Math.abs(want[i])));

        // d/dp sum(y r) by central differences of the float64 pass, one entry at a time
        const loss = (xs: ArrayLike<number>, ps: ArrayLike<number>[]) => refForward(net, xs, ps).reduce((s, v, i) => s + v * r[i], 0);
        const h = 1e-5;
        const check = (got: Float32Array, base: Float32Array, perturb: (v: Float64Array) => number) => {
          const v = Float64Array.from(base);
          for (let i = 0; i < base.length; i++) {
            v[i] = base[i] + h;
            const up = perturb(v);
            v[i] = base[i] - h;
            const down = perturb(v);
            v[i] = base[i];
            const fd = (up - down) / (2 * h);
            expect(Math.abs(got[i] - fd)).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)));
          }
        };
        expect(grads.length).toBe(shapes.length + (inputGrad ? 1 : 0));
        shapes.forEach((s, p) => {
          expect(grads[p].shape).toEqual(s);
          check(grads[p].data, params[p], (v) => loss(x, params.map((q, j) => (j === p ? v : q))));
        });
        if (inputGrad) {
          expect(grads[shapes.length].shape).toEqual([N, D0]);
          check(grads[shapes.length].data, x, (v) => loss(v, params));
        }
      });
    }
  }

  it('splits large batches over threads: 1 and 2 threads agree with the float64 backward pass written out', () => {
    // 4096 rows of 34K multiply-adds: above native/mlp.c's threshold for two shares (64M multiply-adds each)
    const net: Net = { N: 4096, D0: 5, H: 128, Dout: 2, K: 2, act: 'gelu' };
    const { N, D0, H, Dout, K } = net;
    const shapes = shapesOf(net);
    const x = values(N * D0, 5, 1.5);
    const params = shapes.map((s, i) => values(s.reduce((a, b) => a * b, 1), 40 + i, 0.3));
    const r = values(N * Dout, 77);
    const runWith = (threads: number) =>
      onThreads(threads, () => {
        const xt = tf.tensor2d(x, [N, D0]);
        const pt = params.map((p, i) => tf.tensor(p, shapes[i]));
        const [y, saved] = tf.engine().runKernel(DIFFLAB_KERNELS.residualMlp, namedInputs(xt, pt), { act: 'gelu', blocks: K }) as unknown as tf.Tensor[];
        const ws: Record<string, tf.Tensor> = {};
        pt.forEach((p, i) => {
          if (i % 2 === 0) ws[`w${i >> 1}`] = p;
        });
        const grads = tf.engine().runKernel(DIFFLAB_KERNELS.residualMlpGrad, { dy: tf.tensor2d(r, [N, Dout]), x: xt, saved, ...ws }, { act: 'gelu', blocks: K, inputGrad: true }) as unknown as tf.Tensor[];
        return [y, ...grads];
      });
    const one = runWith(1);
    const two = runWith(2);
    // float64 backward: dh = dy W_out^T; per layer dz = dh act'(z), dW = in^T dz, db = colsum dz, dh += dz W^T
    const f = ACTS.gelu;
    const df = (z: number) => 0.5 * (1 + erf64(z / Math.SQRT2)) + (z * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI);
    const ins: Float64Array[] = [Float64Array.from(x)];
    const zs: Float64Array[] = [];
    for (let l = 0; l <= K; l++) {
      const din = l === 0 ? D0 : H;
      const inp = ins[l];
      const z = new Float64Array(N * H);
      const h = new Float64Array(N * H);
      for (let n = 0; n < N; n++)
        for (let j = 0; j < H; j++) {
          let s = params[2 * l + 1][j];
          for (let i = 0; i < din; i++) s += inp[n * din + i] * params[2 * l][i * H + j];
          z[n * H + j] = s;
          h[n * H + j] = f(s) + (l > 0 ? inp[n * H + j] : 0);
        }
      zs.push(z);
      ins.push(h);
    }
    const want: Float64Array[] = shapes.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)));
    const hK = ins[K + 1];
    let dh = new Float64Array(N * H);
    for (let n = 0; n < N; n++)
      for (let o = 0; o < Dout; o++) {
        const g = r[n * Dout + o];
        want[2 * K + 3][o] += g;
        for (let j = 0; j < H; j++) {
          want[2 * K + 2][j * Dout + o] += hK[n * H + j] * g;
          dh[n * H + j] += g * params[2 * K + 2][j * Dout + o];
        }
      }
    const dx = new Float64Array(N * D0);
    for (let l = K; l >= 0; l--) {
      const din = l === 0 ? D0 : H;
      const dz = zs[l].map((z, i) => dh[i] * df(z));
      const next = l > 0 ? Float64Array.from(dh) : dx;
      for (let n = 0; n < N; n++)
        for (let j = 0; j < H; j++) {
          const g = dz[n * H + j];
          want[2 * l + 1][j] += g;
          for (let i = 0; i < din; i++) {
            want[2 * l][i * H + j] += ins[l][n * din + i] * g;
            next[n * din + i] += g * params[2 * l][i * H + j];
          }
        }
      dh = next;
    }
    const wantY = refForward(net, x, params);
    for (const got of [one, two]) {
      expect(maxRelErr(got[0], wantY)).toBeLessThan(1e-4);
      for (let p = 0; p < want.length; p++) expect(maxRelErr(got[1 + p], want[p]), `param ${p}`).toBeLessThan(1e-4);
      expect(maxRelErr(got[1 + want.length], dx)).toBeLessThan(1e-4);
    }
  });

  it('rejects a weight of the wrong shape and an unknown activation with one-line errors', () => {
    const x = tf.zeros([4, 3]);
    const good = [tf.zeros([3, 5]), tf.zeros([5]), tf.zeros([5, 2]), tf.zeros([2])];
    const run = (ps: tf.Tensor[], act: string, blocks = 0) => () => tf.engine().runKernel(DIFFLAB_KERNELS.residualMlp, namedInputs(x, ps), { act, blocks });
    expect(run([tf.zeros([4, 5]), ...good.slice(1)], 'gelu')).toThrow(/^DifflabResidualMlp: w0 must be float32 \[3,5\], got float32 \[4,5\]$/);
    expect(run(good, 'tanh')).toThrow(/^DifflabResidualMlp: act must be one of gelu, silu, relu, got 'tanh'$/);
    expect(run(good, 'gelu', 1)).toThrow(/^DifflabResidualMlp: 1 blocks need weights w0 .. w2, got w0, w1$/);
    expect(run([...good.slice(0, 3), tf.zeros([3])], 'gelu')).toThrow(/^DifflabResidualMlp: b1 must be float32 \[2\], got float32 \[3\]$/);
    tf.dispose([x, ...good]);
  });
});
