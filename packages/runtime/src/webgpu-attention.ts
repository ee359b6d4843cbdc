/**
 * `DifflabAttention` / `DifflabAttentionGrad` (contracts in @difflab/core's DIFFLAB_KERNELS) for
 * tfjs-backend-webgpu: multi-head self-attention on the fused qkv projection [B N, 3 W] (columns
 * (3, heads, d)), heads read in place. Op by op (`qkvHeads`, `attention`, `mergeHeads` of
 * @difflab/models) a block's attention is ~17 programs forward (the weight and bias splits, three
 * projections, three head transposes, the scale, two batched matmuls, the softmax, the merge) and
 * ~25 backward; on a GPU each program costs 40-80 us of host time (tools/bench/RESULTS.md), far
 * more than this arithmetic at a patch transformer's sizes (N = 49 tokens, d = 32). Here:
 *
 * - forward, 1 program (two outputs, `webgpu-multi.ts`), one invocation per (sample, head, query)
 *   row: its weights softmax(q k^T s) (s = 1 / sqrt(d) in float32, applied to q as the composite
 *   does), then its head's slice of out = weights v;
 * - backward, 2 programs: ds = s w (dw - sum_m dw w) with dw = dy v^T, per row; then dqkv, one
 *   invocation per value: dq = ds k, dk = ds^T q, dv = w^T dy.
 *
 * The score rows are recomputed (3 passes forward, 2 backward) rather than kept: N d multiply-adds
 * a pass, a few microseconds of GPU time at these sizes.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { MultiOutputProgram, workgroupsFor } from './webgpu-multi.js';
import { ElementwiseProgram, RowProgram, type WebGpuBackendLike } from './webgpu-program.js';

interface Dims {
  B: number;
  N: number;
  heads: number;
  d: number;
  W: number;
}

/** Checks qkv [B N, 3 W] against attrs { batch, heads } (one-line errors naming what is wrong). */
function dims(name: string, qkv: TensorInfo, attrs: { batch: number; heads: number }): Dims {
  const { batch: B, heads } = attrs;
  if (qkv?.dtype !== 'float32' || qkv.shape.length !== 2) throw new Error(`${name}: qkv must be float32 [B N, 3 W], got ${qkv ? `${qkv.dtype} [${qkv.shape}]` : 'none'}`);
  const [rows, cols] = qkv.shape as [number, number];
  if (!Number.isInteger(B) || B < 1 || rows % B !== 0) throw new Error(`${name}: batch must divide qkv's ${rows} rows, got ${B}`);
  if (!Number.isInteger(heads) || heads < 1 || cols % (3 * heads) !== 0) throw new Error(`${name}: qkv's ${cols} columns must be 3 heads d, got heads ${heads}`);
  const W = cols / 3;
  return { B, N: rows / B, heads, d: W / heads, W };
}

const UNIFORMS = 'N : i32, heads : i32, d : i32, W : i32, scale : f32,';
const uniformData = (g: Dims) => [
  { type: 'int32' as const, data: [g.N] },
  { type: 'int32' as const, data: [g.heads] },
  { type: 'int32' as const, data: [g.d] },
  { type: 'int32' as const, data: [g.W] },
  { type: 'float32' as const, data: [1 / Math.sqrt(g.d)] },
];

/** WGSL: row = (b heads + h) N + n; b, h, n and the offsets of q row n and of head h in qkv. */
const ROW = `
  let N = uniforms.N;
  let d = uniforms.d;
  let W = uniforms.W;
  let bh = index / N;
  let n = index - bh * N;
  let b = bh / uniforms.heads;
  let h = bh - b * uniforms.heads;
  let hd = h * d;`;

/** WGSL: the score of (query n, key m), q scaled first as the composite scales it. */
const SCORE = `
  fn difflabScore(qOff : i32, kOff : i32, d : i32) -> f32 {
    var s = 0.0;
    for (var j = 0; j < d; j++) { s = s + (QKV[qOff + j] * uniforms.scale) * QKV[kOff + j]; }
    return s;
  }`;

/**
 * The forward, a (sample, head, query) row an invocation: the row's weights (the scores' max, the
 * exponentials' sum, then the weights, written to WT), then out[b N + n, h d + j] = sum_m w[m]
 * v[b N + m, h d + j] from the weights just written (summed in the order of m).
 */
const FORWARD = new MultiOutputProgram(
  'difflab_attention',
  ['OUT', 'WT'],
  ['QKV'],
  `${UNIFORMS} rows : i32,`,
  64,
  `if (index < uniforms.rows) {
    ${ROW}
    let qOff = (b * N + n) * 3 * W + hd;
    var mx = -3.402823e38;
    for (var m = 0; m < N; m++) { mx = max(mx, difflabScore(qOff, (b * N + m) * 3 * W + W + hd, d)); }
    var sum = 0.0;
    for (var m = 0; m < N; m++) { sum = sum + exp(difflabScore(qOff, (b * N + m) * 3 * W + W + hd, d) - mx); }
    let wOff = index * N;
    for (var m = 0; m < N; m++) { WT[wOff + m] = exp(difflabScore(qOff, (b * N + m) * 3 * W + W + hd, d) - mx) / sum; }
    for (var j = 0; j < d; j++) {
      var s = 0.0;
      for (var m = 0; m < N; m++) { s = s + WT[wOff + m] * QKV[(b * N + m) * 3 * W + 2 * W + hd + j]; }
      OUT[(b * N + n) * W + hd + j] = s;
    }
  }`,
  SCORE,
);

export function attentionKernels(): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { qkv } = inputs as { qkv: TensorInfo };
    const g = dims(DIFFLAB_KERNELS.attention, qkv, attrs as unknown as { batch: number; heads: number });
    const rows = g.B * g.heads * g.N;
    return FORWARD.run(backend, [[g.B * g.N, g.W], [g.B * g.heads, g.N, g.N]], [qkv], [...uniformData(g), { type: 'int32', data: [rows] }], workgroupsFor(rows, 64));
  };
  const backward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, qkv, weights } = inputs as { dy: TensorInfo; qkv: TensorInfo; weights: TensorInfo };
    const name = DIFFLAB_KERNELS.attentionGrad;
    const g = dims(name, qkv, attrs as unknown as { batch: number; heads: number });
    if (dy?.shape.join() !== [g.B * g.N, g.W].join()) throw new Error(`${name}: dy must be [${g.B * g.N}, ${g.W}], got ${dy ? `[${dy.shape}]` : 'none'}`);
    if (weights?.shape.join() !== [g.B * g.heads, g.N, g.N].join()) throw new Error(`${name}: weights must be [${g.B * g.heads}, ${g.N}, ${g.N}], got ${weights ? `[${weights.shape}]` : 'none'}`);
    const b = backend as unknown as WebGpuBackendLike;
    const rows = g.B * g.heads * g.N;
    // ds[row, m] = s w[row, m] (dw[m] - sum_m' dw[m'] w[row, m']), dw[m] = dy[b N + n, h d ..] . v[b N + m, h d ..]
    const dsBody = `${ROW}
      let dyOff = (b * N + n) * W + hd;
      let wOff = index * N;
      var rs = 0.0;
      for (var m = 0; m < N; m++) {
        let vOff = (b * N + m) * 3 * W + 2 * W + hd;
        var dw = 0.0;
        for (var j = 0; j < d; j++) { dw = dw + DY[dyOff + j] * QKV[vOff + j]; }
        rs = rs + dw * WT[wOff + m];
      }
      for (var m = 0; m < N; m++) {
        let vOff = (b * N + m) * 3 * W + 2 * W + hd;
        var dw = 0.0;
        for (var j = 0; j < d; j++) { dw = dw + DY[dyOff + j] * QKV[vOff + j]; }
        setOutputAtIndex(wOff + m, (WT[wOff + m] * (dw - rs)) * uniforms.scale);
      }`;
    const ds = b.runWebGPUProgram(new RowProgram(['DY', 'QKV', 'WT'], 'difflab_attention_ds', UNIFORMS, [g.B * g.heads, g.N, g.N], rows, dsBody), [dy, qkv, weights], 'float32', [
      ...uniformData(g),
      { type: 'int32', data: [rows] },
    ]);
    // dqkv [B N, 3 W]: value (b N + n, s W + h d + j)
    const dBody = `
      let N = uniforms.N;
      let W = uniforms.W;
      let r = index / (3 * W);
      let col = index - r * 3 * W;
      let part = col / W;
      let c = col - part * W;
      let h = c / uniforms.d;
      let b = r / N;
      let n = r - b * N;
      let bh = b * uniforms.heads + h;
      var acc = 0.0;
      if (part == 0) {
        for (var m = 0; m < N; m++) { acc = acc + DS[(bh * N + n) * N + m] * QKV[(b * N + m) * 3 * W + W + c]; }
      } else if (part == 1) {
        for (var i = 0; i < N; i++) { acc = acc + DS[(bh * N + i) * N + n] * QKV[(b * N + i) * 3 * W + c]; }
      } else {
        for (var i = 0; i < N; i++) { acc = acc + WT[(bh * N + i) * N + n] * DY[(b * N + i) * W + c]; }
      }
      setOutputAtIndex(index, acc);`;
    const dqkv = b.runWebGPUProgram(new ElementwiseProgram(['DS', 'QKV', 'WT', 'DY'], 'difflab_attention_dqkv', UNIFORMS, [g.B * g.N, 3 * g.W], dBody), [ds, qkv, weights, dy], 'float32', uniformData(g));
    b.disposeData(ds.dataId);
    return dqkv;
  };
  return [
    { kernelName: DIFFLAB_KERNELS.attention, backendName: 'webgpu', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.attentionGrad, backendName: 'webgpu', kernelFunc: backward },
  ];
}
