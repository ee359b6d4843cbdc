/**
 * The judges shipped with this package: trained weights in `judges/<name>/model.json` +
 * `weights.bin` beside `src/` and `dist/` (listed in package.json's `files`), trained by
 * `tools/judges` (see the README). `readJudgeFile` is the only code that touches the file
 * system; a browser build replaces it with `setJudgeFileReader` (e.g. with bytes fetched
 * beforehand), or fetches the two files itself and calls `judgeFromFiles`.
 */
import { ConfigError, FileFormatError } from '@difflab/core';
import type { Judge } from './judge.js';
import { JUDGE_MODEL_FILE, JUDGE_WEIGHTS_FILE, judgeFromFiles } from './weights.js';

/** The judges this package ships. */
export const JUDGE_NAMES = ['mnist', 'faces'] as const;
export type JudgeName = (typeof JUDGE_NAMES)[number];

/** Reads one file of a shipped judge: `name` is the judge, `file` 'model.json' or 'weights.bin'. */
export type JudgeFileReader = (name: string, file: string) => Uint8Array;

/** Where the shipped judge files are, as a URL (from `src/judge/` and `dist/judge/` alike). */
export function judgeFileUrl(name: string, file: string): URL {
  return new URL(`../../judges/${name}/${file}`, import.meta.url);
}

/** Node: read the file beside the package (synchronously, through `process.getBuiltinModule`, so no static `node:` import). */
function readJudgeFileInNode(name: string, file: string): Uint8Array {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    throw new Error(`judge '${name}': reading ${file} needs Node >= 20.16; in a browser call setJudgeFileReader() or judgeFromFiles() with fetched files`);
  }
  const fs = proc.getBuiltinModule('fs') as typeof import('node:fs');
  const { fileURLToPath } = proc.getBuiltinModule('url') as typeof import('node:url');
  const url = judgeFileUrl(name, file);
  const path = url.protocol === 'file:' ? fileURLToPath(url) : url.href;
  if (url.protocol !== 'file:' || !fs.existsSync(url)) {
    throw new FileFormatError(path, `is missing: the '${name}' judge's weights are not installed (train them with tools/judges, see the @difflab/metrics README)`);
  }
  return new Uint8Array(fs.readFileSync(url));
}

let reader: JudgeFileReader = readJudgeFileInNode;

/** Replace how shipped judge files are read (browser builds, tests); returns the previous reader. */
export function setJudgeFileReader(read: JudgeFileReader): JudgeFileReader {
  const previous = reader;
  reader = read;
  return previous;
}

/** One file of a shipped judge, through the current reader. */
export function readJudgeFile(name: string, file: string): Uint8Array {
  return reader(name, file);
}

/**
 * The shipped judge `name` ('mnist': digits, trained at 28x28, reads 32x32 too; 'faces': the
 * 32x32 RGB faces, one head per attribute). The caller owns it: `dispose()` when done.
 *
 * @throws ConfigError('judge', ...) for an unknown name
 * @throws FileFormatError naming the file when a weights file is missing or malformed
 */
export function loadJudge(name: JudgeName): Judge {
  if (!(JUDGE_NAMES as readonly string[]).includes(name)) throw new ConfigError('judge', `unknown judge '${String(name)}'; available: ${JUDGE_NAMES.join(', ')}`);
  const modelBytes = readJudgeFile(name, JUDGE_MODEL_FILE);
  const weights = readJudgeFile(name, JUDGE_WEIGHTS_FILE);
  const files = { model: `judges/${name}/${JUDGE_MODEL_FILE}`, weights: `judges/${name}/${JUDGE_WEIGHTS_FILE}` };
  return judgeFromFiles(new TextDecoder().decode(modelBytes), weights, files);
}
