/**
 * What difflab's WGSL kernels (webgpu-kernels.ts, webgpu-group-norm.ts,
 * webgpu-conv-filter-grad.ts, webgpu-attention.ts) use of tfjs-backend-webgpu 4.22: its program
 * runner, flat programs with one invocation per output value or per row, and column sums.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { MultiOutputProgram } from './webgpu-multi.js';

export interface WebGpuBackendLike {
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: 'float32', uniforms?: { type: 'float32' | 'int32'; data: number[] }[]): TensorInfo;
  disposeData(dataId: object): void;
}

/**
 * One invocation per value of an output of `outputShape`; `body` runs with `index` (< the `size`
 * uniform tfjs adds) in scope. Past 65,535 workgroups in x the rest spread over y.
 */
/** Workgroups of 64 for `invocations`: past 65,535 in x the rest spread over y. */
function flatDispatch(invocations: number): [number, number, number] {
  const groups = Math.ceil(invocations / 64);
  return groups <= 65535 ? [groups, 1, 1] : [65535, Math.ceil(groups / 65535), 1];
}

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
    this.dispatch = flatDispatch(outputShape.reduce((a, b) => a * b, 1));
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
    this.dispatch = flatDispatch(rows);
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

/** The most rows `columnSumProgram` is used for (512 a thread); more go to tfjs' transpose + reduction. */
export const COLUMN_SUM_MAX_ROWS = 8192;

/**
 * Column sums, one program: for each of `sums`, out[c] = sum over r < rows of value(r, c) for
 * c < cols (rows, cols: uniforms the caller passes, in that order, after its own `uniforms`).
 * A workgroup of 256 invocations takes 16 adjacent columns (so a row's 16 reads are contiguous),
 * 16 invocations a column each summing every 16th row, then a tree sum over the 16 in workgroup
 * memory; `value` is a WGSL expression in r, c and i = r cols + c. Run it over
 * `workgroupsFor(cols, 16)` workgroups.
 */
export function columnSumProgram(key: string, sums: { name: string; value: string }[], inputs: string[], uniforms = ''): MultiOutputProgram {
  const k = sums.map((_, j) => j);
  return new MultiOutputProgram(
    key,
    sums.map((s) => s.name),
    inputs,
    `${uniforms} rows : i32, cols : i32,`,
    256,
    `
    let tx = lid % 16;
    let ty = lid / 16;
    let c = group * 16 + tx;
    ${k.map((j) => `var s${j} = 0.0;`).join(' ')}
    if (c < uniforms.cols) {
      for (var r = ty; r < uniforms.rows; r = r + 16) {
        let i = r * uniforms.cols + c;
        ${sums.map((s, j) => `s${j} = s${j} + ${s.value};`).join('\n        ')}
      }
    }
    ${k.map((j) => `red${j}[lid] = s${j};`).join(' ')}
    workgroupBarrier();
    for (var k = 8; k > 0; k = k >> 1u) {
      if (ty < k) { ${k.map((j) => `red${j}[lid] = red${j}[lid] + red${j}[lid + k * 16];`).join(' ')} }
      workgroupBarrier();
    }
    if (ty == 0 && c < uniforms.cols) { ${sums.map((s, j) => `${s.name}[c] = red${j}[lid];`).join(' ')} }`,
    k.map((j) => `var<workgroup> red${j} : array<f32, 256>;`).join('\n'),
  );
}
