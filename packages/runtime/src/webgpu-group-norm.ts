/**
 * `DifflabGroupNorm` / `DifflabGroupNormGrad` for tfjs-backend-webgpu: GroupNorm over x [B, M, C]
 * (M = H W, C channels in G groups of Cg = C / G; statistics per sample and group over M Cg values)
 * with its affine, and its gradient, in 1 and 2-3 programs instead of ~24 and ~25 ops.
 *
 * Why: the conv UNet's training step on WebGPU is bound by the host's cost per dispatch (tens of
 * µs through Dawn, tools/bench/RESULTS.md), and its 14 GroupNorms, written as tfjs ops, were ~700
 * of the step's ~1,100 programs.
 *
 * - forward {x, gamma, beta} attrs {groups, eps} -> [y, stats]: one workgroup per (b, g), two
 *   passes over the group (mean, then the centred variance) -> stats [B, G, 2] = (mean, rstd =
 *   1 / sqrt(var + eps)), then a third writing y = (x - mean) rstd gamma + beta: one program with
 *   two outputs (`webgpu-multi.ts`).
 * - backward {dy, x, stats, gamma} attrs {groups} -> [dx, dgamma, dbeta], with xhat = (x - mean) rstd,
 *   gd = dy gamma, n = M Cg: one workgroup per (b, g) sums s1 = sum gd, s2 = sum gd xhat, then
 *   writes dx = rstd (gd - s1 / n - xhat s2 / n) over its group; dgamma = sum_{b, m} dy xhat and
 *   dbeta = sum_{b, m} dy in one program of column sums where the B M rows are at most 8,192
 *   (a layer norm's rows), else as per-chunk partials and one program summing them in a fixed
 *   order (deterministic) into both.
 * - A layer norm's geometry (M = 1, G = 1: @difflab/models' layerNorm on this backend) takes
 *   workgroups of 64 (its rows are short), a UNet's groups 256.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { MultiOutputProgram, workgroupsFor } from './webgpu-multi.js';
import { COLUMN_SUM_MAX_ROWS, columnSumProgram, type WebGpuBackendLike } from './webgpu-program.js';


/** Invocations a workgroup: a (b, g) group of a UNet, a layer norm's row. */
const REDUCE = 256;
const LN_REDUCE = 64;
const i32 = (v: number) => ({ type: 'int32' as const, data: [v] });
const f32 = (v: number) => ({ type: 'float32' as const, data: [v] });

/** WGSL: the flat index of element j (of n = M Cg) of group g of sample b. */
const GROUP_INDEX = `
  fn groupIndex(b : i32, g : i32, j : i32) -> i32 {
    let m = j / uniforms.Cg;
    return (b * uniforms.M + m) * uniforms.C + g * uniforms.Cg + (j - m * uniforms.Cg);
  }`;

/** WGSL: tree sum of arr[0 .. wg) in workgroup memory (all invocations call it; lid in scope). */
function treeSum(arr: string, wg: number): string {
  return `
    workgroupBarrier();
    for (var k = ${wg / 2}; k > 0; k = k >> 1u) {
      if (lid < k) { ${arr}[lid] = ${arr}[lid] + ${arr}[lid + k]; }
      workgroupBarrier();
    }`;
}

/** Per-channel partial sums of dy xhat and dy over a chunk of the B M rows: [R, 2, C]. */
class ChannelPartialsProgram {
  readonly variableNames = ['DY', 'X', 'S'];
  readonly uniforms = 'M : i32, C : i32, Cg : i32, G : i32, rows : i32, rowsPerSplit : i32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'difflab_group_norm_channel_partials';
  readonly outputShape: number[];
  constructor(C: number, splits: number) {
    this.outputShape = [splits, 2, C];
    this.dispatch = [Math.ceil(C / 64), splits, 1];
  }
  getUserCode(): string {
    return `
      fn main() {
        let c = i32(workgroupId.x) * 64 + i32(localIndex);
        let split = i32(workgroupId.y);
        if (c < uniforms.C) {
          let r0 = split * uniforms.rowsPerSplit;
          let r1 = min(r0 + uniforms.rowsPerSplit, uniforms.rows);
          let g = c / uniforms.Cg;
          var dg = 0.0;
          var db = 0.0;
          for (var r = r0; r < r1; r++) {
            let bg = (r / uniforms.M) * uniforms.G + g;
            let d = DY[r * uniforms.C + c];
            dg = dg + d * ((X[r * uniforms.C + c] - S[bg * 2]) * S[bg * 2 + 1]);
            db = db + d;
          }
          setOutputAtIndex((split * 2) * uniforms.C + c, dg);
          setOutputAtIndex((split * 2 + 1) * uniforms.C + c, db);
        }
      }`;
  }
}

const DIMS = 'M : i32, C : i32, Cg : i32, G : i32,';

function dims(x: TensorInfo, groups: number) {
  const [B, M, C] = x.shape as number[];
  if (x.shape.length !== 3) throw new RangeError(`DifflabGroupNorm expects x of shape [B, M, C], got [${x.shape}]`);
  if (C % groups !== 0) throw new RangeError(`DifflabGroupNorm: ${C} channels are not divisible into ${groups} groups`);
  return { B, M, C, G: groups, Cg: C / groups, uniforms: [i32(M), i32(C), i32(C / groups), i32(groups)] };
}

/** Row splits for the per-channel sums: ~256 workgroups, at least 32 rows each. */
export function channelSplits(rows: number, C: number): { splits: number; rowsPerSplit: number } {
  const want = Math.max(1, Math.ceil(256 / Math.ceil(C / 64)));
  const rowsPerSplit = Math.max(32, Math.ceil(rows / want));
  return { splits: Math.ceil(rows / rowsPerSplit), rowsPerSplit };
}

/**
 * The forward in one program, one workgroup of `wg` invocations per (b, g): mean, then the centred
 * variance (two passes, as the composite computes them), then y over the group; the stats written
 * by the first invocation. 256 invocations for a UNet's groups, 64 for a layer norm's rows.
 */
function forwardProgram(wg: number): MultiOutputProgram {
  return new MultiOutputProgram(
    `difflab_group_norm_${wg}`,
    ['Y', 'STATS'],
    ['X', 'GAMMA', 'BETA'],
    `${DIMS} eps : f32, groups : i32,`,
    wg,
    `
    if (group >= uniforms.groups) { return; }
    let b = group / uniforms.G;
    let g = group - b * uniforms.G;
    let n = uniforms.M * uniforms.Cg;
    var s = 0.0;
    for (var j = lid; j < n; j = j + ${wg}) { s = s + X[groupIndex(b, g, j)]; }
    red[lid] = s;
    ${treeSum('red', wg)}
    let mean = red[0] / f32(n);
    var q = 0.0;
    for (var j = lid; j < n; j = j + ${wg}) { let v = X[groupIndex(b, g, j)] - mean; q = q + v * v; }
    red2[lid] = q;
    ${treeSum('red2', wg)}
    let rstd = inverseSqrt(red2[0] / f32(n) + uniforms.eps);
    if (lid == 0) {
      STATS[group * 2] = mean;
      STATS[group * 2 + 1] = rstd;
    }
    for (var j = lid; j < n; j = j + ${wg}) {
      let i = groupIndex(b, g, j);
      let c = i % uniforms.C;
      Y[i] = (X[i] - mean) * rstd * GAMMA[c] + BETA[c];
    }`,
    `var<workgroup> red : array<f32, ${wg}>;\nvar<workgroup> red2 : array<f32, ${wg}>;\n${GROUP_INDEX}`,
  );
}

/** dx in one program, a workgroup per (b, g): the group's sums s1, s2, then its dx. */
function dxProgram(wg: number): MultiOutputProgram {
  return new MultiOutputProgram(
    `difflab_group_norm_grad_dx_${wg}`,
    ['DX'],
    ['DY', 'X', 'S', 'GAMMA'],
    `${DIMS} groups : i32,`,
    wg,
    `
    if (group >= uniforms.groups) { return; }
    let b = group / uniforms.G;
    let g = group - b * uniforms.G;
    let n = uniforms.M * uniforms.Cg;
    let mean = S[group * 2];
    let rstd = S[group * 2 + 1];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var j = lid; j < n; j = j + ${wg}) {
      let i = groupIndex(b, g, j);
      let gd = DY[i] * GAMMA[i % uniforms.C];
      s1 = s1 + gd;
      s2 = s2 + gd * ((X[i] - mean) * rstd);
    }
    red[lid] = s1;
    red2[lid] = s2;
    ${treeSum('red', wg)}
    ${treeSum('red2', wg)}
    let nf = f32(n);
    for (var j = lid; j < n; j = j + ${wg}) {
      let i = groupIndex(b, g, j);
      let xhat = (X[i] - mean) * rstd;
      DX[i] = rstd * ((DY[i] * GAMMA[i % uniforms.C] - red[0] / nf) - xhat * (red2[0] / nf));
    }`,
    `var<workgroup> red : array<f32, ${wg}>;\nvar<workgroup> red2 : array<f32, ${wg}>;\n${GROUP_INDEX}`,
  );
}

const FORWARD = { group: forwardProgram(REDUCE), row: forwardProgram(LN_REDUCE) };
const DX = { group: dxProgram(REDUCE), row: dxProgram(LN_REDUCE) };

/** dgamma and dbeta as column sums over the B M rows (<= COLUMN_SUM_MAX_ROWS), one program. */
const AFFINE_COLUMNS = columnSumProgram(
  'difflab_group_norm_grad_affine_columns',
  [
    { name: 'DGAMMA', value: 'DY[i] * ((X[i] - S[((r / uniforms.M) * uniforms.G + c / uniforms.Cg) * 2]) * S[((r / uniforms.M) * uniforms.G + c / uniforms.Cg) * 2 + 1])' },
    { name: 'DBETA', value: 'DY[i]' },
  ],
  ['DY', 'X', 'S'],
  DIMS,
);

/** dgamma and dbeta from the per-chunk partials [R, 2, C], summed in chunk order. */
const AFFINE_TOTALS = new MultiOutputProgram(
  'difflab_group_norm_grad_affine_totals',
  ['DGAMMA', 'DBETA'],
  ['P'],
  'C : i32, splits : i32,',
  64,
  `
    if (index < uniforms.C) {
      var sg = 0.0;
      var sb = 0.0;
      for (var k = 0; k < uniforms.splits; k++) {
        sg = sg + P[(k * 2) * uniforms.C + index];
        sb = sb + P[(k * 2 + 1) * uniforms.C + index];
      }
      DGAMMA[index] = sg;
      DBETA[index] = sb;
    }`,
);

export function groupNormKernels(): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { groups, eps } = attrs as unknown as { groups: number; eps: number };
    const d = dims(x, groups);
    const program = d.M === 1 && d.G === 1 ? FORWARD.row : FORWARD.group;
    return program.run(backend, [x.shape as number[], [d.B, d.G, 2]], [x, gamma, beta], [...d.uniforms, f32(eps), i32(d.B * d.G)], d.B * d.G);
  };
  const backward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, x, stats, gamma } = inputs as { dy: TensorInfo; x: TensorInfo; stats: TensorInfo; gamma: TensorInfo };
    const { groups } = attrs as unknown as { groups: number };
    const d = dims(x, groups);
    const [dx] = (d.M === 1 && d.G === 1 ? DX.row : DX.group).run(backend, [x.shape as number[]], [dy, x, stats, gamma], [...d.uniforms, i32(d.B * d.G)], d.B * d.G);
    const rows = d.B * d.M;
    if (rows <= COLUMN_SUM_MAX_ROWS) {
      const [dgamma, dbeta] = AFFINE_COLUMNS.run(backend, [[d.C], [d.C]], [dy, x, stats], [...d.uniforms, i32(rows), i32(d.C)], workgroupsFor(d.C, 16));
      return [dx, dgamma, dbeta];
    }
    const b = backend as unknown as WebGpuBackendLike;
    const plan = channelSplits(rows, d.C);
    const partials = b.runWebGPUProgram(new ChannelPartialsProgram(d.C, plan.splits), [dy, x, stats], 'float32', [...d.uniforms, i32(rows), i32(plan.rowsPerSplit)]);
    const [dgamma, dbeta] = AFFINE_TOTALS.run(backend, [[d.C], [d.C]], [partials], [i32(d.C), i32(plan.splits)], workgroupsFor(d.C, 64));
    b.disposeData(partials.dataId);
    return [dx, dgamma, dbeta];
  };
  return [
    { kernelName: DIFFLAB_KERNELS.groupNorm, backendName: 'webgpu', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.groupNormGrad, backendName: 'webgpu', kernelFunc: backward },
  ];
}
