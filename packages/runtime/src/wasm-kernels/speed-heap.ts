/**
 * Shared helpers of the wasm speed kernels: the slice of tfjs-backend-wasm's `BackendWasm` they
 * use, and a strided copy between two views of the wasm heap.
 *
 * tfjs-backend-wasm keeps every tensor in the module's linear memory; `typedArrayFromHeap` gives a
 * view of it without copying. A view is invalidated when the heap grows (any `_malloc`, so any
 * `makeOutput`), so a kernel must allocate its outputs first and take views afterwards.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

export type WasmBackend = BackendWasm;

/** The kernel registered now for `name` on wasm (throws if there is none). */
export function wasmKernel(name: string): KernelConfig {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm speed kernels: no wasm kernel '${name}' is registered (import '@tensorflow/tfjs-backend-wasm' first)`);
  return k;
}

/** Call a kernel function that returns exactly one tensor. */
export function callOne(fn: KernelFunc, inputs: Record<string, TensorInfo>, backend: WasmBackend, attrs: Record<string, unknown> = {}): TensorInfo {
  return fn({ inputs, backend, attrs } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
}

/** Row-major strides of `shape` (the last one is 1). */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * A view of the whole heap in units of the tensor's element size, and the tensor's offset in it
 * (float32 and int32 are moved as raw 32-bit words, bool as bytes).
 */
export function heapWords(backend: WasmBackend, t: TensorInfo): { heap: Int32Array | Uint8Array; offset: number } {
  const byteOffset = backend.dataIdMap.get(t.dataId).memoryOffset;
  const buffer = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
  if (t.dtype === 'bool') return { heap: new Uint8Array(buffer), offset: byteOffset };
  return { heap: new Int32Array(buffer), offset: byteOffset >>> 2 };
}

/**
 * Copy the box `begin` + `size` of `x` (row-major) into the dense tensor `out`, starting at
 * element `outStart` and advancing `outRowStride` elements per run when given (for concat);
 * trailing dimensions taken whole are merged into one contiguous run, and every run is one
 * `copyWithin` (a memmove inside the heap, no allocation). Take no views before calling: this
 * reads the heap after any allocation.
 */
export function copyBox(
  backend: WasmBackend,
  x: TensorInfo,
  begin: readonly number[],
  size: readonly number[],
  out: TensorInfo,
  outStart = 0,
  outRowStride?: number,
): void {
  const shape = x.shape;
  const r = shape.length;
  let n = 1;
  for (let i = 0; i < r; i++) n *= size[i];
  if (n === 0) return;
  const { heap, offset: xOff } = heapWords(backend, x);
  const outOff = heapWords(backend, out).offset + outStart;
  if (r === 0) {
    heap[outOff] = heap[xOff];
    return;
  }
  const strides = stridesOf(shape);
  // k: the outermost dimension of the contiguous run (dims after k are taken whole).
  let k = r - 1;
  while (k > 0 && size[k] === shape[k] && begin[k] === 0) k--;
  const run = size[k] * strides[k];
  const step = outRowStride ?? run;
  let outer = 1;
  for (let d = 0; d < k; d++) outer *= size[d];
  const idx = new Array<number>(k).fill(0);
  let base = xOff + begin[k] * strides[k];
  for (let d = 0; d < k; d++) base += begin[d] * strides[d];
  let o = outOff;
  for (let c = 0; c < outer; c++) {
    if (run < 16) {
      for (let j = 0; j < run; j++) heap[o + j] = heap[base + j];
    } else {
      heap.copyWithin(o, base, base + run);
    }
    o += step;
    // odometer over dims k-1 .. 0
    for (let d = k - 1; d >= 0; d--) {
      idx[d]++;
      base += strides[d];
      if (idx[d] < size[d]) break;
      base -= idx[d] * strides[d];
      idx[d] = 0;
    }
  }
}
