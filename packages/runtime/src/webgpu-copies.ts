/**
 * `SplitV` and `Concat` for tfjs-backend-webgpu (4.22) as buffer copies where every piece is one
 * contiguous range of the whole (the split / concat axis has only size-1 axes before it: a flat
 * vector, or rows of a matrix), float32 or int32, every input already on the GPU. tfjs-webgpu runs
 * a slice program per piece for SplitV and a program per ~7 inputs for Concat; here each piece is a
 * `copyBufferToBuffer` in the backend's command encoder, in order with its programs.
 *
 * Why: on a GPU the step is bound by the host's cost per program (40-80 us through Dawn on
 * session 10's H200, tools/bench/RESULTS.md), and a training step ends with the optimizer's
 * concat of the ~60-90 gradients into one flat vector and its split back into the variables
 * (`@difflab/training`'s Adam): ~75 programs of the patch transformer's 270. A copy command costs
 * the host a few microseconds.
 *
 * The copies follow tfjs-webgpu's own (`copyBuffer`, `readToGPU`): the compute pass is ended
 * first, and the source and destination ids join `commandQueueOwnedIds`, so that a tensor disposed
 * before the queue is submitted keeps its buffer until then. Anything else goes to tfjs-webgpu's
 * kernel (kept as the fallback).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

/** What the copies use of tfjs-backend-webgpu's backend (checked before registering). */
interface WebGpuInternals {
  tensorMap: { get(dataId: object): { resource: unknown } | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBufferLike };
  commandEncoder: { copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void } | null;
  commandQueueOwnedIds: { add(dataId: object): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  makeTensorInfo(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
}

interface GpuBufferLike {
  size: number;
  usage: number;
  mapState?: string;
}

/** Whether `backend` has what the copies use (another tfjs-webgpu version may not). */
export function hasCopyInternals(backend: unknown): boolean {
  const b = backend as Partial<WebGpuInternals> | null;
  return (
    !!b &&
    typeof b.tensorMap?.get === 'function' &&
    typeof b.bufferManager?.acquireBuffer === 'function' &&
    typeof b.ensureCommandEncoderReady === 'function' &&
    typeof b.endComputePassEncoder === 'function' &&
    typeof b.makeTensorInfo === 'function' &&
    typeof b.commandQueueOwnedIds?.add === 'function'
  );
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The GPU buffer holding `t`, or null (values only on the CPU, a texture, another dtype). A tensor
 * read back keeps its buffer, its values cached beside it.
 */
function gpuBuffer(b: WebGpuInternals, t: TensorInfo): GpuBufferLike | null {
  if (t.dtype !== 'float32' && t.dtype !== 'int32') return null;
  const r = b.tensorMap.get(t.dataId)?.resource as GpuBufferLike | null | undefined;
  return r && typeof r.size === 'number' && typeof r.usage === 'number' ? r : null;
}

/** New tensors of `shapes`, each filled by copying 4 size bytes from `src` at the next offset (or into `dst` pieces). */
function copyPieces(b: WebGpuInternals, pieces: { src: GpuBufferLike; srcOffset: number; dst: GpuBufferLike; dstOffset: number; bytes: number }[], owned: object[]): void {
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  for (const p of pieces) b.commandEncoder!.copyBufferToBuffer(p.src, p.srcOffset, p.dst, p.dstOffset, p.bytes);
  for (const id of owned) b.commandQueueOwnedIds.add(id);
}

/** A tensor of `shape` with a fresh buffer of the usage of `like` (what tfjs-webgpu's tensors get). */
function newTensor(b: WebGpuInternals, shape: number[], dtype: 'float32' | 'int32', like: GpuBufferLike): { info: TensorInfo; buffer: GpuBufferLike } {
  const info = b.makeTensorInfo(shape, dtype);
  const buffer = b.bufferManager.acquireBuffer(4 * size(shape), like.usage);
  (b.tensorMap.get(info.dataId) as { resource: unknown }).resource = buffer;
  return { info, buffer };
}

function splitVKernel(fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const b = args.backend as unknown as WebGpuInternals;
    const src = gpuBuffer(b, x);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const dim = x.shape[ax];
    const sizes = Array.isArray(numOrSizeSplits) ? [...numOrSizeSplits] : new Array(numOrSizeSplits).fill(dim / numOrSizeSplits);
    const free = sizes.indexOf(-1);
    if (free >= 0) sizes[free] = dim - sizes.reduce((a, s, i) => (i === free ? a : a + s), 0);
    const contiguous = size(x.shape.slice(0, ax)) === 1;
    if (!src || !contiguous || sizes.some((s) => !Number.isInteger(s) || s <= 0) || sizes.reduce((a, s) => a + s, 0) !== dim) return fallback.kernelFunc(args);
    const inner = size(x.shape.slice(ax + 1));
    const dtype = x.dtype as 'float32' | 'int32';
    let offset = 0;
    const outs: TensorInfo[] = [];
    const pieces = sizes.map((s) => {
      const shape = [...x.shape];
      shape[ax] = s;
      const { info, buffer } = newTensor(b, shape, dtype, src);
      outs.push(info);
      const piece = { src, srcOffset: 4 * offset, dst: buffer, dstOffset: 0, bytes: 4 * s * inner };
      offset += s * inner;
      return piece;
    });
    copyPieces(b, pieces, [x.dataId, ...outs.map((o) => o.dataId)]);
    return outs;
  };
  return { kernelName: tf.SplitV, backendName: 'webgpu', kernelFunc };
}

function concatKernel(fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    const { axis } = args.attrs as unknown as { axis: number };
    const b = args.backend as unknown as WebGpuInternals;
    if (inputs.length < 2) return fallback.kernelFunc(args);
    const first = inputs[0];
    const ax = tf.util.parseAxisParam(axis, first.shape)[0];
    const srcs = inputs.map((t) => gpuBuffer(b, t));
    const sameRest = inputs.every((t) => t.dtype === first.dtype && t.shape.length === first.shape.length && t.shape.every((d, i) => i === ax || d === first.shape[i]));
    const contiguous = size(first.shape.slice(0, ax)) === 1;
    if (srcs.some((s) => !s) || !sameRest || !contiguous || inputs.some((t) => size(t.shape) === 0)) return fallback.kernelFunc(args);
    const shape = [...first.shape];
    shape[ax] = inputs.reduce((a, t) => a + t.shape[ax], 0);
    const { info, buffer } = newTensor(b, shape, first.dtype as 'float32' | 'int32', srcs[0]!);
    let offset = 0;
    const pieces = inputs.map((t, i) => {
      const bytes = 4 * size(t.shape);
      const piece = { src: srcs[i]!, srcOffset: 0, dst: buffer, dstOffset: offset, bytes };
      offset += bytes;
      return piece;
    });
    copyPieces(b, pieces, [info.dataId, ...inputs.map((t) => t.dataId)]);
    return info;
  };
  return { kernelName: tf.Concat, backendName: 'webgpu', kernelFunc };
}

/** The copy kernels, each with tfjs-webgpu's kernel of its name as its fallback (none where that is missing). */
export function copyKernels(previous: (name: string) => KernelConfig | undefined): KernelConfig[] {
  const split = previous(tf.SplitV);
  const concat = previous(tf.Concat);
  return [...(split ? [splitVKernel(split)] : []), ...(concat ? [concatKernel(concat)] : [])];
}
