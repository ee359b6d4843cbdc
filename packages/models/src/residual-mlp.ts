/**
 * The whole residual MLP stack of tiny-diffusion as ONE differentiable op with a hand-written
 * backward pass:
 *
 *   h_0 = act(f W_in + b_in)
 *   h_{k+1} = h_k + act(h_k W_k + b_k)      k = 0 .. K-1
 *   y = h_K W_out + b_out
 *
 * backward (dy):
 *   dW_out = h_K^T dy, db_out = sum_rows(dy), dh = dy W_out^T
 *   for k = K-1 .. 0: dz = dh * act'(z_k); dW_k = h_k^T dz; db_k = sum_rows(dz); dh += dz W_k^T
 *   dz = dh * act'(z_in); dW_in = f^T dz; db_in = sum_rows(dz); df = dz W_in^T (only if asked)
 *
 * Why: (1) tfjs-core in Node registers no gradient functions (they live in
 * `@tensorflow/tfjs-core/dist/register_all_gradients`, an ESM file plain Node cannot load), so a
 * model whose backward pass needs none of them trains with tfjs-core alone; (2) one tape node
 * instead of ~30; the transposed products are matmuls with transposeA / transposeB, which
 * difflab's wasm kernels run without a Transpose op (OpenBLAS) or transpose first (WebAssembly).
 * Where the backend has `DifflabResidualMlp` / `DifflabResidualMlpGrad` (@difflab/core's
 * DIFFLAB_KERNELS; @difflab/runtime registers them for wasm in Node with its native addon) the
 * op is one kernel each way, the same formulas.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { activationBackward, activationForward, type ActivationName } from './activations.js';

export interface DenseParams {
  /** [in, out] */
  weight: tf.Tensor2D;
  /** [out] */
  bias: tf.Tensor1D;
}

function fusedLinear(x: tf.Tensor2D, p: DenseParams, act: ActivationName | 'linear'): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: p.weight, bias: p.bias, activation: act === 'relu' ? 'relu' : 'linear' }) as tf.Tensor2D;
}

/**
 * y = residual MLP(concat(parts, axis 1)). `layers` = [in, ...blocks, out]. The concatenation
 * happens inside the op, so gradients reach each part without a Concat gradient. When
 * `inputGrad` is false the parts are treated as constants (no gradient is computed for them),
 * which is right when they come from fixed embeddings.
 */
export function residualMlp(parts: readonly tf.Tensor2D[], layers: readonly DenseParams[], act: ActivationName, inputGrad: boolean): tf.Tensor2D {
  if (layers.length < 2) throw new RangeError('residualMlp needs at least an input and an output layer');
  if (parts.length === 0) throw new RangeError('residualMlp needs at least one feature part');
  const widths = parts.map((p) => p.shape[1]);
  const nParts = parts.length;
  const nBlocks = layers.length - 2;
  const params: tf.Tensor[] = layers.flatMap((l) => [l.weight, l.bias]);

  // Layout of the saved list: [features, h_0 .. h_K, W_in, W_0 .. W_{K-1}, W_out, act-saved(in), act-saved(0) ..]
  const run = (fParts: tf.Tensor2D[], ps: tf.Tensor[], save: tf.GradSaveFunc) => {
    const f = fParts.length === 1 ? fParts[0] : (tf.concat(fParts, 1) as tf.Tensor2D);
    const L = ps.length / 2;
    const W = (i: number) => ({ weight: ps[2 * i] as tf.Tensor2D, bias: ps[2 * i + 1] as tf.Tensor1D });
    const hs: tf.Tensor2D[] = [];
    const actSaved: tf.Tensor[][] = [];
    const first = activationForward(act, fusedLinear(f, W(0), act));
    actSaved.push(first.saved);
    let h = first.y;
    for (let k = 0; k < nBlocks; k++) {
      hs.push(h);
      const a = activationForward(act, fusedLinear(h, W(k + 1), act));
      actSaved.push(a.saved);
      h = tf.add(h, a.y);
    }
    hs.push(h);
    const y = fusedLinear(h, W(L - 1), 'linear');
    const weights = Array.from({ length: L }, (_, i) => ps[2 * i]);
    const perAct = actSaved[0].length;
    save([f, ...hs, ...weights, ...actSaved.flat()]);
    const gradFunc = (dy: tf.Tensor, s: tf.Tensor[]): tf.Tensor[] => {
      const fs = s[0] as tf.Tensor2D;
      const hsv = s.slice(1, 2 + nBlocks) as tf.Tensor2D[];
      const ws = s.slice(2 + nBlocks, 2 + nBlocks + L) as tf.Tensor2D[];
      const acts = s.slice(2 + nBlocks + L);
      const actOf = (i: number) => acts.slice(i * perAct, (i + 1) * perAct);
      const grads: tf.Tensor[] = new Array(2 * L);
      const dOut = dy as tf.Tensor2D;
      grads[2 * (L - 1)] = tf.matMul(hsv[nBlocks], dOut, true, false);
      grads[2 * (L - 1) + 1] = tf.sum(dOut, 0);
      let dh: tf.Tensor2D = tf.matMul(dOut, ws[L - 1], false, true);
      for (let k = nBlocks - 1; k >= 0; k--) {
        const dz = activationBackward(act, dh, actOf(k + 1));
        grads[2 * (k + 1)] = tf.matMul(hsv[k], dz, true, false);
        grads[2 * (k + 1) + 1] = tf.sum(dz, 0);
        dh = tf.add(dh, tf.matMul(dz, ws[k + 1], false, true)) as tf.Tensor2D;
      }
      const dz = activationBackward(act, dh, actOf(0));
      grads[0] = tf.matMul(fs, dz, true, false);
      grads[1] = tf.sum(dz, 0);
      if (!inputGrad) return grads;
      const df = tf.matMul(dz, ws[0], false, true);
      return [...(nParts === 1 ? [df] : tf.split(df, widths, 1)), ...grads];
    };
    return { value: y, gradFunc };
  };

  const fused = fusedRun(widths, layers, act, inputGrad);
  const body = fused ?? run;
  if (inputGrad) {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      return body(args.slice(0, nParts) as tf.Tensor2D[], args.slice(nParts) as tf.Tensor[], save);
    });
    return op(...parts, ...params) as tf.Tensor2D;
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    return body([...parts], args as tf.Tensor[], save);
  });
  return op(...params) as tf.Tensor2D;
}

type Run = (fParts: tf.Tensor2D[], ps: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor2D; gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => tf.Tensor[] };

/**
 * The forward and backward passes as `DifflabResidualMlp` / `DifflabResidualMlpGrad`, or null
 * where the backend lacks them, the activation is not one of theirs (gelu, silu, relu) or the
 * layers are not [D0, H], K x [H, H], [H, Dout].
 */
function fusedRun(widths: number[], layers: readonly DenseParams[], act: ActivationName, inputGrad: boolean): Run | null {
  const backend = tf.getBackend();
  if (!tf.getKernel(DIFFLAB_KERNELS.residualMlp, backend) || !tf.getKernel(DIFFLAB_KERNELS.residualMlpGrad, backend)) return null;
  if (act !== 'gelu' && act !== 'silu' && act !== 'relu') return null;
  const L = layers.length;
  const H = layers[0].weight.shape[1];
  const D0 = widths.reduce((a, b) => a + b, 0);
  const square = layers.every((l, i) => l.weight.shape[0] === (i === 0 ? D0 : H) && (i === L - 1 || l.weight.shape[1] === H));
  if (!square) return null;
  const attrs = { act, blocks: L - 2 };
  const named = (ps: tf.Tensor[]) => {
    const m: Record<string, tf.Tensor> = {};
    for (let l = 0; l < L; l++) {
      m[`w${l}`] = ps[2 * l];
      m[`b${l}`] = ps[2 * l + 1];
    }
    return m;
  };
  return (fParts, ps, save) => {
    const f = fParts.length === 1 ? fParts[0] : (tf.concat(fParts, 1) as tf.Tensor2D);
    const [y, saved] = tf.engine().runKernel(DIFFLAB_KERNELS.residualMlp, { x: f, ...named(ps) }, attrs) as unknown as tf.Tensor2D[];
    const weights = Array.from({ length: L }, (_, l) => ps[2 * l]);
    save([f, saved, ...weights]);
    const gradFunc = (dy: tf.Tensor, s: tf.Tensor[]): tf.Tensor[] => {
      const ws: Record<string, tf.Tensor> = {};
      for (let l = 0; l < L; l++) ws[`w${l}`] = s[2 + l];
      const outs = tf.engine().runKernel(DIFFLAB_KERNELS.residualMlpGrad, { dy, x: s[0], saved: s[1], ...ws }, { ...attrs, inputGrad }) as unknown as tf.Tensor[];
      if (!inputGrad) return outs;
      const df = outs[2 * L];
      return [...(widths.length === 1 ? [df] : tf.split(df, widths, 1)), ...outs.slice(0, 2 * L)];
    };
    return { value: y, gradFunc };
  };
}
