/**
 * `DifflabConv2DFilterGrad` for tfjs-backend-webgpu: the filter gradient of a 2-D convolution,
 *
 *   dW[kh, kw, ci, co] = sum over b, oh, ow of x[b, oh sh + kh - padTop, ow sw + kw - padLeft, ci] dy[b, oh, ow, co]
 *
 * (x NHWC, zero outside, dy [B, Ho, Wo, Cout], dW [KH, KW, Cin, Cout]), as a split-K implicit GEMM.
 *
 * Why: @difflab/models writes this gradient as a forward convolution of x^T with dy^T as the
 * filter. tfjs-webgpu runs that as an implicit GEMM over the small output (M = KH KW Cin rows,
 * N = Cout columns) with the whole K = B Ho Wo (65,536 for the bench's UNet at batch 64) in
 * each workgroup's loop: a few dozen workgroups on a GPU with 132 multiprocessors. On an H100
 * those 21 convolutions took ~60 of the UNet step's ~81 ms of device time (tools/bench/RESULTS.md,
 * session 6), against 2.5 ms for the 21 forward convolutions.
 *
 * Here the K range is split into S chunks, one workgroup per (32 x 32 output tile, chunk), so
 * there are ~512 workgroups whatever the shape; each writes its partial tile to an [S, M, N]
 * buffer, and a second program sums the S partials in a fixed order (deterministic, unlike an
 * atomic split-K). The rows of the virtual A = im2col(x)^T are gathered on the fly (no im2col
 * buffer): 32 consecutive invocations load 32 consecutive rows, i.e. consecutive input channels.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { ElementwiseProgram, type WebGpuBackendLike } from './webgpu-program.js';

export interface Conv2DFilterGradAttrs {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** Output tile (rows and columns) and K step of the GEMM program. */
const TILE = 32;
/** Workgroups aimed at (several waves on a large GPU). */
const TARGET_WORKGROUPS = 512;
/** Fewest K tiles a workgroup loops over (below this the partial sums cost more than they save). */
const MIN_K_TILES = 4;

export interface SplitPlan {
  M: number;
  N: number;
  K: number;
  /** K tiles (of TILE) per chunk. */
  tilesPerSplit: number;
  /** Number of chunks. */
  splits: number;
}

/** How the K = B Ho Wo range is split for an [M, N] output. */
export function planFilterGrad(M: number, N: number, K: number): SplitPlan {
  const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE);
  const kTiles = Math.max(1, Math.ceil(K / TILE));
  const wantSplits = Math.max(1, Math.ceil(TARGET_WORKGROUPS / tiles));
  const tilesPerSplit = Math.min(kTiles, Math.max(MIN_K_TILES, Math.ceil(kTiles / wantSplits)));
  return { M, N, K, tilesPerSplit, splits: Math.ceil(kTiles / tilesPerSplit) };
}

const GEMM_UNIFORMS =
  'H : i32, W : i32, Cin : i32, Ho : i32, Wo : i32, Cout : i32, KW : i32, strideH : i32, strideW : i32, padT : i32, padL : i32, M : i32, K : i32, tilesPerSplit : i32,';

/** Partial products [S, M, N]: workgroup (n tile, m tile, chunk). */
class FilterGradGemmProgram {
  readonly variableNames = ['X', 'DY'];
  readonly uniforms = GEMM_UNIFORMS;
  readonly workgroupSize: [number, number, number] = [8, 8, 1];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'difflab_conv2d_filter_grad_gemm';
  readonly outputShape: number[];
  constructor(plan: SplitPlan) {
    this.outputShape = [plan.splits, plan.M, plan.N];
    this.dispatch = [Math.ceil(plan.N / TILE), Math.ceil(plan.M / TILE), plan.splits];
  }
  getUserCode(): string {
    // 64 invocations, each a 4 x 4 block of the 32 x 32 tile; As / Bs hold one K step [k][m] / [k][n].
    return `
      var<workgroup> As : array<f32, ${TILE * TILE}>;
      var<workgroup> Bs : array<f32, ${TILE * TILE}>;

      fn loadA(r : i32, q : i32, kEnd : i32) -> f32 {
        if (r >= uniforms.M || q >= kEnd) { return 0.0; }
        let ow = q % uniforms.Wo;
        let t = q / uniforms.Wo;
        let oh = t % uniforms.Ho;
        let b = t / uniforms.Ho;
        let ci = r % uniforms.Cin;
        let t2 = r / uniforms.Cin;
        let kw = t2 % uniforms.KW;
        let kh = t2 / uniforms.KW;
        let ih = oh * uniforms.strideH + kh - uniforms.padT;
        let iw = ow * uniforms.strideW + kw - uniforms.padL;
        if (ih < 0 || ih >= uniforms.H || iw < 0 || iw >= uniforms.W) { return 0.0; }
        return X[((b * uniforms.H + ih) * uniforms.W + iw) * uniforms.Cin + ci];
      }

      fn loadB(q : i32, c : i32, kEnd : i32) -> f32 {
        if (q >= kEnd || c >= uniforms.Cout) { return 0.0; }
        return DY[q * uniforms.Cout + c];
      }

      ${'fn main()'} {
        let tileN = i32(workgroupId.x) * ${TILE};
        let tileM = i32(workgroupId.y) * ${TILE};
        let split = i32(workgroupId.z);
        let kStart = split * uniforms.tilesPerSplit * ${TILE};
        let kEnd = min(kStart + uniforms.tilesPerSplit * ${TILE}, uniforms.K);
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let lid = i32(localIndex);
        var acc : array<vec4<f32>, 4>;
        for (var t = 0; t < uniforms.tilesPerSplit; t++) {
          let k0 = kStart + t * ${TILE};
          for (var i = 0; i < ${(TILE * TILE) / 64}; i++) {
            let idx = lid + i * 64;
            let kk = idx / ${TILE};
            let mm = idx % ${TILE};
            As[idx] = loadA(tileM + mm, k0 + kk, kEnd);
            Bs[idx] = loadB(k0 + kk, tileN + mm, kEnd);
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${TILE}; kk++) {
            let a = kk * ${TILE} + ty * 4;
            let bv = vec4<f32>(Bs[kk * ${TILE} + tx * 4], Bs[kk * ${TILE} + tx * 4 + 1], Bs[kk * ${TILE} + tx * 4 + 2], Bs[kk * ${TILE} + tx * 4 + 3]);
            acc[0] = fma(vec4<f32>(As[a]), bv, acc[0]);
            acc[1] = fma(vec4<f32>(As[a + 1]), bv, acc[1]);
            acc[2] = fma(vec4<f32>(As[a + 2]), bv, acc[2]);
            acc[3] = fma(vec4<f32>(As[a + 3]), bv, acc[3]);
          }
          workgroupBarrier();
        }
        let base = split * uniforms.M * uniforms.Cout;
        for (var i = 0; i < 4; i++) {
          let r = tileM + ty * 4 + i;
          for (var j = 0; j < 4; j++) {
            let c = tileN + tx * 4 + j;
            if (r < uniforms.M && c < uniforms.Cout) {
              setOutputAtIndex(base + r * uniforms.Cout + c, acc[i][j]);
            }
          }
        }
      }`;
  }
}

export function conv2dFilterGradKernel(): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as Conv2DFilterGradAttrs;
    const [B, H, W, Cin] = x.shape as number[];
    const [, Ho, Wo, Cout] = dy.shape as number[];
    const M = a.filterHeight * a.filterWidth * Cin;
    const plan = planFilterGrad(M, Cout, B * Ho * Wo);
    const b = backend as unknown as WebGpuBackendLike;
    const i32 = (v: number) => ({ type: 'int32' as const, data: [v] });
    const partial = b.runWebGPUProgram(new FilterGradGemmProgram(plan), [x, dy], 'float32', [
      i32(H),
      i32(W),
      i32(Cin),
      i32(Ho),
      i32(Wo),
      i32(Cout),
      i32(a.filterWidth),
      i32(a.strideHeight),
      i32(a.strideWidth),
      i32(a.padTop),
      i32(a.padLeft),
      i32(M),
      i32(plan.K),
      i32(plan.tilesPerSplit),
    ]);
    const outShape = [a.filterHeight, a.filterWidth, Cin, Cout];
    // dW = the sum of the S partials, in order
    const sum = 'var s = 0.0; for (var k = 0; k < uniforms.splits; k++) { s = s + P[k * uniforms.size + index]; } setOutputAtIndex(index, s);';
    const out = b.runWebGPUProgram(new ElementwiseProgram(['P'], 'difflab_conv2d_filter_grad_sum', 'splits : i32,', outShape, sum), [partial], 'float32', [i32(plan.splits)]);
    b.disposeData(partial.dataId);
    return out;
  };
  return { kernelName: DIFFLAB_KERNELS.conv2dFilterGrad, backendName: 'webgpu', kernelFunc };
}
