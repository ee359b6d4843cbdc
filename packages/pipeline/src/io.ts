import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, statSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '@difflab/core';

/**
 * Write a file atomically: write a temp file beside the target, fsync it, rename it over the
 * target, then fsync the directory. A reader sees the old file or the new one, never half.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const f = openAtomic(path);
  try {
    f.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    f.commit();
  } catch (e) {
    f.abort();
    throw e;
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some file systems do not allow fsync on directories; the rename is still atomic.
  }
}

/**
 * A file written in pieces, atomically: the pieces go to a temp file beside `path`; `commit()`
 * fsyncs it and renames it over `path`; `abort()` removes it. Until commit, `path` is untouched.
 */
export function openAtomic(path: string): { write(bytes: Uint8Array): void; commit(): void; abort(): void } {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  let open = true;
  let done = false;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    write(bytes) {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    },
    commit() {
      fsyncSync(fd);
      close();
      renameSync(tmp, path);
      done = true;
    },
    /** Remove the temp file (a no-op after commit). */
    abort() {
      if (done) return;
      close();
      rmSync(tmp, { force: true });
      done = true;
    },
  };
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * mkdir -p, one level at a time. (Node 20's `mkdirSync(dir, { recursive: true })` loops forever
 * on some paths, e.g. under /proc, where creating the parent keeps failing with ENOENT.)
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  while (!existsSync(cur)) {
    missing.push(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

/** Create an output directory (and parents); a one-line error when it cannot be made or written. */
export function ensureOutDir(dir: string, field = '--out'): string {
  if (!dir || typeof dir !== 'string') throw new ConfigError(field, 'an output directory is required');
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new ConfigError(field, `'${dir}' exists and is not a directory`);
  try {
    makeDirs(dir);
    const probe = join(dir, `.difflab-write-probe-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(field, `cannot write to '${dir}' (${code}); choose a writable directory`);
  }
  return dir;
}
