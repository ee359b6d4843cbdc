import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from '../../../tools/vitest/spawn.js';

// End-to-end tests of the built `difflab` command (npm test builds before it runs the tests).
const bin = fileURLToPath(new URL('../bin/difflab.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'difflab-cli-'));

async function difflab(...args: string[]) {
  const r = await runNode([bin, ...args]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit code 2, one line on stderr, no stack trace. */
function expectUserError(r: Awaited<ReturnType<typeof difflab>>, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(lines.filter((l) => !l.startsWith('(run with --help')).length).toBe(1);
}

describe('difflab CLI', () => {
  it('prints help and lists every plugin kind with defaults', async () => {
    const help = await difflab('--help');
    expect(help.code).toBe(0);
    for (const c of ['forward', 'train', 'sample', 'lab', 'ablate', 'plugins']) expect(help.stdout).toContain(c);
    const r = await difflab('plugins', '--json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { kind: string; id: string; defaults: Record<string, unknown> }[];
    const kinds = new Set(list.map((p) => p.kind));
    for (const k of ['dataset', 'schedule', 'timestep-embedding', 'input-embedding', 'positional-embedding', 'model', 'sampler', 'metric']) expect(kinds.has(k), k).toBe(true);
    expect(list.find((p) => p.kind === 'schedule' && p.id === 'linear')?.defaults).toMatchObject({ T: 1000, betaStart: 1e-4, betaEnd: 0.02 });
    const text = await difflab('plugins', '--kind', 'sampler');
    expect(text.stdout).toMatch(/sampler:\n\s+ddim/);
  });

  it('forward writes forward.png, forward.gif and forward.json', async () => {
    const out = join(tmp(), 'fw');
    const r = await difflab('forward', '--config', 'spiral-default', '--t', '0,1,37', '--n', '1000', '--out', out, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['forward.gif', 'forward.json', 'forward.png']);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('names where the wasm matmuls run on the backend line; --no-native-blas keeps them in WebAssembly', async () => {
    const dir = tmp();
    const built = existsSync(fileURLToPath(new URL('../../../packages/runtime/dist/native/difflab-blas.node', import.meta.url)));
    const on = await difflab('--backend', 'wasm', 'forward', '--t', '0,1', '--n', '200', '--out', join(dir, 'a'));
    expect(on.code, on.stderr).toBe(0);
    expect(on.stderr.split('\n')[0]).toBe(built ? 'backend: wasm (OpenBLAS matmul)' : 'backend: wasm');
    const off = await difflab('--backend', 'wasm', '--no-native-blas', 'forward', '--t', '0,1', '--n', '200', '--out', join(dir, 'b'));
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr.split('\n')[0]).toBe('backend: wasm');
    expect(readFileSync(join(dir, 'a', 'forward.json'), 'utf8')).toBe(readFileSync(join(dir, 'b', 'forward.json'), 'utf8'));
  });

  it('gives one-line errors with exit code 2 for bad input', async () => {
    const dir = tmp();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ extends: 'spiral-default', schedule: { id: 'cosinus' } }));
    expectUserError(await difflab('forward', '--config', bad, '--out', join(dir, 'o1')), /schedule\.id: unknown schedule 'cosinus'; available: .*cosine/);
    writeFileSync(bad, JSON.stringify({ extends: 'spiral-default', schedule: { id: 'linear', options: { T: 'many' } } }));
    expectUserError(await difflab('forward', '--config', bad, '--out', join(dir, 'o2')), /schedule\.options\.T: /);
    writeFileSync(bad, '{ "seed": 1,');
    expectUserError(await difflab('forward', '--config', bad, '--out', join(dir, 'o3')), /not valid JSON/);
    expectUserError(await difflab('forward', '--t', '0,x', '--out', join(dir, 'o4')), /--t must be a comma-separated list of non-negative integers/);
    expectUserError(await difflab('forward', '--t', '0,99', '--out', join(dir, 'o5')), /timestep 99 is outside \[0, 49\]/);
    expectUserError(await difflab('forward', '--config', 'nope', '--out', join(dir, 'o6')), /neither a file nor a preset/);
    expectUserError(await difflab('--backend', 'gpu3', 'forward'), /--backend.*gpu3.*Allowed choices are auto, wasm, cpu, webgpu/);
    expectUserError(await difflab('sample', '--run', join(dir, 'missing')), /--run: .* does not exist/);
    expectUserError(await difflab('lab', 'moon'), /unknown lab part 'moon'; available: spiral/);
    expectUserError(await difflab('ablate', '--grid', 'embedding=sinusoidal,nope', '--out', join(dir, 'o7')), /unknown timestep-embedding 'nope'/);
    expectUserError(await difflab('frobnicate'), /unknown command 'frobnicate'/);
    expectUserError(await difflab('lab', 'images', '--guidance-rescale', '1.5', '--out', join(dir, 'o8')), /--guidance-rescale must be a number in \[0, 1\], got '1\.5'/);
    expectUserError(await difflab('lab', 'images', '--guidance-rescale', 'x', '--out', join(dir, 'o8')), /--guidance-rescale must be a number in \[0, 1\], got 'x'/);
    for (const o of ['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'o8']) expect(existsSync(join(dir, o)), o).toBe(false);
  });

  // WebGPU through Dawn on Debian chromium's SwiftShader adapter (installed by .ci/run): every job
  // runs, at tiny sizes (the software adapter is slow).
  it.skipIf(!existsSync('/usr/lib/chromium/vk_swiftshader_icd.json'))('runs forward, train and sample on --backend webgpu', async () => {
    const dir = tmp();
    const cfg = join(dir, 'tiny.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        extends: 'spiral-default',
        dataset: { id: 'swiss-roll', options: { size: 200 } },
        model: { id: 'mlp', options: { hidden: 16, blocks: 1 } },
        timestepEmbedding: { id: 'sinusoidal', options: { dim: 8 } },
        inputEmbedding: { id: 'sinusoidal', options: { dim: 8 } },
        train: { steps: 10, batchSize: 32, logEvery: 5, progressEvery: 5 },
        sample: { n: 100 },
        metrics: ['sliced-w2'],
        forward: { t: [0, 49], n: 100 },
      }),
    );
    const fw = await difflab('--backend', 'webgpu', 'forward', '--config', cfg, '--out', join(dir, 'fw'));
    expect(fw.code, fw.stderr).toBe(0);
    expect(fw.stderr).toMatch(/^backend: webgpu/);
    const tr = await difflab('--backend', 'webgpu', 'train', '--config', cfg, '--out', join(dir, 'run'));
    expect(tr.code, tr.stderr).toBe(0);
    const sa = await difflab('--backend', 'webgpu', 'sample', '--run', join(dir, 'run'), '--sampler', 'ddim', '--steps', '5', '--out', join(dir, 's'));
    expect(sa.code, sa.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 's', 'metrics.json'), 'utf8'));
    expect(m.steps).toBe(5);
    expect(Number.isFinite(m.metrics['sliced-w2'].value)).toBe(true);
  });

  it('nfe-curve samples a run with several samplers and step counts, counting model evaluations', async () => {
    const dir = tmp();
    const cfg = join(dir, 'tiny.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        extends: 'spiral-default',
        dataset: { id: 'swiss-roll', options: { size: 300 } },
        model: { id: 'mlp', options: { hidden: 16, blocks: 1 } },
        train: { steps: 20, batchSize: 32, logEvery: 10, progressEvery: 10 },
      }),
    );
    expect((await difflab('--quiet', 'train', '--config', cfg, '--out', join(dir, 'run'))).code).toBe(0);
    const r = await difflab('--quiet', 'nfe-curve', '--run', join(dir, 'run'), '--samplers', 'ddim,heun,dpmpp-2m,pndm', '--steps', '4,8', '--n', '200', '--out', join(dir, 'nfe'));
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'nfe', 'nfe-curve.json'), 'utf8'));
    const nfe = Object.fromEntries(json.rows.map((row: { sampler: string; steps: number; nfe: number }) => [`${row.sampler}:${row.steps}`, row.nfe]));
    // Heun evaluates twice per step but once at the first; PNDM adds its Runge-Kutta warm-up
    expect(nfe).toEqual({ 'ddim:4': 4, 'ddim:8': 8, 'heun:4': 7, 'heun:8': 15, 'dpmpp-2m:4': 4, 'dpmpp-2m:8': 8, 'pndm:4': 13, 'pndm:8': 17 });
    expect(json.reference).toMatchObject({ sampler: 'ddpm', steps: 50, nfe: 50 });
    expect(existsSync(join(dir, 'nfe', 'nfe-curve.png'))).toBe(true);
    expectUserError(await difflab('nfe-curve', '--run', join(dir, 'run'), '--samplers', 'ddim,nope'), /--samplers.*'nope'/);
    expectUserError(await difflab('nfe-curve', '--run', join(dir, 'run'), '--steps', '4,0'), /--steps: expects integers in \[1, 100000\]/);
  });
});
