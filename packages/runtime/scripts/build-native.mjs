#!/usr/bin/env node
// Builds native/*.c into dist/native/difflab-blas.node: the wasm backend's native kernels in Node
// (OpenBLAS matmuls and convolutions, vector math; see native/blas.c). Optional: without a C
// compiler, Node's headers or OpenBLAS (Debian: gcc, libopenblas-dev) it prints why and exits 0,
// and difflab runs every kernel in WebAssembly; where those are present, a compile error in
// native/*.c fails the build. DIFFLAB_NATIVE=0 skips the build.
//   node scripts/build-native.mjs          (part of `npm run build -w @difflab/runtime`)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(pkg, 'dist', 'native', 'difflab-blas.node');
const skip = (why) => {
  rmSync(out, { force: true });
  console.log(`difflab-blas: not built (${why}); matmuls, convolutions and vector math run in WebAssembly`);
  process.exit(0);
};

if (process.env.DIFFLAB_NATIVE === '0') skip('DIFFLAB_NATIVE=0');
if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`no build recipe for ${process.platform}`);
const cc = process.env.CC || 'cc';
const headers = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);
if (!headers) skip("Node's C headers (node_api.h) not found next to the node binary");
const cflags = (process.env.DIFFLAB_BLAS_CFLAGS ?? '').split(' ').filter(Boolean);
const libs = (process.env.DIFFLAB_BLAS_LIBS ?? '-lopenblas').split(' ').filter(Boolean);
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
// First a probe: can this machine compile and link against OpenBLAS at all? If not, the addon is
// optional and skipped. If it can, a failure to compile the addon is a bug in it: the build fails.
const probeDir = mkdtempSync(join(tmpdir(), 'difflab-blas-'));
try {
  writeFileSync(join(probeDir, 'probe.c'), '#include <cblas.h>\nint main(void) { float a = 1, b = 1, c = 0; cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1); return c == 1.0f ? 0 : 1; }\n');
  execFileSync(cc, [...cflags, join(probeDir, 'probe.c'), '-o', join(probeDir, 'probe'), ...libs], { stdio: ['ignore', 'ignore', 'pipe'] });
} catch (e) {
  const msg = String(e.stderr ?? e.message).split('\n').find((l) => /error|not found|cannot/i.test(l)) ?? String(e.message).split('\n')[0];
  skip(`${cc} cannot build against OpenBLAS: ${msg.trim()}; on Debian: apt-get install gcc libopenblas-dev`);
} finally {
  rmSync(probeDir, { recursive: true, force: true });
}

// -march=native: the addon is built on the machine that runs it (vmath.c's loops then use AVX2 /
// AVX-512); a compiler that rejects it builds for the baseline ISA.
const sources = readdirSync(join(pkg, 'native')).filter((f) => f.endsWith('.c')).sort().map((f) => join(pkg, 'native', f));
const compile = (arch) =>
  execFileSync(cc, ['-O3', ...arch, '-fno-math-errno', '-fno-trapping-math', '-shared', '-fPIC', '-pthread', '-Wall', '-I', headers, ...cflags, ...sources, '-o', tmp, ...libs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
try {
  try {
    compile(['-march=native']);
  } catch {
    compile([]);
  }
} catch (e) {
  rmSync(tmp, { force: true });
  rmSync(out, { force: true });
  console.error(`difflab-blas: the addon failed to compile (a bug in native/*.c):\n${String(e.stderr ?? e.message)}`);
  process.exit(1);
}
renameSync(tmp, out);
console.log(`difflab-blas: built ${join('dist', 'native', 'difflab-blas.node')}`);
