/**
 * Denoiser weights as TensorFlow.js' `model.json` + `weights.bin` pair (the format written by
 * `tf.io` and `tensorflowjs_converter`): `weightsManifest: [{ paths: ['weights.bin'], weights:
 * [{ name, shape, dtype }] }]`, the weight values concatenated in manifest order as little-endian
 * float32. Pure functions on bytes; the caller reads and writes the files.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Denoiser, FileFormatError } from '@difflab/core';

export const WEIGHTS_FILE = 'weights.bin';
export const MODEL_JSON_FILE = 'model.json';

export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
}

export interface DenoiserModelJson {
  format: 'difflab-denoiser';
  generatedBy: string;
  convertedBy: null;
  /** What the weights belong to: the model's class, prediction type, sample shape and config. */
  modelTopology: {
    className: string;
    predictionType: string;
    sampleShape: number[];
    config: Record<string, unknown> | null;
  };
  weightsManifest: { paths: string[]; weights: WeightsManifestEntry[] }[];
}

/** Serialise `denoiser.namedWeights()` (in their insertion order) to model.json + weights.bin. */
export function saveWeights(denoiser: Denoiser): { modelJson: DenoiserModelJson; weightsBin: Uint8Array } {
  const named = denoiser.namedWeights();
  const entries: WeightsManifestEntry[] = [];
  const chunks: Float32Array[] = [];
  let total = 0;
  for (const [name, v] of Object.entries(named)) {
    if (v.dtype !== 'float32') throw new FileFormatError(WEIGHTS_FILE, `weight '${name}' has dtype ${v.dtype}; only float32 is supported`);
    const data = v.dataSync() as Float32Array;
    entries.push({ name, shape: [...v.shape], dtype: 'float32' });
    chunks.push(data);
    total += data.length;
  }
  const flat = new Float32Array(total);
  let off = 0;
  for (const c of chunks) {
    flat.set(c, off);
    off += c.length;
  }
  const config = (denoiser as { config?: unknown }).config;
  const modelJson: DenoiserModelJson = {
    format: 'difflab-denoiser',
    generatedBy: '@difflab/models',
    convertedBy: null,
    modelTopology: {
      className: denoiser.constructor?.name ?? 'Denoiser',
      predictionType: denoiser.predictionType,
      sampleShape: [...denoiser.sampleShape],
      config: config && typeof config === 'object' ? { ...(config as Record<string, unknown>) } : null,
    },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: entries }],
  };
  return { modelJson, weightsBin: littleEndianBytes(flat) };
}

/**
 * Assign the weights in `modelJson` + `weightsBin` to `denoiser`. Every weight of the model must
 * be in the file with the same shape, and the file must hold no other weight; otherwise a
 * one-line FileFormatError names the weight. Nothing is assigned unless all weights check out.
 */
export function loadWeights(denoiser: Denoiser, modelJson: unknown, weightsBin: Uint8Array): void {
  const entries = readManifest(modelJson);
  const named = denoiser.namedWeights();
  const expectedBytes = entries.reduce((n, e) => n + 4 * sizeOf(e.shape), 0);
  if (weightsBin.byteLength !== expectedBytes) {
    throw new FileFormatError(WEIGHTS_FILE, `holds ${weightsBin.byteLength} bytes but ${MODEL_JSON_FILE} lists ${expectedBytes} bytes of float32 weights`);
  }
  const seen = new Set<string>();
  for (const e of entries) {
    const v = named[e.name];
    if (!v) throw new FileFormatError(MODEL_JSON_FILE, `weight '${e.name}' is not a weight of this model (model weights: ${Object.keys(named).join(', ')})`);
    if (seen.has(e.name)) throw new FileFormatError(MODEL_JSON_FILE, `weight '${e.name}' is listed twice`);
    seen.add(e.name);
    if (!sameShape(v.shape, e.shape)) {
      throw new FileFormatError(MODEL_JSON_FILE, `weight '${e.name}' has shape [${e.shape}] in the file but [${v.shape}] in the model`);
    }
  }
  const missing = Object.keys(named).filter((n) => !seen.has(n));
  if (missing.length) throw new FileFormatError(MODEL_JSON_FILE, `weight '${missing[0]}' of the model is missing from the file`);
  const values = float32FromLittleEndian(weightsBin);
  let off = 0;
  for (const e of entries) {
    const n = sizeOf(e.shape);
    const v = named[e.name];
    tf.tidy(() => v.assign(tf.tensor(values.subarray(off, off + n), e.shape, 'float32')));
    off += n;
  }
}

function readManifest(modelJson: unknown): WeightsManifestEntry[] {
  const mj = modelJson as { weightsManifest?: unknown } | null;
  if (!mj || typeof mj !== 'object' || !Array.isArray(mj.weightsManifest)) {
    throw new FileFormatError(MODEL_JSON_FILE, 'has no weightsManifest array (not a tfjs model.json)');
  }
  const out: WeightsManifestEntry[] = [];
  for (const group of mj.weightsManifest as { weights?: unknown }[]) {
    if (!group || !Array.isArray(group.weights)) throw new FileFormatError(MODEL_JSON_FILE, 'a weightsManifest group has no weights array');
    for (const w of group.weights as Record<string, unknown>[]) {
      const name = w?.name;
      if (typeof name !== 'string') throw new FileFormatError(MODEL_JSON_FILE, 'a weight entry has no name');
      const shape = w.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new FileFormatError(MODEL_JSON_FILE, `weight '${name}' has no valid shape`);
      }
      if (w.dtype !== 'float32') throw new FileFormatError(MODEL_JSON_FILE, `weight '${name}' has dtype ${String(w.dtype)}; only float32 is supported`);
      if (w.quantization) throw new FileFormatError(MODEL_JSON_FILE, `weight '${name}' is quantized; quantized weights are not supported`);
      out.push({ name, shape: shape as number[], dtype: 'float32' });
    }
  }
  return out;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function littleEndianBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.byteLength);
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  } else {
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i], true);
  }
  return bytes;
}

function float32FromLittleEndian(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / 4;
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}
