/**
 * difflab's SIMD float32 math (sin, cos, exp, erf over arrays), a 4.5 KB WebAssembly module
 * compiled from assembly/simd-math.ts (AssemblyScript, f32x4). tfjs-backend-wasm 4.22 runs these
 * functions as scalar C loops (Sin/Cos ~15 ns, Exp ~7 ns, Erf ~5 ns per value on a 2-core EPYC);
 * here they take ~2-3 ns. Accuracy (simd-math.test.ts, against float64): sin/cos/exp within 1 ulp
 * of the correctly rounded float32 result; erf within 8 ulp and 5e-7 absolute (tfjs-backend-cpu's
 * erf, Abramowitz & Stegun 7.1.26, is within 1.5e-7).
 *
 * The module has its own memory: values are copied in, computed, and copied out (a memcpy each
 * way, a small fraction of the math).
 */
import { SIMD_MATH_WASM_BASE64 } from './simd-math.generated.js';

interface SimdExports {
  memory: WebAssembly.Memory;
  sinCos(src: number, dst: number, n: number, isCos: number): void;
  expArr(src: number, dst: number, n: number): void;
  erfArr(src: number, dst: number, n: number): void;
  geluFwd(src: number, y: number, cdf: number, n: number): void;
  geluBwd(dy: number, src: number, cdf: number, dz: number, n: number): void;
  adamStep(p: number, g: number, m: number, v: number, n: number, b1: number, b1c: number, b2: number, b2c: number, eps: number, stepSize: number, invSqrtBc2: number, decay: number, mode: number): void;
  colSum(src: number, dst: number, rows: number, cols: number): void;
  transpose32(src: number, dst: number, batch: number, rows: number, cols: number, inner: number): void;
}

export type SimdMathFn = 'sin' | 'cos' | 'exp' | 'erf';

/** First byte used for data (below it: the module's own constants). */
const BASE = 65536;
let exportsCache: SimdExports | null | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  if (typeof Buffer !== 'undefined') return Uint8Array.from(Buffer.from(s, 'base64'));
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The instantiated module, or null where WebAssembly SIMD is unavailable. */
function simd(): SimdExports | null {
  if (exportsCache !== undefined) return exportsCache;
  try {
    const bytes = decodeBase64(SIMD_MATH_WASM_BASE64);
    exportsCache = WebAssembly.validate(bytes) ? (new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as SimdExports) : null;
  } catch {
    exportsCache = null;
  }
  return exportsCache;
}

/** Whether this JavaScript engine runs the SIMD module. */
export function simdMathAvailable(): boolean {
  return simd() !== null;
}

/** Values processed per call (bounds the module's memory to a few 4 MB regions). */
const CHUNK = 1 << 20;

/**
 * Run an element-wise kernel over equal-length float32 arrays in chunks: each chunk of every
 * input is copied into the module (zero-padded to a multiple of 4), `call` gets the regions'
 * addresses and the padded length, and the outputs are copied back. Outputs may alias inputs.
 */
function elementwise(
  inputs: readonly Float32Array[],
  outputs: readonly Float32Array[],
  call: (m: SimdExports, ptrs: number[], n4: number) => void,
  /** The region each output is read from (default: its own region after the inputs'); in-place kernels name an input's. */
  outRegions: readonly number[] = outputs.map((_, r) => inputs.length + r),
): void {
  const n = inputs[0].length;
  for (const a of [...inputs, ...outputs]) {
    if (a.length !== n) throw new RangeError(`simd kernels: array length ${a.length} differs from ${n}`);
  }
  const chunk = Math.max(4, Math.min(CHUNK, n));
  const padded = (chunk + 3) & ~3;
  const regions = inputs.length + outputs.length;
  const m = withMemory(regions * padded * 4);
  const ptrs = Array.from({ length: regions }, (_, r) => BASE + r * padded * 4);
  for (let at = 0; at < n; at += chunk) {
    const len = Math.min(chunk, n - at);
    const len4 = (len + 3) & ~3;
    const heap = new Float32Array(m.memory.buffer);
    inputs.forEach((a, r) => {
      const w = ptrs[r] >> 2;
      heap.set(a.subarray(at, at + len), w);
      heap.fill(0, w + len, w + len4);
    });
    call(m, ptrs, len4);
    outputs.forEach((a, r) => {
      const w = ptrs[outRegions[r]] >> 2;
      a.set(heap.subarray(w, w + len), at);
    });
  }
}

/**
 * out[i] = fn(x[i]) for float32 arrays of the same length (out may be x).
 * @throws Error when WebAssembly SIMD is unavailable (check `simdMathAvailable()` first).
 */
export function simdMath(fn: SimdMathFn, x: Float32Array, out: Float32Array): void {
  if (out.length !== x.length) throw new RangeError(`simdMath: output length ${out.length} differs from input length ${x.length}`);
  if (x.length === 0) return;
  elementwise([x], [out], (m, [src, dst], n4) => {
    if (fn === 'sin' || fn === 'cos') m.sinCos(src, dst, n4, fn === 'cos' ? 1 : 0);
    else if (fn === 'exp') m.expArr(src, dst, n4);
    else m.erfArr(src, dst, n4);
  });
}

/** Exact GELU: cdf = Phi(z) = (1 + erf(z / sqrt 2)) / 2 and y = z cdf, in one pass. */
export function simdGelu(z: Float32Array, y: Float32Array, cdf: Float32Array): void {
  if (z.length === 0) return;
  elementwise([z], [y, cdf], (m, [src, py, pc], n4) => m.geluFwd(src, py, pc, n4));
}

/** GELU's backward pass: dz = dy (cdf + z phi(z)), phi the standard normal density. */
export function simdGeluGrad(dy: Float32Array, z: Float32Array, cdf: Float32Array, dz: Float32Array): void {
  if (z.length === 0) return;
  elementwise([dy, z, cdf], [dz], (m, [pdy, pz, pc, pdz], n4) => m.geluBwd(pdy, pz, pc, pdz, n4));
}

/** Constants of one Adam step (see `adamStep` in assembly/simd-math.ts). */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 - beta1^t) */
  stepSize: number;
  /** 1 / sqrt(1 - beta2^t) */
  invSqrtBc2: number;
  /** 0: no weight decay; 1: L2 (g += decay p, decay = wd); 2: decoupled (p *= decay, decay = 1 - lr wd). */
  mode: 0 | 1 | 2;
  decay: number;
}

/** One Adam / AdamW step over flat vectors: writes the new parameters, first and second moments. */
export function simdAdam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamConstants, pOut: Float32Array, mOut: Float32Array, vOut: Float32Array): void {
  if (p.length === 0) return;
  elementwise([p, g, m, v], [pOut, mOut, vOut], (mod, [pp, pg, pm, pv], n4) => {
    mod.adamStep(pp, pg, pm, pv, n4, c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.eps, c.stepSize, c.invSqrtBc2, c.decay, c.mode);
  }, [0, 2, 3]);
}

/** The module's memory grown to hold `bytes` from BASE; returns the exports. */
function withMemory(bytes: number): SimdExports {
  const m = simd();
  if (!m) throw new Error('simd kernels: WebAssembly SIMD is not available in this engine');
  const need = BASE + bytes;
  if (m.memory.buffer.byteLength < need) m.memory.grow(Math.ceil((need - m.memory.buffer.byteLength) / 65536));
  return m;
}

/**
 * out[o * cols + j] = sum over i of x[(o * rows + i) * cols + j] for o < outer (the sum over a
 * block of axes with `outer` values before it; outer 1: a tensor's leading axes), in float32.
 * One copy in and out, one module call per outer block.
 */
export function simdColumnSum(x: Float32Array, rows: number, cols: number, out: Float32Array, outer = 1): void {
  if (x.length !== outer * rows * cols || out.length !== outer * cols) {
    throw new RangeError(`simdColumnSum: ${x.length} values and ${out.length} outputs do not fit ${outer} x ${rows} x ${cols}`);
  }
  const dst = BASE + ((x.length * 4 + 15) & ~15);
  const m = withMemory(dst - BASE + out.length * 4);
  const heap = new Float32Array(m.memory.buffer);
  heap.set(x, BASE >> 2);
  for (let o = 0; o < outer; o++) m.colSum(BASE + o * rows * cols * 4, dst + o * cols * 4, rows, cols);
  out.set(heap.subarray(dst >> 2, (dst >> 2) + out.length));
}

/**
 * Batched transpose of 32-bit words with an inner block: out[b][j][i][k] = x[b][i][j][k] for
 * x of shape [batch, rows, cols, inner] (float32 or int32 data, as raw words).
 */
export function simdTranspose(x: Uint32Array, batch: number, rows: number, cols: number, inner: number, out: Uint32Array): void {
  const n = batch * rows * cols * inner;
  if (x.length !== n || out.length !== n) throw new RangeError(`simdTranspose: ${x.length} values and ${out.length} outputs do not fit [${batch}, ${rows}, ${cols}, ${inner}]`);
  const dst = BASE + ((n * 4 + 15) & ~15);
  const m = withMemory(dst - BASE + n * 4);
  const heap = new Uint32Array(m.memory.buffer);
  heap.set(x, BASE >> 2);
  m.transpose32(BASE, dst, batch, rows, cols, inner);
  out.set(heap.subarray(dst >> 2, (dst >> 2) + n));
}
