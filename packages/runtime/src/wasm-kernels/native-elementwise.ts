/**
 * Element-wise kernels for tfjs-backend-wasm in Node on difflab-blas's vector math
 * (native/vmath.c, compiled with -march=native: 8 or 16 float lanes where WebAssembly SIMD has 4):
 * Sin, Cos, and difflab's fused `DifflabGelu` / `DifflabGeluGrad` and `DifflabSilu` /
 * `DifflabSiluGrad` (contracts in @difflab/core's DIFFLAB_KERNELS). Same algorithms as the
 * WebAssembly SIMD module (simd-math.ts) the first four replace.
 * Non-float32 inputs go to the kernel registered before.
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';
import { blockSumPlan, blockSwap, sumAxes } from './speed-reduce.js';

const OP = { sin: 0, cos: 1, gelu: 2, geluGrad: 3, silu: 4, siluGrad: 5 } as const;
const off = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;

function sameShapes(name: string, ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== 'float32') throw new Error(`${name}: float32 inputs only, got ${t.dtype}`);
    if (t.shape.length !== ts[0].shape.length || t.shape.some((d, i) => d !== ts[0].shape[i])) {
      throw new Error(`${name}: input shapes differ ([${ts[0].shape}] and [${t.shape}])`);
    }
  }
}

/** Sin or Cos on the vector math; `fallback` for non-float32 input. */
export function makeNativeUnary(name: typeof tf.Sin | typeof tf.Cos, blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const op = name === tf.Sin ? OP.sin : OP.cos;
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return fallback.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const y = backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) blas.elementwise(heapF32(backend), op, n, off(backend, x), off(backend, y), 0, 0);
    return y;
  };
  return { kernelName: name, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/** `DifflabGelu` and `DifflabGeluGrad` on the vector math. */
export function makeNativeGelu(blas: NativeBlas): KernelConfig[] {
  const gelu: KernelFunc = ({ inputs, backend: b }) => {
    const { x } = inputs as { x: TensorInfo };
    sameShapes(DIFFLAB_KERNELS.gelu, [x]);
    const backend = b as WasmBackend;
    const y = backend.makeOutput(x.shape, 'float32');
    const cdf = backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) blas.elementwise(heapF32(backend), OP.gelu, n, off(backend, x), off(backend, y), off(backend, cdf), 0);
    return [y, cdf];
  };
  const geluGrad: KernelFunc = ({ inputs, backend: b }) => {
    const { dy, x, cdf } = inputs as { dy: TensorInfo; x: TensorInfo; cdf: TensorInfo };
    sameShapes(DIFFLAB_KERNELS.geluGrad, [x, dy, cdf]);
    const backend = b as WasmBackend;
    const dx = backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) blas.elementwise(heapF32(backend), OP.geluGrad, n, off(backend, dy), off(backend, x), off(backend, cdf), off(backend, dx));
    return dx;
  };
  return [
    { kernelName: DIFFLAB_KERNELS.gelu, backendName: 'wasm', kernelFunc: gelu },
    { kernelName: DIFFLAB_KERNELS.geluGrad, backendName: 'wasm', kernelFunc: geluGrad },
  ];
}

/** `DifflabSilu` and `DifflabSiluGrad` on the vector math. */
export function makeNativeSilu(blas: NativeBlas): KernelConfig[] {
  const silu: KernelFunc = ({ inputs, backend: b }) => {
    const { x } = inputs as { x: TensorInfo };
    sameShapes(DIFFLAB_KERNELS.silu, [x]);
    const backend = b as WasmBackend;
    const y = backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) blas.elementwise(heapF32(backend), OP.silu, n, off(backend, x), off(backend, y), 0, 0);
    return y;
  };
  const siluGrad: KernelFunc = ({ inputs, backend: b }) => {
    const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
    sameShapes(DIFFLAB_KERNELS.siluGrad, [x, dy]);
    const backend = b as WasmBackend;
    const dx = backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) blas.elementwise(heapF32(backend), OP.siluGrad, n, off(backend, dy), off(backend, x), off(backend, dx), 0);
    return dx;
  };
  return [
    { kernelName: DIFFLAB_KERNELS.silu, backendName: 'wasm', kernelFunc: silu },
    { kernelName: DIFFLAB_KERNELS.siluGrad, backendName: 'wasm', kernelFunc: siluGrad },
  ];
}

/** `DifflabSinusoidal` on the vector math (no gradient: see @difflab/core's DIFFLAB_KERNELS). */
export function makeNativeSinusoidal(blas: NativeBlas): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { x, freqs } = inputs as { x: TensorInfo; freqs: TensorInfo };
    const { cosFirst } = attrs as unknown as { cosFirst?: boolean };
    const name = DIFFLAB_KERNELS.sinusoidal;
    if (x.dtype !== 'float32' || freqs.dtype !== 'float32') throw new Error(`${name}: float32 inputs only, got ${x.dtype} and ${freqs.dtype}`);
    if (x.shape.length !== 1 || freqs.shape.length !== 1) throw new Error(`${name}: x and freqs must be 1-D, got [${x.shape}] and [${freqs.shape}]`);
    const backend = b as WasmBackend;
    const [n] = x.shape;
    const [f] = freqs.shape;
    const out = backend.makeOutput([n, 2 * f], 'float32');
    if (n > 0 && f > 0) blas.sinusoidal(heapF32(backend), off(backend, x), off(backend, freqs), n, f, cosFirst ? 1 : 0, off(backend, out));
    return out;
  };
  return { kernelName: DIFFLAB_KERNELS.sinusoidal, backendName: 'wasm', kernelFunc };
}

/** Sum over axes that form one block (`blockSumPlan`), in native/vmath.c; `fallback` otherwise. */
export function makeNativeSum(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return fallback.kernelFunc(args);
    const { axes, outShape } = sumAxes(x, args.attrs);
    const plan = blockSumPlan(x.shape, axes);
    if (!plan || plan[0] * plan[1] * plan[2] === 0) return fallback.kernelFunc(args);
    const [outer, rows, cols] = plan;
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(outShape, 'float32');
    blas.colsum(heapF32(backend), off(backend, x), outer, rows, cols, off(backend, out));
    return out;
  };
  return { kernelName: tf.Sum, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/** Transpose of two adjacent blocks of axes (`blockSwap`) for 32-bit types, tiled; `fallback` otherwise. */
export function makeNativeTranspose(blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return fallback.kernelFunc(args);
    const plan = blockSwap(x.shape, perm);
    if (!plan || tf.util.sizeFromShape(x.shape) === 0) return fallback.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(
      perm.map((p) => x.shape[p]),
      x.dtype,
    );
    blas.blockSwap(heapF32(backend), off(backend, x), ...plan, off(backend, out));
    return out;
  };
  return { kernelName: tf.Transpose, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/**
 * [O, M, I, bPerO] when `b` broadcasts onto `a` (whose shape is the result's) as b[O or 1, 1, I]
 * over a viewed as [O, M, I]: b of a's shape, a trailing bias row, a per-sample vector
 * ([B, 1, 1, C] onto [B, H, W, C]), a scalar. Null for other broadcasts.
 */
export function binaryPlan(aShape: readonly number[], bShape: readonly number[]): [number, number, number, boolean] | null {
  const r = aShape.length;
  if (bShape.length > r) return null;
  const b = [...new Array(r - bShape.length).fill(1), ...bShape];
  let d = r;
  let I = 1;
  while (d > 0 && b[d - 1] === aShape[d - 1]) I *= aShape[--d];
  let M = 1;
  while (d > 0 && b[d - 1] === 1) M *= aShape[--d];
  let O = 1;
  let equal = true;
  let ones = true;
  while (d > 0) {
    d--;
    O *= aShape[d];
    if (b[d] !== aShape[d]) equal = false;
    if (b[d] !== 1) ones = false;
  }
  if (!equal && !ones) return null;
  return ones ? [1, O * M, I, false] : [O, M, I, true];
}

const BINARY_OPS = { [tf.Add]: 0, [tf.Multiply]: 1, [tf.Sub]: 2 } as Record<string, number>;

/** Add, Multiply, Sub of float32 tensors that `binaryPlan` covers (either operand the larger one); `fallback` otherwise. */
export function makeNativeBinary(name: typeof tf.Add | typeof tf.Multiply | typeof tf.Sub, blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const op = BINARY_OPS[name];
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback.kernelFunc(args);
    const na = tf.util.sizeFromShape(a.shape);
    const nb = tf.util.sizeFromShape(b.shape);
    // the larger operand is "a" of the plan; Sub with b the larger becomes b - a (op 3)
    const swap = nb > na || (nb === na && b.shape.length > a.shape.length);
    const [big, small] = swap ? [b, a] : [a, b];
    const plan = binaryPlan(big.shape, small.shape);
    if (!plan || na === 0 || nb === 0) return fallback.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput([...big.shape], 'float32');
    blas.binary(heapF32(backend), swap && op === 2 ? 3 : op, off(backend, big), off(backend, small), plan[0], plan[1], plan[2], plan[3] ? 1 : 0, off(backend, out));
    return out;
  };
  return { kernelName: name, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}
