/**
 * `DifflabAttention` / `DifflabAttentionGrad` (contracts in @difflab/core's DIFFLAB_KERNELS) for
 * tfjs-backend-wasm in Node on difflab-blas (native/attention.c): multi-head attention read from the
 * fused qkv projection in place, where the op-by-op path splits heads with three 4-D transposes,
 * scales, multiplies, takes a softmax and merges heads with another transpose (and the reverse for
 * the gradient).
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';

const off = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;

/** [B, N, heads, d] from qkv [B N, 3 heads d] and the attrs; throws a one-line error otherwise. */
function geometry(name: string, qkv: TensorInfo | undefined, attrs: { batch: number; heads: number }): [number, number, number, number] {
  const { batch: B, heads } = attrs;
  if (qkv?.dtype !== 'float32' || qkv.shape.length !== 2) throw new Error(`${name}: qkv must be float32 [B N, 3 W], got ${qkv ? `${qkv.dtype} [${qkv.shape}]` : 'none'}`);
  const [rows, cols] = qkv.shape;
  if (!Number.isInteger(B) || B < 1 || rows % B !== 0) throw new Error(`${name}: batch must be a whole number dividing the ${rows} rows of qkv, got ${B}`);
  if (!Number.isInteger(heads) || heads < 1 || cols % (3 * heads) !== 0) throw new Error(`${name}: qkv's ${cols} columns must be 3 x heads x d, got heads ${heads}`);
  return [B, rows / B, heads, cols / (3 * heads)];
}

export function makeNativeAttention(blas: NativeBlas): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { qkv } = inputs as { qkv: TensorInfo };
    const [B, N, heads, d] = geometry(DIFFLAB_KERNELS.attention, qkv, attrs as unknown as { batch: number; heads: number });
    const backend = b as WasmBackend;
    const out = backend.makeOutput([B * N, heads * d], 'float32');
    const weights = backend.makeOutput([B * heads, N, N], 'float32');
    blas.attention(heapF32(backend), off(backend, qkv), B, N, heads, d, off(backend, out), off(backend, weights));
    return [out, weights];
  };
  const backward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { dy, qkv, weights } = inputs as { dy: TensorInfo; qkv: TensorInfo; weights: TensorInfo };
    const name = DIFFLAB_KERNELS.attentionGrad;
    const [B, N, heads, d] = geometry(name, qkv, attrs as unknown as { batch: number; heads: number });
    if (dy?.shape.join() !== [B * N, heads * d].join()) throw new Error(`${name}: dy must be [${B * N}, ${heads * d}], got ${dy ? `[${dy.shape}]` : 'none'}`);
    if (weights?.shape.join() !== [B * heads, N, N].join()) throw new Error(`${name}: weights must be [${B * heads}, ${N}, ${N}], got ${weights ? `[${weights.shape}]` : 'none'}`);
    const backend = b as WasmBackend;
    const dqkv = backend.makeOutput(qkv.shape, 'float32');
    blas.attentionGrad(heapF32(backend), off(backend, dy), off(backend, qkv), off(backend, weights), B, N, heads, d, off(backend, dqkv));
    return dqkv;
  };
  return [
    { kernelName: DIFFLAB_KERNELS.attention, backendName: 'wasm', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.attentionGrad, backendName: 'wasm', kernelFunc: backward },
  ];
}
