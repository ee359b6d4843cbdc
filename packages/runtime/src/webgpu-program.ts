/**
 * What difflab's WGSL kernels (webgpu-kernels.ts, webgpu-group-norm.ts,
 * webgpu-conv-filter-grad.ts, webgpu-attention.ts) use of tfjs-backend-webgpu 4.22: its program
 * runner, and flat programs with one invocation per output value or per row.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

export interface WebGpuBackendLike {
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: 'float32', uniforms?: { type: 'float32' | 'int32'; data: number[] }[]): TensorInfo;
  disposeData(dataId: object): void;
}

/**
 * One invocation per value of an output of `outputShape`; `body` runs with `index` (< the `size`
 * uniform tfjs adds) in scope. Past 65,535 workgroups in x the rest spread over y.
 */
export class ElementwiseProgram {
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  constructor(
    readonly variableNames: string[],
    readonly shaderKey: string,
    readonly uniforms: string,
    readonly outputShape: number[],
    private readonly body: string,
  ) {
    const groups = Math.ceil(outputShape.reduce((a, b) => a * b, 1) / 64);
    this.dispatch = groups <= 65535 ? [groups, 1, 1] : [65535, Math.ceil(groups / 65535), 1];
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${this.body}
        }
      }`;
  }
}

/**
 * One invocation per row: `rows` invocations (`index` < the `rows` uniform, which the caller passes
 * last), each writing any values of an output of `outputShape` (a whole row, say); `prelude`:
 * WGSL functions the body calls. Past 65,535 workgroups in x the rest spread over y.
 */
export class RowProgram {
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly uniforms: string;
  constructor(
    readonly variableNames: string[],
    readonly shaderKey: string,
    uniforms: string,
    readonly outputShape: number[],
    rows: number,
    private readonly body: string,
    private readonly prelude = '',
  ) {
    this.uniforms = `${uniforms} rows : i32,`;
    const groups = Math.ceil(rows / 64);
    this.dispatch = groups <= 65535 ? [groups, 1, 1] : [65535, Math.ceil(groups / 65535), 1];
  }
  getUserCode(): string {
    return `${this.prelude}
      fn main(index : i32) {
        if (index < uniforms.rows) {
          ${this.body}
        }
      }`;
  }
}
