/**
 * Programs with several outputs for tfjs-backend-webgpu (4.22), whose own programs write one:
 * a kernel that returns [y, stats] or [p', m', v'] otherwise runs one program per output, each
 * recomputing what the others computed. On a GPU the training step is bound by the host's cost
 * per program (40-80 us through Dawn on session 10's H200, tools/bench/RESULTS.md), so difflab's
 * multi-output kernels (Adam, GELU, group / layer norm, attention) run one program for all.
 *
 * How: the WGSL is difflab's own (tfjs-webgpu's shader generator declares only the first output
 * writable): outputs first, bound `read_write`, then the inputs, `read`, then tfjs' uniform
 * struct. The program is then recorded by the backend's own `recordAndSubmit`, the outputs after
 * the first passed as if they were inputs (a binding is a buffer either way), so everything that
 * path does still holds: difflab's cached bind groups and uniforms (webgpu-dispatch.ts) or
 * tfjs's, the queue's ownership of the buffers until the submit, the submit batch, and the
 * timestamp queries of `tf.profile`. Every tensor is bound as a rank-1 view of its buffer, so the
 * uniform struct tfjs builds (NaN, infinity, a shape and strides per binding, then the program's
 * own) is scalars only: `NAN, INFINITY`, two i32 per binding, then the program's fields.
 *
 * The outputs are float32 tensors with buffers from tfjs-webgpu's pool (`uploadToGPU`), as its
 * own programs' outputs get.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

/** What this uses of tfjs-backend-webgpu's backend (checked before difflab's kernels use it). */
interface Internals {
  device: {
    createShaderModule(d: { code: string; label?: string }): unknown;
    createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string }; label?: string }): unknown;
  };
  makeTensorInfo(shape: number[], dtype: 'float32'): TensorInfo;
  uploadToGPU(dataId: object): void;
  recordAndSubmit(program: object, output: TensorInfo, inputs: TensorInfo[], uniforms?: Uniform[]): void;
}

export interface Uniform {
  type: 'float32' | 'int32';
  data: number[];
}

/** Whether `backend` has what multi-output programs use (another tfjs-webgpu version may not). */
export function hasMultiOutputInternals(backend: unknown): boolean {
  const b = backend as Partial<Internals> | null;
  return (
    !!b &&
    typeof b.device?.createShaderModule === 'function' &&
    typeof b.device?.createComputePipeline === 'function' &&
    typeof b.makeTensorInfo === 'function' &&
    typeof b.uploadToGPU === 'function' &&
    typeof b.recordAndSubmit === 'function'
  );
}

/** The most workgroups in one dimension; past it they spread over y. */
const MAX_GROUPS_X = 65535;

/** What `recordAndSubmit` reads of a program (tfjs names it by its class, in `tf.profile`'s timers). */
class DifflabMultiOutputProgram {
  constructor(
    readonly pipeline: unknown,
    readonly dispatch: [number, number, number],
    readonly outputShape: number[],
  ) {}
}

const pipelines = new WeakMap<object, Map<string, unknown>>();

/**
 * One program writing several float32 outputs. `body` is the WGSL of
 * `fn main(index : i32, lid : i32, group : i32)`: `group` the workgroup's flat index, `lid` the
 * invocation's index in it, `index = group * workgroupSize + lid`; it reads the inputs and writes
 * the outputs by their names (`Y[i] = v;`), and the uniforms as `uniforms.<field>`. The WGSL is
 * built and compiled once per device and `key`: the same key must always come with the same
 * names, fields, workgroup size, prelude and body.
 */
export class MultiOutputProgram {
  constructor(
    readonly key: string,
    readonly outputs: readonly string[],
    readonly inputs: readonly string[],
    /** The program's uniform fields, scalars only, in the order of the data passed to `run`: 'rows : i32, eps : f32,'. */
    readonly uniforms: string,
    readonly workgroupSize: number,
    readonly body: string,
    /** Module-scope WGSL: functions and workgroup arrays the body uses. */
    readonly prelude = '',
  ) {
    if (outputs.length < 1) throw new Error(`${key}: a program needs an output`);
  }

  /** The whole shader. */
  wgsl(): string {
    const bound = [...this.outputs.slice(1), ...this.inputs];
    const fields = ['NAN : f32', 'INFINITY : f32', ...bound.flatMap((_, i) => [`b${i}Shape : i32`, `b${i}ShapeStrides : i32`]), 'outShape : i32', 'outShapeStrides : i32'];
    const own = this.uniforms
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    const decl = (name: string, binding: number, access: string) => `@group(0) @binding(${binding}) var<storage, ${access}> ${name} : array<f32>;`;
    const names = [...this.outputs, ...this.inputs];
    return [
      `struct Uniforms { ${[...fields, ...own].join(', ')}, };`,
      ...this.outputs.map((n, i) => decl(n, i, 'read_write')),
      ...this.inputs.map((n, i) => decl(n, this.outputs.length + i, 'read')),
      `@group(0) @binding(${names.length}) var<uniform> uniforms : Uniforms;`,
      this.prelude,
      `fn main(index : i32, lid : i32, group : i32) {\n${this.body}\n}`,
      `@compute @workgroup_size(${this.workgroupSize}, 1, 1)`,
      'fn _start(@builtin(local_invocation_index) li : u32, @builtin(workgroup_id) wid : vec3<u32>, @builtin(num_workgroups) nw : vec3<u32>) {',
      // every binding statically used, so that the 'auto' layout has all the bindings recorded
      ...names.map((n) => `  _ = arrayLength(&${n});`),
      '  _ = uniforms.NAN;',
      `  let group = i32(wid.y * nw.x + wid.x);`,
      `  main(group * ${this.workgroupSize} + i32(li), i32(li), group);`,
      '}',
    ].join('\n');
  }

  /**
   * Record the program on `backend` (tfjs-webgpu's, `hasMultiOutputInternals`) over `workgroups`
   * workgroups: new float32 tensors of `shapes` (one per output, in order) written from `inputs`.
   */
  run(backend: unknown, shapes: number[][], inputs: TensorInfo[], uniforms: Uniform[], workgroups: number): TensorInfo[] {
    const b = backend as Internals;
    if (shapes.length !== this.outputs.length || inputs.length !== this.inputs.length) {
      throw new Error(`${this.key}: ${this.outputs.length} outputs and ${this.inputs.length} inputs expected, got ${shapes.length} and ${inputs.length}`);
    }
    for (const t of inputs) if (size(t.shape) === 0) throw new Error(`${this.key}: empty input [${t.shape}]`);
    if (shapes.some((s) => size(s) === 0)) throw new Error(`${this.key}: empty output [${shapes.find((s) => size(s) === 0)}]`);
    const outs = shapes.map((s) => {
      const t = b.makeTensorInfo(s, 'float32');
      b.uploadToGPU(t.dataId);
      return t;
    });
    for (const t of inputs) b.uploadToGPU(t.dataId);
    const dispatch: [number, number, number] = workgroups <= MAX_GROUPS_X ? [workgroups, 1, 1] : [MAX_GROUPS_X, Math.ceil(workgroups / MAX_GROUPS_X), 1];
    const program = new DifflabMultiOutputProgram(this.pipeline(b), dispatch, [size(shapes[0])]);
    const [first, ...rest] = [...outs, ...inputs].map(flatView);
    b.recordAndSubmit(program, first, rest, uniforms);
    return outs;
  }

  private pipeline(b: Internals): unknown {
    let cache = pipelines.get(b.device);
    if (!cache) {
      cache = new Map();
      pipelines.set(b.device, cache);
    }
    let p = cache.get(this.key);
    if (!p) {
      const module = b.device.createShaderModule({ code: this.wgsl(), label: this.key });
      p = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: '_start' }, label: this.key });
      cache.set(this.key, p);
    }
    return p;
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The tensor as a rank-1 view of its buffer (its uniforms then two scalars). */
function flatView(t: TensorInfo): TensorInfo {
  return { dataId: t.dataId, shape: [size(t.shape)], dtype: t.dtype };
}

/** Workgroups of `workgroupSize` for `invocations`. */
export function workgroupsFor(invocations: number, workgroupSize: number): number {
  return Math.ceil(invocations / workgroupSize);
}
