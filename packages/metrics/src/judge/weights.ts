/**
 * Judge weights in TensorFlow.js' `model.json` + `weights.bin` format (what `tf.io` and
 * `tensorflowjs_converter` write, and how @difflab/models stores denoisers):
 * `weightsManifest: [{ paths: ['weights.bin'], weights: [{ name, shape, dtype }] }]`, the values
 * concatenated in manifest order as little-endian float32. `modelTopology` holds the judge's
 * configuration (`JudgeNet` is rebuilt from it), `userDefinedMetadata` free facts (how it was
 * trained, the accuracies measured). Pure functions on bytes; reading files is `load.ts`'s job.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, Rng } from '@difflab/core';
import { ImageJudge } from './judge.js';
import { type JudgeConfig, JudgeNet, parseJudgeConfig } from './network.js';

export const JUDGE_MODEL_FILE = 'model.json';
export const JUDGE_WEIGHTS_FILE = 'weights.bin';

export interface JudgeWeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
}

export interface JudgeModelJson {
  format: 'difflab-judge';
  generatedBy: string;
  convertedBy: null;
  modelTopology: { className: 'JudgeNet'; config: JudgeConfig };
  weightsManifest: { paths: string[]; weights: JudgeWeightEntry[] }[];
  userDefinedMetadata: Record<string, unknown>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Serialise a judge network (its weights in `namedWeights()` order) and free metadata. */
export function saveJudgeWeights(net: JudgeNet, metadata: Record<string, unknown> = {}): { modelJson: JudgeModelJson; weightsBin: Uint8Array } {
  const named = net.namedWeights();
  const entries: JudgeWeightEntry[] = [];
  const total = Object.values(named).reduce((n, v) => n + v.size, 0);
  const flat = new Float32Array(total);
  let off = 0;
  for (const [name, v] of Object.entries(named)) {
    entries.push({ name, shape: [...v.shape], dtype: 'float32' });
    flat.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  const bytes = new Uint8Array(flat.byteLength);
  if (LITTLE_ENDIAN) bytes.set(new Uint8Array(flat.buffer));
  else {
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < flat.length; i++) dv.setFloat32(4 * i, flat[i], true);
  }
  return {
    modelJson: {
      format: 'difflab-judge',
      generatedBy: '@difflab/metrics',
      convertedBy: null,
      modelTopology: { className: 'JudgeNet', config: net.config },
      weightsManifest: [{ paths: [JUDGE_WEIGHTS_FILE], weights: entries }],
      userDefinedMetadata: metadata,
    },
    weightsBin: bytes,
  };
}

function readEntries(mj: Record<string, unknown>, file: string): JudgeWeightEntry[] {
  if (!Array.isArray(mj.weightsManifest)) throw new FileFormatError(file, 'has no weightsManifest array (not a tfjs model.json)');
  const out: JudgeWeightEntry[] = [];
  for (const group of mj.weightsManifest as { weights?: unknown }[]) {
    if (!group || !Array.isArray(group.weights)) throw new FileFormatError(file, 'a weightsManifest group has no weights array');
    for (const w of group.weights as Record<string, unknown>[]) {
      const name = w?.name;
      if (typeof name !== 'string') throw new FileFormatError(file, 'a weight entry has no name');
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new FileFormatError(file, `weight '${name}' has no valid shape`);
      if (w.dtype !== 'float32') throw new FileFormatError(file, `weight '${name}' has dtype ${String(w.dtype)}; only float32 is supported`);
      out.push({ name, shape: w.shape as number[], dtype: 'float32' });
    }
  }
  return out;
}

/**
 * Rebuild a judge from its `model.json` (parsed object or JSON text) and `weights.bin` bytes.
 * Every weight of the network must be in the file with its shape, and no other; otherwise a
 * one-line FileFormatError names the weight. `files` names the two files in messages.
 */
export function judgeFromFiles(modelJson: unknown, weightsBin: Uint8Array, files: { model?: string; weights?: string } = {}): ImageJudge {
  const modelFile = files.model ?? JUDGE_MODEL_FILE;
  const weightsFile = files.weights ?? JUDGE_WEIGHTS_FILE;
  let mj = modelJson;
  if (typeof mj === 'string') {
    try {
      mj = JSON.parse(mj);
    } catch (e) {
      throw new FileFormatError(modelFile, `is not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
  }
  if (!mj || typeof mj !== 'object') throw new FileFormatError(modelFile, 'is not a JSON object');
  const obj = mj as Record<string, unknown>;
  const topology = obj.modelTopology as { className?: unknown; config?: unknown } | undefined;
  if (obj.format !== 'difflab-judge' || topology?.className !== 'JudgeNet') {
    throw new FileFormatError(modelFile, `is not a difflab judge (format '${String(obj.format)}', class '${String(topology?.className)}'; expected 'difflab-judge', 'JudgeNet')`);
  }
  let config: JudgeConfig;
  try {
    config = parseJudgeConfig(topology.config, 'modelTopology.config');
  } catch (e) {
    throw new FileFormatError(modelFile, (e as Error).message);
  }
  const entries = readEntries(obj, modelFile);
  const expectedBytes = entries.reduce((n, e) => n + 4 * e.shape.reduce((a, b) => a * b, 1), 0);
  if (weightsBin.byteLength !== expectedBytes) {
    throw new FileFormatError(weightsFile, `holds ${weightsBin.byteLength} bytes but ${modelFile} lists ${expectedBytes} bytes of float32 weights`);
  }
  const net = new JudgeNet(config, new Rng(0));
  try {
    const named = net.namedWeights();
    const seen = new Set<string>();
    for (const e of entries) {
      const v = named[e.name];
      if (!v) throw new FileFormatError(modelFile, `weight '${e.name}' is not a weight of this judge (weights: ${Object.keys(named).join(', ')})`);
      if (seen.has(e.name)) throw new FileFormatError(modelFile, `weight '${e.name}' is listed twice`);
      seen.add(e.name);
      if (v.shape.length !== e.shape.length || v.shape.some((d, i) => d !== e.shape[i])) {
        throw new FileFormatError(modelFile, `weight '${e.name}' has shape [${e.shape}] in the file but [${v.shape}] in the judge`);
      }
    }
    const missing = Object.keys(named).filter((n) => !seen.has(n));
    if (missing.length) throw new FileFormatError(modelFile, `weight '${missing[0]}' of the judge is missing from the file`);
    const values = new Float32Array(expectedBytes / 4);
    if (LITTLE_ENDIAN) new Uint8Array(values.buffer).set(weightsBin);
    else {
      const dv = new DataView(weightsBin.buffer, weightsBin.byteOffset, weightsBin.byteLength);
      for (let i = 0; i < values.length; i++) values[i] = dv.getFloat32(4 * i, true);
    }
    let off = 0;
    for (const e of entries) {
      const v = named[e.name];
      tf.tidy(() => v.assign(tf.tensor(values.subarray(off, off + v.size), e.shape, 'float32')));
      off += v.size;
    }
  } catch (e) {
    net.dispose();
    throw e;
  }
  const meta = obj.userDefinedMetadata;
  return new ImageJudge(net, meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : {});
}
