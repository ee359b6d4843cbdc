/**
 * Training checkpoints: everything `difflab train --resume RUN` needs to continue a run exactly
 * where it stopped, written so that a crash at any moment (SIGKILL, power loss) leaves the last
 * complete checkpoint intact.
 *
 * Layout: RUN/checkpoints/step-000500/
 *   model.json + weights.bin   the live weights (tfjs manifest, float32 little-endian)
 *   state.json                 trainer state: step, Rng state, loss history, optimizer and EMA
 *                              counters; the large arrays are in state.bin
 *   state.bin                  Adam's m and v, then the EMA shadow weights, float32 LE
 *   manifest.json              written last: each file's size and SHA-256, the step
 *
 * Atomicity: the files go into a hidden temporary directory beside the final one, each written
 * and fsynced; the manifest last; then the directory is renamed to `step-NNNNNN` and the parent
 * directory fsynced. A reader only ever sees complete checkpoints under their final names, and
 * `readCheckpoint` checks every file against the manifest (size, then SHA-256), naming the first
 * file that does not match. Older checkpoints beyond `keep` are removed after the new one is in
 * place.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError } from '@difflab/core';
import type { TrainerState } from '@difflab/training';
import { writeFileAtomic } from './io.js';

export const CHECKPOINT_DIR = 'checkpoints';
const FORMAT = 'difflab-checkpoint';
const FILES = ['model.json', 'weights.bin', 'state.json', 'state.bin'] as const;

export interface CheckpointManifest {
  format: typeof FORMAT;
  version: 1;
  step: number;
  files: Record<string, { bytes: number; sha256: string }>;
}

/** What a checkpoint holds: the live weights (model.json + weights.bin) and the trainer state. */
export interface CheckpointData {
  step: number;
  modelJson: unknown;
  weightsBin: Uint8Array;
  state: TrainerState;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const stepName = (step: number) => `step-${String(step).padStart(6, '0')}`;

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the renames stay atomic
  }
}

function toBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Split the state's large arrays into one float32 blob; state.json keeps their lengths. */
function packState(state: TrainerState): { json: string; bin: Uint8Array } {
  const { m, v } = state.optimizer;
  const shadow = state.ema?.shadow ?? [];
  const all = new Float32Array(m.length + v.length + shadow.length);
  all.set(m, 0);
  all.set(v, m.length);
  all.set(shadow, m.length + v.length);
  const json = {
    ...state,
    optimizer: { ...state.optimizer, m: m.length, v: v.length },
    ema: state.ema ? { ...state.ema, shadow: shadow.length } : null,
  };
  return { json: `${JSON.stringify(json)}\n`, bin: toBytes(all) };
}

function unpackState(jsonText: string, bin: Uint8Array, where: string): TrainerState {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(jsonText);
  } catch (e) {
    throw new FileFormatError(join(where, 'state.json'), `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const opt = raw.optimizer as { m: number; v: number } & Record<string, unknown>;
  const ema = raw.ema as ({ shadow: number } & Record<string, unknown>) | null;
  const counts = [opt?.m, opt?.v, ema ? ema.shadow : 0];
  if (!counts.every((c) => Number.isInteger(c) && (c as number) >= 0)) throw new FileFormatError(join(where, 'state.json'), 'optimizer / EMA array lengths are missing');
  const total = (counts as number[]).reduce((a, b) => a + b, 0);
  if (bin.byteLength !== 4 * total) throw new FileFormatError(join(where, 'state.bin'), `holds ${bin.byteLength} bytes; state.json lists ${4 * total}`);
  const f = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const [nm, nv] = counts as number[];
  return {
    ...(raw as unknown as TrainerState),
    optimizer: { ...(opt as unknown as TrainerState['optimizer']), m: Array.from(f.subarray(0, nm)), v: Array.from(f.subarray(nm, nm + nv)) },
    ema: ema ? { ...(ema as unknown as NonNullable<TrainerState['ema']>), shadow: Array.from(f.subarray(nm + nv)) } : null,
  };
}

/**
 * Write a checkpoint of `step` under RUN/checkpoints atomically (see the file comment) and keep
 * the newest `keep` of them. Returns its directory.
 */
export function writeCheckpoint(runDir: string, data: { step: number; modelJson: unknown; weightsBin: Uint8Array; state: TrainerState }, keep = 2): string {
  const root = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(root)) mkdirSync(root);
  const name = stepName(data.step);
  const final = join(root, name);
  const tmp = join(root, `.${name}.${process.pid}.${Date.now().toString(36)}.tmp`);
  mkdirSync(tmp);
  try {
    const { json, bin } = packState(data.state);
    const contents: Record<(typeof FILES)[number], Uint8Array> = {
      'model.json': Buffer.from(`${JSON.stringify(data.modelJson, null, 2)}\n`, 'utf8'),
      'weights.bin': data.weightsBin,
      'state.json': Buffer.from(json, 'utf8'),
      'state.bin': bin,
    };
    const manifest: CheckpointManifest = { format: FORMAT, version: 1, step: data.step, files: {} };
    for (const f of FILES) {
      writeFileAtomic(join(tmp, f), contents[f]);
      manifest.files[f] = { bytes: contents[f].byteLength, sha256: sha256(contents[f]) };
    }
    writeFileAtomic(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    fsyncDir(tmp);
    if (existsSync(final)) rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    fsyncDir(root);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  for (const old of listCheckpoints(runDir).slice(0, -keep)) rmSync(join(root, stepName(old)), { recursive: true, force: true });
  return final;
}

/**
 * Remove what interrupted writes left in RUN/checkpoints (hidden `*.tmp` directories). Call it
 * when a run starts; nothing else writes there then.
 */
export function removeStaleTemporaries(runDir: string): void {
  const root = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(root)) return;
  for (const n of readdirSync(root)) if (n.startsWith('.') && n.endsWith('.tmp')) rmSync(join(root, n), { recursive: true, force: true });
}

/** Steps of the complete-looking checkpoints of a run (named step-N with a manifest), ascending. */
export function listCheckpoints(runDir: string): number[] {
  const root = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => /^step-(\d{6,})$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(root, m[0], 'manifest.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Read and verify one checkpoint directory: every file's size and SHA-256 against the manifest. */
export function readCheckpoint(dir: string): CheckpointData {
  const mPath = join(dir, 'manifest.json');
  if (!existsSync(mPath)) throw new FileFormatError(mPath, 'missing; not a complete checkpoint');
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(readFileSync(mPath, 'utf8'));
  } catch (e) {
    throw new FileFormatError(mPath, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (manifest?.format !== FORMAT || manifest.version !== 1 || !Number.isInteger(manifest.step) || typeof manifest.files !== 'object') {
    throw new FileFormatError(mPath, `not a difflab checkpoint manifest (format '${FORMAT}', version 1)`);
  }
  const bytes: Record<string, Uint8Array> = {};
  for (const f of FILES) {
    const p = join(dir, f);
    const want = manifest.files[f];
    if (!want) throw new FileFormatError(mPath, `lists no '${f}'`);
    if (!existsSync(p)) throw new FileFormatError(p, 'missing from the checkpoint');
    const size = statSync(p).size;
    if (size !== want.bytes) throw new FileFormatError(p, `is ${size} bytes, the manifest says ${want.bytes}: corrupt or truncated`);
    const b = new Uint8Array(readFileSync(p));
    if (sha256(b) !== want.sha256) throw new FileFormatError(p, 'SHA-256 differs from the manifest: the file is corrupt');
    bytes[f] = b;
  }
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(Buffer.from(bytes['model.json']).toString('utf8'));
  } catch (e) {
    throw new FileFormatError(join(dir, 'model.json'), `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const state = unpackState(Buffer.from(bytes['state.json']).toString('utf8'), bytes['state.bin'], dir);
  if (state.step !== manifest.step) throw new FileFormatError(join(dir, 'state.json'), `is for step ${state.step}, the manifest says ${manifest.step}`);
  return { step: manifest.step, modelJson, weightsBin: bytes['weights.bin'], state };
}

/** The newest checkpoint of a run, verified; null when the run has none. */
export function readLatestCheckpoint(runDir: string): (CheckpointData & { dir: string }) | null {
  const steps = listCheckpoints(runDir);
  if (steps.length === 0) return null;
  const dir = join(runDir, CHECKPOINT_DIR, stepName(steps[steps.length - 1]));
  return { ...readCheckpoint(dir), dir };
}
