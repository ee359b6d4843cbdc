/**
 * `DifflabGroupNorm` / `DifflabGroupNormGrad` for tfjs-backend-webgpu: GroupNorm over x [B, M, C]
 * (M = H W, C channels in G groups of Cg = C / G; statistics per sample and group over M Cg values)
 * with its affine, and its gradient, in 2 and 5 programs instead of ~24 and ~25 ops.
 *
 * Why: the conv UNet's training step on WebGPU is bound by the host's cost per dispatch (tens of
 * µs through Dawn, tools/bench/RESULTS.md), and its 14 GroupNorms, written as tfjs ops, were ~700
 * of the step's ~1,100 programs.
 *
 * - forward {x, gamma, beta} attrs {groups, eps} -> [y, stats]: a reduction program, one
 *   workgroup per (b, g), two passes over the group (mean, then the centred variance) ->
 *   stats [B, G, 2] = (mean, rstd = 1 / sqrt(var + eps)); then y = (x - mean) rstd gamma + beta.
 * - backward {dy, x, stats, gamma} attrs {groups} -> [dx, dgamma, dbeta], with xhat = (x - mean) rstd,
 *   gd = dy gamma, n = M Cg: per (b, g) sums s1 = sum gd, s2 = sum gd xhat; dx = rstd (gd - s1 / n
 *   - xhat s2 / n); dgamma = sum_{b, m} dy xhat and dbeta = sum_{b, m} dy as per-chunk partials
 *   summed in a fixed order (deterministic). In a layer norm's geometry (M = 1, G = 1, up to
 *   8,192 rows: @difflab/models' layerNorm on this backend) 3 programs: dx a row an invocation,
 *   dgamma and dbeta as column sums.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { COLUMN_SUM_MAX_ROWS, ColumnSumProgram, ElementwiseProgram, RowProgram, type WebGpuBackendLike } from './webgpu-program.js';


const REDUCE = 256;
const i32 = (v: number) => ({ type: 'int32' as const, data: [v] });
const f32 = (v: number) => ({ type: 'float32' as const, data: [v] });

/** WGSL: the flat index of element j (of n = M Cg) of group g of sample b. */
const GROUP_INDEX = `
  fn groupIndex(b : i32, g : i32, j : i32) -> i32 {
    let m = j / uniforms.Cg;
    return (b * uniforms.M + m) * uniforms.C + g * uniforms.Cg + (j - m * uniforms.Cg);
  }`;

/** WGSL: tree sum of red[0 .. REDUCE) in workgroup memory (all invocations call it). */
function treeSum(arr: string): string {
  return `
    workgroupBarrier();
    for (var k = ${REDUCE / 2}; k > 0; k = k >> 1u) {
      if (lid < k) { ${arr}[lid] = ${arr}[lid] + ${arr}[lid + k]; }
      workgroupBarrier();
    }`;
}

/** One workgroup of REDUCE invocations per (b, g); `body` runs with b, g, lid, n in scope. */
class GroupReduceProgram {
  readonly workgroupSize: [number, number, number] = [REDUCE, 1, 1];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly outputShape: number[];
  constructor(
    readonly variableNames: string[],
    readonly shaderKey: string,
    readonly uniforms: string,
    B: number,
    G: number,
    private readonly body: string,
  ) {
    this.outputShape = [B, G, 2];
    this.dispatch = [B * G, 1, 1];
  }
  getUserCode(): string {
    return `
      var<workgroup> red : array<f32, ${REDUCE}>;
      var<workgroup> red2 : array<f32, ${REDUCE}>;
      ${GROUP_INDEX}
      fn main() {
        let row = i32(workgroupId.x);
        let b = row / uniforms.G;
        let g = row - b * uniforms.G;
        let lid = i32(localIndex);
        let n = uniforms.M * uniforms.Cg;
        ${this.body}
      }`;
  }
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
 * The gradient in a layer norm's geometry (x [rows, 1, C], one group: @difflab/models' layerNorm
 * on this backend) in 3 programs instead of 5: dx a row an invocation (its two row sums, then the
 * row), dgamma and dbeta as column sums over the rows.
 */
function layerNormGeometryGrad(b: WebGpuBackendLike, d: ReturnType<typeof dims>, dy: TensorInfo, x: TensorInfo, stats: TensorInfo, gamma: TensorInfo): TensorInfo[] {
  const dxBody = `
    let base = index * uniforms.C;
    let mean = S[index * 2];
    let rstd = S[index * 2 + 1];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var c = 0; c < uniforms.C; c++) {
      let gd = DY[base + c] * GAMMA[c];
      s1 = s1 + gd;
      s2 = s2 + gd * ((X[base + c] - mean) * rstd);
    }
    let n = f32(uniforms.C);
    for (var c = 0; c < uniforms.C; c++) {
      let xhat = (X[base + c] - mean) * rstd;
      setOutputAtIndex(base + c, rstd * ((DY[base + c] * GAMMA[c] - s1 / n) - xhat * (s2 / n)));
    }`;
  const rows = d.B;
  const dx = b.runWebGPUProgram(new RowProgram(['DY', 'X', 'S', 'GAMMA'], 'difflab_layer_norm_grad_dx', DIMS, x.shape as number[], rows, dxBody), [dy, x, stats, gamma], 'float32', [...d.uniforms, i32(rows)]);
  const sums = [i32(rows), i32(d.C)];
  const dgamma = b.runWebGPUProgram(new ColumnSumProgram(['DY', 'X', 'S'], 'difflab_layer_norm_grad_dgamma', [d.C], d.C, 'DY[i] * ((X[i] - S[r * 2]) * S[r * 2 + 1])'), [dy, x, stats], 'float32', sums);
  const dbeta = b.runWebGPUProgram(new ColumnSumProgram(['DY'], 'difflab_layer_norm_grad_dbeta', [d.C], d.C, 'DY[i]'), [dy], 'float32', sums);
  return [dx, dgamma, dbeta];
}

export function groupNormKernels(): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { groups, eps } = attrs as unknown as { groups: number; eps: number };
    const d = dims(x, groups);
    const b = backend as unknown as WebGpuBackendLike;
    const statsBody = `
      var s = 0.0;
      for (var j = lid; j < n; j = j + ${REDUCE}) { s = s + X[groupIndex(b, g, j)]; }
      red[lid] = s;
      ${treeSum('red')}
      let mean = red[0] / f32(n);
      var q = 0.0;
      for (var j = lid; j < n; j = j + ${REDUCE}) { let v = X[groupIndex(b, g, j)] - mean; q = q + v * v; }
      red2[lid] = q;
      ${treeSum('red2')}
      if (lid == 0) {
        setOutputAtIndex(row * 2, mean);
        setOutputAtIndex(row * 2 + 1, inverseSqrt(red2[0] / f32(n) + uniforms.eps));
      }`;
    const stats = b.runWebGPUProgram(new GroupReduceProgram(['X'], 'difflab_group_norm_stats', `${DIMS} eps : f32,`, d.B, d.G, statsBody), [x], 'float32', [...d.uniforms, f32(eps)]);
    const affine = `
      let c = index % uniforms.C;
      let bg = (index / (uniforms.M * uniforms.C)) * uniforms.G + c / uniforms.Cg;
      setOutputAtIndex(index, (X[index] - S[bg * 2]) * S[bg * 2 + 1] * GAMMA[c] + BETA[c]);`;
    const y = b.runWebGPUProgram(new ElementwiseProgram(['X', 'S', 'GAMMA', 'BETA'], 'difflab_group_norm_affine', DIMS, x.shape as number[], affine), [x, stats, gamma, beta], 'float32', d.uniforms);
    return [y, stats];
  };
  const backward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, x, stats, gamma } = inputs as { dy: TensorInfo; x: TensorInfo; stats: TensorInfo; gamma: TensorInfo };
    const { groups } = attrs as unknown as { groups: number };
    const d = dims(x, groups);
    const b = backend as unknown as WebGpuBackendLike;
    if (d.M === 1 && d.G === 1 && d.B <= COLUMN_SUM_MAX_ROWS) return layerNormGeometryGrad(b, d, dy, x, stats, gamma);
    const sumsBody = `
      let mean = S[row * 2];
      let rstd = S[row * 2 + 1];
      var s1 = 0.0;
      var s2 = 0.0;
      for (var j = lid; j < n; j = j + ${REDUCE}) {
        let i = groupIndex(b, g, j);
        let gd = DY[i] * GAMMA[g * uniforms.Cg + (j % uniforms.Cg)];
        s1 = s1 + gd;
        s2 = s2 + gd * ((X[i] - mean) * rstd);
      }
      red[lid] = s1;
      red2[lid] = s2;
      ${treeSum('red')}
      ${treeSum('red2')}
      if (lid == 0) {
        setOutputAtIndex(row * 2, red[0]);
        setOutputAtIndex(row * 2 + 1, red2[0]);
      }`;
    const sums = b.runWebGPUProgram(new GroupReduceProgram(['DY', 'X', 'S', 'GAMMA'], 'difflab_group_norm_grad_sums', DIMS, d.B, d.G, sumsBody), [dy, x, stats, gamma], 'float32', d.uniforms);
    const dxBody = `
      let c = index % uniforms.C;
      let bg = (index / (uniforms.M * uniforms.C)) * uniforms.G + c / uniforms.Cg;
      let rstd = S[bg * 2 + 1];
      let xhat = (X[index] - S[bg * 2]) * rstd;
      let n = f32(uniforms.M * uniforms.Cg);
      setOutputAtIndex(index, rstd * ((DY[index] * GAMMA[c] - R[bg * 2] / n) - xhat * (R[bg * 2 + 1] / n)));`;
    const dx = b.runWebGPUProgram(new ElementwiseProgram(['DY', 'X', 'S', 'GAMMA', 'R'], 'difflab_group_norm_grad_dx', DIMS, x.shape as number[], dxBody), [dy, x, stats, gamma, sums], 'float32', d.uniforms);
    b.disposeData(sums.dataId);
    const rows = d.B * d.M;
    const plan = channelSplits(rows, d.C);
    const partials = b.runWebGPUProgram(new ChannelPartialsProgram(d.C, plan.splits), [dy, x, stats], 'float32', [...d.uniforms, i32(rows), i32(plan.rowsPerSplit)]);
    const sumBody = `
      var s = 0.0;
      for (var k = 0; k < uniforms.splits; k++) { s = s + P[(k * 2 + uniforms.which) * uniforms.size + index]; }
      setOutputAtIndex(index, s);`;
    const total = (which: number) =>
      b.runWebGPUProgram(new ElementwiseProgram(['P'], 'difflab_group_norm_grad_affine', 'splits : i32, which : i32,', [d.C], sumBody), [partials], 'float32', [i32(plan.splits), i32(which)]);
    const dgamma = total(0);
    const dbeta = total(1);
    b.disposeData(partials.dataId);
    return [dx, dgamma, dbeta];
  };
  return [
    { kernelName: DIFFLAB_KERNELS.groupNorm, backendName: 'webgpu', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.groupNormGrad, backendName: 'webgpu', kernelFunc: backward },
  ];
}
