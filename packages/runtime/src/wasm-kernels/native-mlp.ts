/**
 * `DifflabResidualMlp` / `DifflabResidualMlpGrad` (contracts in @difflab/core's DIFFLAB_KERNELS)
 * for tfjs-backend-wasm in Node on difflab-blas (native/mlp.c): tiny-diffusion's residual MLP in
 * one kernel each way, where the op-by-op path dispatches ~25 kernels forward and ~25 backward
 * (matmuls, bias adds, activations, residual adds, column sums, reshapes) and keeps ~20 tensors
 * for the gradient.
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';

const ACT = { gelu: 0, silu: 1, relu: 2 } as const;
type Act = keyof typeof ACT;

const off = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;

interface Geometry {
  act: number;
  K: number;
  N: number;
  D0: number;
  H: number;
  Dout: number;
}

/** Checks x and the weights against the contract; returns the sizes. */
function geometry(name: string, inputs: Record<string, TensorInfo>, attrs: { act: string; blocks: number }): Geometry {
  const { act, blocks: K } = attrs;
  if (!(act in ACT)) throw new Error(`${name}: act must be one of ${Object.keys(ACT).join(', ')}, got '${act}'`);
  if (!Number.isInteger(K) || K < 0) throw new Error(`${name}: blocks must be a whole number >= 0, got ${K}`);
  const x = inputs.x;
  if (x?.shape.length !== 2 || x.dtype !== 'float32') throw new Error(`${name}: x must be float32 [N, D0], got ${x ? `${x.dtype} [${x.shape}]` : 'none'}`);
  const [N, D0] = x.shape;
  const w0 = inputs.w0;
  const wOut = inputs[`w${K + 1}`];
  if (!w0 || !wOut) {
    const got = Object.keys(inputs).filter((k) => /^w\d+$/.test(k));
    throw new Error(`${name}: ${K} blocks need weights w0 .. w${K + 1}, got ${got.join(', ') || 'none'}`);
  }
  const H = w0.shape[1];
  const Dout = wOut.shape[1];
  for (let l = 0; l <= K + 1; l++) {
    const w = inputs[`w${l}`];
    const want = [l === 0 ? D0 : H, l === K + 1 ? Dout : H];
    if (w?.dtype !== 'float32' || w.shape.join() !== want.join()) throw new Error(`${name}: w${l} must be float32 [${want}], got ${w ? `${w.dtype} [${w.shape}]` : 'none'}`);
  }
  if (N < 1 || D0 < 1 || H < 1 || Dout < 1) throw new Error(`${name}: every size must be positive, got x [${x.shape}], hidden ${H}, out ${Dout}`);
  return { act: ACT[act as Act], K, N, D0, H, Dout };
}

export function makeNativeResidualMlp(blas: NativeBlas): KernelConfig[] {
  const forward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const ins = inputs as Record<string, TensorInfo>;
    const g = geometry(DIFFLAB_KERNELS.residualMlp, ins, attrs as unknown as { act: string; blocks: number });
    for (let l = 0; l <= g.K + 1; l++) {
      const bias = ins[`b${l}`];
      const want = l === g.K + 1 ? g.Dout : g.H;
      if (bias?.dtype !== 'float32' || bias.shape.join() !== String(want)) throw new Error(`${DIFFLAB_KERNELS.residualMlp}: b${l} must be float32 [${want}], got ${bias ? `${bias.dtype} [${bias.shape}]` : 'none'}`);
    }
    const backend = b as WasmBackend;
    const y = backend.makeOutput([g.N, g.Dout], 'float32');
    const saved = backend.makeOutput([g.K + 1, 3, g.N, g.H], 'float32');
    const plan = new Float64Array(9 + 2 * (g.K + 2));
    plan.set([g.act, g.K, g.N, g.D0, g.H, g.Dout, off(backend, ins.x), off(backend, y), off(backend, saved)]);
    for (let l = 0; l <= g.K + 1; l++) {
      plan[9 + 2 * l] = off(backend, ins[`w${l}`]);
      plan[10 + 2 * l] = off(backend, ins[`b${l}`]);
    }
    blas.mlp(heapF32(backend), plan);
    return [y, saved];
  };
  const backward: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const ins = inputs as Record<string, TensorInfo>;
    const a = attrs as unknown as { act: string; blocks: number; inputGrad: boolean };
    const g = geometry(DIFFLAB_KERNELS.residualMlpGrad, ins, a);
    const { dy, saved } = ins;
    if (!dy || dy.shape.join() !== [g.N, g.Dout].join()) throw new Error(`${DIFFLAB_KERNELS.residualMlpGrad}: dy must be [${g.N}, ${g.Dout}], got ${dy ? `[${dy.shape}]` : 'none'}`);
    const savedShape = [g.K + 1, 3, g.N, g.H];
    if (!saved || saved.shape.join() !== savedShape.join()) throw new Error(`${DIFFLAB_KERNELS.residualMlpGrad}: saved must be [${savedShape}], got ${saved ? `[${saved.shape}]` : 'none'}`);
    const backend = b as WasmBackend;
    const outs: TensorInfo[] = [];
    const plan = new Float64Array(10 + 3 * (g.K + 2));
    for (let l = 0; l <= g.K + 1; l++) {
      const w = ins[`w${l}`];
      const dw = backend.makeOutput(w.shape, 'float32');
      const db = backend.makeOutput([w.shape[1]], 'float32');
      outs.push(dw, db);
      plan[10 + 3 * l] = off(backend, w);
      plan[11 + 3 * l] = off(backend, dw);
      plan[12 + 3 * l] = off(backend, db);
    }
    const dx = a.inputGrad ? backend.makeOutput([g.N, g.D0], 'float32') : null;
    if (dx) outs.push(dx);
    plan.set([g.act, g.K, g.N, g.D0, g.H, g.Dout, off(backend, dy), off(backend, ins.x), off(backend, saved), dx ? off(backend, dx) : -1]);
    blas.mlpGrad(heapF32(backend), plan);
    return outs;
  };
  return [
    { kernelName: DIFFLAB_KERNELS.residualMlp, backendName: 'wasm', kernelFunc: forward },
    { kernelName: DIFFLAB_KERNELS.residualMlpGrad, backendName: 'wasm', kernelFunc: backward },
  ];
}
