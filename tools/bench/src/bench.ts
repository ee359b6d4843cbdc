/**
 * `npm run bench [-- --quick] [--backends wasm,wasm:2,wasm-only,cpu,webgpu] [--cases a,b] [--rounds N] [--out FILE]`
 *   [--torch-device cpu|cuda] [--python PATH] [--runner FILE] [--torch-script FILE] [--runner-args '...']
 *   [--default-malloc]
 *
 * `--torch-device cuda` times PyTorch on the GPU (synchronized); `--python` names a Python
 * that has torch (no apt-get then); `--runner` / `--torch-script` point at a bundled case runner
 * and the reference script when the bench runs from a bundle (tools/bench/gpu/).
 *
 * Times each case for difflab on every requested backend and for PyTorch
 * (tools/bench/reference_torch.py, Debian's python3-torch, installed with apt-get when missing;
 * run with 1 and 2 threads, the faster is the reference),
 * alternating difflab and PyTorch runs, each in its own process (peak RSS per case). Prints a
 * table of medians and the ratio difflab / PyTorch, and writes everything as JSON.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

interface CaseSpec {
  name: string;
  /** Case id in both implementations. */
  id: string;
  args: Record<string, number>;
  unit: 'ms/step' | 'ms/run' | 's to target';
  target?: number;
  full?: boolean;
  /** Rounds for this case (at most the run's --rounds). */
  rounds?: number;
  /** Time only the first of --backends. */
  firstBackendOnly?: boolean;
  /** PyTorch thread counts for this case (default --torch-threads). */
  torchThreads?: number[];
}

const argv = process.argv.slice(2);
const flag = (k: string) => argv.includes(`--${k}`);
const opt = (k: string, d: string) => {
  const i = argv.indexOf(`--${k}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : d;
};
const quick = flag('quick');
// wasm: with the native addon (the default in Node); wasm:2: plus 2 WebAssembly threads;
// wasm-only: every kernel in WebAssembly (what a browser tab runs), full runs only.
const backends = opt('backends', quick ? 'wasm,wasm:2' : 'wasm,wasm:2,wasm-only').split(',');
const rounds = Number(opt('rounds', quick ? '1' : '3'));
// --quick times PyTorch with one thread only (the faster for 10 of 11 cases in the last full run).
const torchThreads = opt('torch-threads', quick ? '1' : '1,2').split(',').map(Number);
const outFile = opt('out', join(root, 'out', 'bench', quick ? 'bench-quick.json' : 'bench.json'));
const it = (full: number, q: number) => (quick ? q : full);
const torchScript = opt('torch-script', join(root, 'tools', 'bench', 'reference_torch.py'));
const caseRunner = opt('runner', join(here, 'case-runner.js'));
const torchDevice = opt('torch-device', 'cpu');
// --runner-args '--submit-batch 32': extra arguments for every difflab case run.
const runnerArgs = opt('runner-args', '').split(' ').filter(Boolean);

const ALL: CaseSpec[] = [
  // Warm-up: a training run is thousands of steps; V8 optimises tfjs' engine code over the first
  // few hundred (steps 20-200 ran ~30-40% slower than steps 300+ here), so both sides get 300, in
  // --quick too (100 left the b256 case at ~0.8 where the full run measured ~0.6; 300 steps cost
  // ~0.5-1.5 s a run).
  { name: 'spiral train step, batch 32', id: 'spiral-train', args: { batch: 32, iters: it(200, 50), warmup: 300, repeats: 3 }, unit: 'ms/step' },
  { name: 'spiral train step, batch 256', id: 'spiral-train', args: { batch: 256, iters: it(200, 50), warmup: 300, repeats: 3 }, unit: 'ms/step', target: 0.7 },
  { name: 'spiral train step, batch 1024', id: 'spiral-train', args: { batch: 1024, iters: it(50, 20), warmup: 300, repeats: 3 }, unit: 'ms/step' },
  // 2 rounds (of 2 runs each): 3 made the full run ~20 minutes on the 2-core machine.
  { name: 'spiral sample 10k, DDPM 50 steps', id: 'spiral-sample-ddpm', args: { repeats: it(2, 1) }, unit: 'ms/run', target: 1.0, rounds: 2 },
  { name: 'spiral sample 10k, DDIM 20 steps', id: 'spiral-sample-ddim20', args: { repeats: it(2, 1) }, unit: 'ms/run', target: 1.0, rounds: 2 },
  { name: 'spiral time to SW2 <= 3x floor', id: 'spiral-time-to-quality', args: { target: 3, 'max-steps': 20000 }, unit: 's to target', target: 1.0, full: true, rounds: 2 },
  // The image cases: 3 rounds (full run). One process on this VM runs ~10% faster or slower than
  // the next with the same settings (both sides), and 2 rounds of one run each left a case's
  // median to one or two processes (UNet sampling: 1.85-2.26 s in back-to-back processes).
  { name: 'patch transformer train step, batch 64', id: 'image-train-patch-transformer', args: { batch: 64, iters: it(6, 3), warmup: 2, repeats: it(2, 1) }, unit: 'ms/step', target: 1.0, rounds: it(3, 2) },
  { name: 'conv UNet train step, batch 64', id: 'image-train-unet', args: { batch: 64, iters: it(3, 2), warmup: 1, repeats: it(2, 1) }, unit: 'ms/step', target: 1.0, rounds: it(3, 2) },
  { name: 'conv UNet sample 16 images, 50 steps', id: 'image-sample-unet', args: { repeats: 2 }, unit: 'ms/run', target: 1.0, full: true, rounds: 3 },
  // one backend and one torch thread count: the growth, not the speed, is the point
  { name: 'spiral memory, 10,000 train steps (b256)', id: 'spiral-memory', args: { batch: 256, iters: 10_000 }, unit: 'ms/step', full: true, rounds: 1, firstBackendOnly: true, torchThreads: [1] },
  { name: 'raw matmul, 3 model shapes (ceiling)', id: 'gemm', args: { iters: it(20, 5), warmup: 3, repeats: 3 }, unit: 'ms/run' },
];

function ensureTorch(): string | null {
  const given = opt('python', '');
  if (given) {
    if (spawnSync(given, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return given;
    console.error(`--python ${given}: cannot import torch; only difflab is timed`);
    return null;
  }
  const py = '/usr/bin/python3';
  const ok = () => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  if (existsSync(py) && ok()) return py;
  if (process.getuid?.() === 0) {
    console.error('installing python3-torch with apt-get (Debian) ...');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', 'python3-torch', 'libopenblas0-pthread'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (ok()) return py;
  }
  console.error('PyTorch is not available: only difflab is timed (install python3-torch)');
  return null;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 24, timeout: 30 * 60_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) return { error: `${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}` };
  return JSON.parse(line);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : Number.NaN;
};

function caseValue(r: Record<string, unknown>, unit: CaseSpec['unit']): number[] {
  if (r.error) return [];
  if (unit === 's to target') return [Number(r.seconds_train)];
  return (r.ms as number[]) ?? [];
}

const py = ensureTorch();
// glibc's malloc gives a large freed block back to the kernel (heap trim) and PyTorch frees its
// temporaries after every op, so each op page-faults its output in again; on this VM a page fault
// is slow, and the same PyTorch run took 1.0-7 s (DDPM sampling) or 2.2-7.4 s (UNet sampling)
// from one process to the next. Both sides run with trimming off (what jemalloc or tcmalloc users
// get), so the reference is PyTorch's stable speed; difflab's wasm heap never shrinks and does
// not change. --default-malloc keeps glibc's defaults.
const mallocEnv: Record<string, string> = flag('default-malloc')
  ? {}
  : { MALLOC_MMAP_THRESHOLD_: String(32 * 2 ** 20), MALLOC_TRIM_THRESHOLD_: String(2 ** 32), MALLOC_TOP_PAD_: String(256 * 2 ** 20) };
const runnerEnv: NodeJS.ProcessEnv = { ...process.env, ...mallocEnv };
const torchEnv: NodeJS.ProcessEnv = { ...process.env, ...mallocEnv };
// OpenBLAS settings that slow a current BLAS down on some CPUs (see the project's notes): both
// sides link the same OpenBLAS (PyTorch, and difflab's native addon), both run without them.
for (const env of [torchEnv, runnerEnv]) {
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
}
const torchVersion = py ? execFileSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim() : null;
// --cases a,b: those cases, in that order (a GPU run cut short keeps the first ones).
const wanted = opt('cases', '') ? opt('cases', '').split(',') : null;
const cases = wanted ? wanted.flatMap((id) => ALL.filter((c) => c.id === id)) : ALL.filter((c) => !(quick && c.full));
if (wanted && cases.length === 0) throw new Error(`--cases: none of ${wanted.join(', ')}; cases: ${[...new Set(ALL.map((c) => c.id))].join(', ')}`);
console.log(`difflab bench${quick ? ' --quick' : ''}: ${cases.length} cases, backends ${backends.join(', ')}, ${rounds} round(s); ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}, load ${loadavg()[0].toFixed(2)}`);

/** Per-case values copied from a runner's JSON line into the row's `extra`. */
const EXTRA_KEYS = ['steps', 'ratio', 'floor', 'tensorGrowth', 'gflops', 'rss_1k_mb', 'rss_end_mb', 'rss_growth_mb', 'device_name', 'peak_gpu_mb', 'adapter', 'dispatch_us', 'dispatch_scalar_upload_us', 'dispatch_tensor_upload_us', 'dispatches_per_call'];
type Row = { case: string; id: string; unit: string; target?: number; torch: number[]; torchByThreads: Record<number, number[]>; torchRss?: number; difflab: Record<string, number[]>; rss: Record<string, number>; extra: Record<string, unknown> };
const rows: Row[] = [];
const started = performance.now();
// PyTorch trains the spiral cases on difflab's own points and measures difflab's sliced W2
// (same reference draw, same directions), so the time-to-quality floor is one number for both.
const spiralData = join(dirname(outFile), 'spiral-data.json');
let torchSpiralArgs: string[] = [];
if (py && cases.some((c) => c.id.startsWith('spiral-'))) {
  const res = runJson(process.execPath, [caseRunner, 'spiral-data', '--backend', backends[0], '--out', spiralData], runnerEnv);
  if (res.error) console.error(`spiral data for PyTorch: ${res.error}; PyTorch draws its own swiss roll`);
  else torchSpiralArgs = ['--data', spiralData];
}
for (const c of cases) {
  const row: Row = { case: c.name, id: c.id, unit: c.unit, target: c.target, torch: [], torchByThreads: {}, difflab: {}, rss: {}, extra: {} };
  const cliArgs = Object.entries(c.args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const caseRounds = Math.min(rounds, c.rounds ?? rounds);
  for (let r = 0; r < caseRounds; r++) {
    // Alternate: difflab (each backend), then PyTorch, round after round.
    for (const b of c.firstBackendOnly ? backends.slice(0, 1) : backends) {
      const res = runJson(process.execPath, [caseRunner, c.id, '--backend', b, ...cliArgs, ...runnerArgs], runnerEnv);
      if (res.error) row.extra[`${b}.error`] = res.error;
      (row.difflab[b] ??= []).push(...caseValue(res, c.unit).map((v) => (c.unit === 's to target' ? v : v)));
      if (typeof res.peak_rss_mb === 'number') row.rss[b] = Math.max(row.rss[b] ?? 0, res.peak_rss_mb);
      for (const k of EXTRA_KEYS) if (k in res) row.extra[`${b}.${k}`] = res[k];
    }
    if (py) {
      // PyTorch at each thread count; the reference is its best median (on a busy 2-core
      // machine two OpenBLAS threads can be several times slower than one).
      // Every thread count in the first round; then only the faster one so far.
      const fastest = Object.entries(row.torchByThreads).sort((p, q) => median(p[1]) - median(q[1]))[0];
      for (const th of r === 0 || !fastest ? (c.torchThreads ?? torchThreads) : [Number(fastest[0])]) {
        const dataArgs = c.id.startsWith('spiral-') ? torchSpiralArgs : [];
        const res = runJson(py, [torchScript, c.id, ...cliArgs, ...dataArgs, '--threads', String(th), '--device', torchDevice], torchEnv);
        if (res.error) row.extra[`torch${th}.error`] = res.error;
        (row.torchByThreads[th] ??= []).push(...caseValue(res, c.unit));
        if (typeof res.peak_rss_mb === 'number') row.torchRss = Math.max(row.torchRss ?? 0, res.peak_rss_mb);
        for (const k of EXTRA_KEYS) if (k in res) row.extra[`torch${th}.${k}`] = res[k];
      }
    }
  }
  const best = Object.entries(row.torchByThreads).sort((a, b) => median(a[1]) - median(b[1]))[0];
  if (best) {
    row.torch = best[1];
    row.extra['torch.threads'] = Number(best[0]);
  }
  rows.push(row);
  // Written after every case, so a run cut short (a time limit) still leaves its finished rows.
  writeResult();
  const tm = median(row.torch);
  const parts = backends.map((b) => {
    const m = median(row.difflab[b] ?? []);
    return `${b} ${fmt(m)}${Number.isFinite(tm) && Number.isFinite(m) ? ` (${(m / tm).toFixed(2)}x)` : ''}`;
  });
  const notes = Object.entries(row.extra)
    .filter(([k]) => /gflops|growth|rss_end/i.test(k))
    .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : String(v)}`)
    .join(' ');
  console.log(`  ${c.name.padEnd(42)} torch ${fmt(tm)} (${row.extra['torch.threads'] ?? '?'} thr) | ${parts.join(' | ')} ${c.unit}${notes ? `  ${notes}` : ''}${row.extra[`${backends[0]}.error`] ? `  [${row.extra[`${backends[0]}.error`]}]` : ''}`);
}

/** Write the rows so far (atomically) as JSON; returns the seconds since the start. */
function writeResult(table?: string): number {
  const seconds = (performance.now() - started) / 1000;
  const result = {
    date: new Date().toISOString(),
    quick,
    complete: table !== undefined,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, load: loadavg(), node: process.version },
    torch: torchVersion,
    torchDevice,
    malloc: mallocEnv,
    seconds,
    rows: rows.map((r) => ({
      ...r,
      torchMedian: median(r.torch),
      difflabMedian: Object.fromEntries(backends.map((b) => [b, median(r.difflab[b] ?? [])])),
      ratio: Object.fromEntries(backends.map((b) => [b, median(r.difflab[b] ?? []) / median(r.torch)])),
    })),
    table,
  };
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(`${outFile}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${outFile}.tmp`, outFile);
  return seconds;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(2)) : 'n/a';
}

// Table and JSON.
const header = `| case | unit | PyTorch | ${backends.map((b) => `difflab ${b} | ratio ${b}`).join(' | ')} | target | peak RSS MB (torch / ${backends.join(' / ')}) |`;
const lines = rows.map((r) => {
  const tm = median(r.torch);
  const cells = backends.map((b) => {
    const m = median(r.difflab[b] ?? []);
    return `${fmt(m)} | ${Number.isFinite(m / tm) ? (m / tm).toFixed(2) : 'n/a'}`;
  });
  return `| ${r.case} | ${r.unit} | ${fmt(tm)} | ${cells.join(' | ')} | ${r.target !== undefined ? `<= ${r.target}` : ''} | ${fmt(r.torchRss ?? Number.NaN)} / ${backends.map((b) => fmt(r.rss[b] ?? Number.NaN)).join(' / ')} |`;
});
const table = [header, `|${'---|'.repeat(4 + 2 * backends.length)}`, ...lines].join('\n');
console.log(`\n${table}\n`);
const seconds = writeResult(table);
console.log(`wrote ${outFile} in ${seconds.toFixed(0)} s`);
