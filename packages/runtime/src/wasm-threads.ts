/**
 * Multi-threaded tfjs-backend-wasm in Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (`wasm-out/tfjs-backend-wasm-threaded-simd.*`,
 * Emscripten pthreads + XNNPACK's pthreadpool) but never uses it in Node: its
 * `WASM_HAS_MULTITHREAD_SUPPORT` flag is hard-coded to false there (tfjs issue #3830), and forcing
 * the flag fails because `init()` hands Emscripten the pthread worker as a `blob:` URL (and the
 * main script as a Blob), which `worker_threads.Worker` rejects (ERR_WORKER_PATH).
 *
 * This module starts the threaded build itself, the way the Emscripten glue expects in Node:
 * - the pthread worker source (`wasmWorkerContents`, shipped as a JS string) is written to a real
 *   file in a private temp directory (`mkdtemp`, removed at exit) and `locateFile` returns its path;
 * - `mainScriptUrlOrBlob` is the path of the glue file itself, which each worker `importScripts`
 *   (reads and evaluates) before instantiating the shared wasm module;
 * - `instantiateWasm` instantiates the `.wasm` with the glue's imports, replacing one import:
 *   `emscripten_num_logical_cores`. tfjs's `init_with_threads_count(n)` caps the XNNPACK pool at
 *   `logical_cores / 2` (it assumes hyper-threading), which is 1 thread on a 2-core machine; the
 *   replacement reports `2 * threads` so the requested count is honoured;
 * - the module is wrapped like tfjs's own `init()` (`module.tfjs = { cwraps }`), handed to the
 *   exported `BackendWasm` class, and registered in place of the stock `wasm` factory, so the
 *   public API, the kernels and their numerics are those of the stock backend.
 *
 * Call it before `tf.setBackend('wasm')` initialises the backend. Anything that stops the
 * threaded build from loading leaves the stock single-threaded factory in place, with a note.
 */
import { ConfigError } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';

/** Workers the threaded build pre-spawns (its compiled PTHREAD_POOL_SIZE) and tfjs's thread cap. */
export const MAX_WASM_THREADS = 8;

/** How long the threaded module (and its worker pool) may take to load before we give up. */
const LOAD_TIMEOUT_MS = 60_000;

const GLUE = 'wasm-out/tfjs-backend-wasm-threaded-simd.js';
const WORKER_SOURCE = 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
const BINARY = 'wasm-out/tfjs-backend-wasm-threaded-simd.wasm';

/** The factory this module registered for 'wasm', to recognise a second call. */
let registeredFactory: (() => tf.KernelBackend) | undefined;

export interface WasmThreadsResult {
  /** XNNPACK threads the wasm backend will use (main thread included); 1 when not enabled. */
  threads: number;
  /** What was done and why, one line each. */
  notes: string[];
}

/** The parts of the Emscripten module that tfjs's BackendWasm and this file use. */
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => unknown;
  PThread: { unusedWorkers: unknown[]; runningWorkers: Array<{ unref(): void }> };
  tfjs?: unknown;
}
type Factory = (config: Record<string, unknown>) => Promise<ThreadedModule>;
interface WasmPackage {
  BackendWasm: new (wasm: unknown) => tf.KernelBackend;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/**
 * Make the `wasm` backend run tfjs-backend-wasm's threaded SIMD build with `threads` XNNPACK
 * threads (the calling thread plus `threads - 1` worker_threads). Node only; must run before the
 * `wasm` backend is initialised. Loads the module eagerly, so the returned `threads` is the count
 * the backend really got (`getThreadsCount()` of tfjs-backend-wasm reports it after setBackend).
 *
 * @throws ConfigError('wasmThreads', ...) when `threads` is not an integer >= 1
 */
export async function enableWasmThreads(threads: number): Promise<WasmThreadsResult> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ConfigError('wasmThreads', `must be an integer >= 1; got ${String(threads)}`);
  }
  const notes: string[] = [];
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') {
    notes.push('wasm threads: not Node; in a browser use setThreadsCount with cross-origin isolation');
    return { threads: 1, notes };
  }
  const wasmPkg = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmPackage;
  if (registeredFactory !== undefined && tf.findBackendFactory('wasm') === registeredFactory) {
    const current = wasmPkg.getThreadsCount();
    notes.push(`wasm threads: already enabled (${current} thread(s)); unchanged`);
    return { threads: current, notes };
  }
  if (tf.engine().registry.wasm != null) {
    const current = wasmPkg.getThreadsCount();
    notes.push(`wasm threads: the wasm backend is already initialised (${current} thread(s)); unchanged`);
    return { threads: current, notes };
  }
  if (threads === 1) {
    notes.push('wasm threads: 1 thread requested; the stock single-threaded build is kept');
    return { threads: 1, notes };
  }
  let n = threads;
  if (n > MAX_WASM_THREADS) {
    notes.push(`wasm threads: ${threads} requested; capped at ${MAX_WASM_THREADS} (the threaded build's worker pool)`);
    n = MAX_WASM_THREADS;
  }
  const os = await import('node:os');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  if (n > cores) notes.push(`wasm threads: ${n} threads on ${cores} core(s); expect no gain past ${cores}`);

  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd || typeof SharedArrayBuffer === 'undefined') {
    notes.push('wasm threads: this Node lacks wasm SIMD or SharedArrayBuffer; staying single-threaded');
    return { threads: 1, notes };
  }

  let backend: tf.KernelBackend;
  let module: ThreadedModule;
  try {
    module = await loadThreadedModule(n);
    wasmPkg.setThreadsCount(n);
    backend = new wasmPkg.BackendWasm(module);
  } catch (e) {
    notes.push(`wasm threads: the threaded build did not load (${(e as Error).message}); staying single-threaded`);
    return { threads: 1, notes };
  }
  const got = wasmPkg.getThreadsCount();
  // Emscripten ref()s a worker while its pthread runs; XNNPACK's pool threads run (parked on a
  // futex) for the life of the process, so without this Node would never exit on its own.
  for (const worker of module.PThread.runningWorkers) worker.unref();
  // tfjs's own init would have created this factory; replace it with one that returns our instance.
  tf.removeBackend('wasm');
  registeredFactory = () => backend;
  tf.registerBackend('wasm', registeredFactory, 2);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const idle = module.PThread.unusedWorkers.length;
  notes.push(`wasm threads: threaded SIMD build, ${got} XNNPACK thread(s) (${idle} idle pthread worker(s) kept)`);
  return { threads: got, notes };
}

/** Instantiate tfjs-backend-wasm's threaded SIMD Emscripten module with Node-usable worker paths. */
async function loadThreadedModule(threads: number): Promise<ThreadedModule> {
  const [{ createRequire }, fs, os, path, vm] = await Promise.all([
    import('node:module'),
    import('node:fs'),
    import('node:os'),
    import('node:path'),
    import('node:vm'),
  ]);
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const gluePath = path.join(root, GLUE);
  const binaryPath = path.join(root, BINARY);
  const factory = require(gluePath) as Factory;
  const { wasmWorkerContents } = require(path.join(root, WORKER_SOURCE)) as { wasmWorkerContents: string };
  // The string came from a template literal: its "\n" escapes (inside the worker's own string
  // literals) became newlines; tfjs undoes this the same way before making its Blob.
  const workerSource = wasmWorkerContents.replace(/\n/g, '\\n');
  new vm.Script(workerSource, { filename: 'tfjs-backend-wasm-threaded-simd.worker.cjs' }); // throws on a syntax error here, not in a worker
  const workerPath = writeWorkerFile(fs, os, path, workerSource);
  const binary = fs.readFileSync(binaryPath);

  return new Promise<ThreadedModule>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready module after ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
    timer.unref();
    const fail = (e: unknown) => {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const config = {
      locateFile: (file: string, prefix: string) => {
        if (file.endsWith('.worker.js')) return workerPath;
        if (file.endsWith('.wasm')) return binaryPath;
        return prefix + file;
      },
      mainScriptUrlOrBlob: gluePath,
      instantiateWasm: (
        imports: { env: Record<string, unknown> },
        receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
      ) => {
        // tfjs caps its pool at logical_cores / 2; report enough cores for `threads`.
        imports.env.emscripten_num_logical_cores = () => 2 * threads;
        WebAssembly.instantiate(binary, imports as WebAssembly.Imports).then(
          (r) => receive(r.instance, r.module),
          fail,
        );
        return {};
      },
      onAbort: (what: unknown) => fail(new Error(`aborted: ${String(what)}`)),
    };
    factory(config).then((module) => {
      clearTimeout(timer);
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      resolve(module);
    }, fail);
  });
}

/** Write the pthread worker script to a private temp directory, removed when the process exits. */
function writeWorkerFile(
  fs: typeof import('node:fs'),
  os: typeof import('node:os'),
  path: typeof import('node:path'),
  source: string,
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'difflab-wasm-threads-'));
  const file = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs');
  fs.writeFileSync(file, source, { mode: 0o600 });
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return file;
}
