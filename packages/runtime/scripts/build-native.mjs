#!/usr/bin/env node
// Builds native/blas.c into dist/native/difflab-blas.node: OpenBLAS's sgemm for the wasm
// backend's matmul kernels in Node (see native/blas.c). Optional: without a C compiler, Node's
// headers or OpenBLAS (Debian: gcc, libopenblas-dev) it prints why and exits 0, and difflab runs
// its matmuls in WebAssembly. DIFFLAB_NATIVE=0 skips the build.
//   node scripts/build-native.mjs          (part of `npm run build -w @difflab/runtime`)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
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
  const msg = String(e.stderr ?? e.message).split('\n').find((l) => /error|not found|cannot/i.test(l)) ?? String(e.message).split('\n')[0];
  skip(`${cc} failed: ${msg.trim()}; on Debian: apt-get install gcc libopenblas-dev`);
}
renameSync(tmp, out);
console.log(`difflab-blas: built ${join('dist', 'native', 'difflab-blas.node')}`);
