/**
 * `registerWasmConvKernels()`: the convolution-gradient kernels that tfjs-backend-wasm 4.22 lacks
 * or runs slowly, built from its own fast (XNNPACK) Conv2D kernel:
 *
 * - Conv2DBackpropFilter (missing: `tf.conv2d` cannot be trained on wasm without it):
 *   dW[kh, kw, ci, co] = sum_{b, oh, ow} x_pad[b, s_h oh + kh, s_w ow + kw, ci] dy[b, oh, ow, co]
 *   is a forward convolution of x^T [Cin, H, W, B] (a batch of Cin images with B channels) with
 *   the filter dy^T [Ho, Wo, B, Cout] at dilation (s_h, s_w), zero padded so that the output is
 *   kh x kw: out [Cin, kh, kw, Cout], transposed to [kh, kw, Cin, Cout].
 * - Conv2DBackpropInput (present, but a scalar loop ~8x slower than Conv2D): dx is the forward
 *   convolution of dy dilated by the strides (s - 1 zeros between values) with the filter rotated
 *   by 180 degrees and its in/out channels swapped, padded kh - 1 - pad_top on top
 *   (dx[i] = sum_k dy_dilated[i + pad_top - k] W[k]). NCHW falls back to the original kernel.
 *
 * Padding is passed to Conv2D explicitly (XNNPACK pads virtually; a Pad kernel would copy);
 * negative amounts (rows the forward conv never read) crop with Slice first.
 *
 * Not supplied: DepthwiseConv2dNativeBackpropFilter / -Input (also missing on wasm; no difflab
 * model uses depthwise convolutions).
 *
 * Call it after importing '@tensorflow/tfjs-backend-wasm', before or after `tf.setBackend('wasm')`;
 * calling it again does nothing. The replaced kernel's setup function is kept, so registering
 * before the backend is initialised works too.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

/** The kernels this module registers for 'wasm', by name. */
export const WASM_CONV_KERNELS = [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput] as const;

const MARK = Symbol.for('difflab.wasmConvKernel');
const originals = new Map<string, KernelConfig>();

interface Backend {
  disposeData(dataId: object, force?: boolean): boolean;
}

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** Runs other wasm kernels from inside a kernel and frees the intermediates. */
class Ops {
  private readonly temps: TensorInfo[] = [];
  constructor(private readonly backend: Backend) {}

  run(name: string, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: NamedAttrMap): TensorInfo {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`wasm conv kernels: the wasm backend has no '${name}' kernel`);
    const out = k.kernelFunc({ inputs: inputs as never, attrs, backend: this.backend as never }) as TensorInfo;
    this.temps.push(out);
    return out;
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  zeros(shape: number[]): TensorInfo {
    return this.run(tf.Fill, {}, { shape, value: 0, dtype: 'float32' });
  }

  /** Stride-1 conv with explicit padding; negative pads crop the input first. */
  conv(x: TensorInfo, filter: TensorInfo, top: number, bottom: number, left: number, right: number, dilations: [number, number]): TensorInfo {
    let input = x;
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      const t0 = Math.max(0, -top);
      const l0 = Math.max(0, -left);
      input = this.run(tf.Slice, { x }, { begin: [0, t0, l0, 0], size: [b, h - t0 - Math.max(0, -bottom), w - l0 - Math.max(0, -right), c] });
    }
    const pad: Pads = [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ];
    return this.run(tf.Conv2D, { x: input, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined } as unknown as NamedAttrMap);
  }

  /** Insert s - 1 zeros after every value along H (sh) and W (sw): [B, Ho, Wo, C] -> [B, Ho sh, Wo sw, C]. */
  dilate(dy: TensorInfo, sh: number, sw: number): TensorInfo {
    const [b, ho, wo, c] = dy.shape as [number, number, number, number];
    let y = dy;
    if (sw > 1) {
      const cols = this.run(tf.Concat, [this.reshape(y, [b * ho * wo, 1, c]), this.zeros([b * ho * wo, sw - 1, c])], { axis: 1 });
      y = this.reshape(cols, [b, ho, wo * sw, c]);
    }
    if (sh > 1) {
      const rows = this.run(tf.Concat, [this.reshape(y, [b * ho, 1, wo * sw * c]), this.zeros([b * ho, sh - 1, wo * sw * c])], { axis: 1 });
      y = this.reshape(rows, [b, ho * sh, wo * sw, c]);
    }
    return y;
  }

  /** Frees every intermediate except `keep` (the kernel's output). */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.temps) if (t !== keep) this.backend.disposeData(t.dataId);
    return keep;
  }
}

function convInfo(inShape: number[], filterShape: number[], attrs: NamedAttrMap): tf.backend_util.Conv2DInfo {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
}

const backpropFilter: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = convInfo(x.shape, filterShape, attrs as NamedAttrMap);
  if (info.dataFormat !== 'channelsLast') throw new Error("wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only");
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const ops = new Ops(backend as unknown as Backend);
  const xt = ops.transpose(x, [3, 1, 2, 0]); // [Cin, H, W, B]
  const f = ops.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, B, Cout]
  const dwT = ops.conv(xt, f, top, (ho - 1) * sh + kh - h - top, left, (wo - 1) * sw + kw - w - left, [sh, sw]); // [Cin, kh, kw, Cout]
  return ops.finish(ops.transpose(dwT, [1, 2, 0, 3]));
};

function makeBackpropInput(original: KernelConfig | undefined): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = convInfo(inputShape, filter.shape, attrs as NamedAttrMap);
    if (info.dataFormat !== 'channelsLast' || dy.dtype !== 'float32') {
      if (!original) throw new Error("wasm Conv2DBackpropInput supports dataFormat 'NHWC' only");
      return original.kernelFunc(args);
    }
    const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo } = info;
    const { top, left } = info.padInfo;
    const ops = new Ops(backend as unknown as Backend);
    const wFlip = ops.transpose(ops.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]); // [kh, kw, Cout, Cin]
    const dyd = sh === 1 && sw === 1 ? dy : ops.dilate(dy, sh, sw); // [B, Ho sh, Wo sw, Cout]
    const dx = ops.conv(dyd, wFlip, kh - 1 - top, h + top - ho * sh, kw - 1 - left, w + left - wo * sw, [1, 1]);
    return ops.finish(dx);
  };
}

function mark(k: KernelConfig): KernelConfig {
  (k.kernelFunc as unknown as Record<symbol, unknown>)[MARK] = true;
  return k;
}

function isOurs(k: KernelConfig | undefined): boolean {
  return !!k && (k.kernelFunc as unknown as Record<symbol, unknown>)[MARK] === true;
}

/**
 * Register Conv2DBackpropFilter and a faster Conv2DBackpropInput for the 'wasm' backend
 * (idempotent). Returns the names of the kernels registered by this call (empty when they
 * already were).
 * @throws Error when tfjs-backend-wasm's kernels are not registered (it was not imported).
 */
export function registerWasmConvKernels(): string[] {
  if (!tf.getKernel(tf.Conv2D, 'wasm')) {
    throw new Error("registerWasmConvKernels: import '@tensorflow/tfjs-backend-wasm' first (no wasm Conv2D kernel is registered)");
  }
  const done: string[] = [];
  const filterCur = tf.getKernel(tf.Conv2DBackpropFilter, 'wasm');
  if (!isOurs(filterCur)) {
    if (filterCur) originals.set(tf.Conv2DBackpropFilter, filterCur);
    if (filterCur) tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
    tf.registerKernel(mark({ kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', setupFunc: filterCur?.setupFunc, kernelFunc: backpropFilter }));
    done.push(tf.Conv2DBackpropFilter);
  }
  const inputCur = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
  if (!isOurs(inputCur)) {
    if (inputCur) {
      originals.set(tf.Conv2DBackpropInput, inputCur);
      tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
    }
    tf.registerKernel(mark({ kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', setupFunc: inputCur?.setupFunc, kernelFunc: makeBackpropInput(inputCur) }));
    done.push(tf.Conv2DBackpropInput);
  }
  return done;
}

/** Restore the kernels that `registerWasmConvKernels` replaced (and remove the ones it added). */
export function unregisterWasmConvKernels(): void {
  for (const name of WASM_CONV_KERNELS) {
    if (!isOurs(tf.getKernel(name, 'wasm'))) continue;
    tf.unregisterKernel(name, 'wasm');
    const orig = originals.get(name);
    if (orig) tf.registerKernel(orig);
  }
}
