import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@difflab/core';
import { createApp, loadConfig, loadConfigObject, runTrain } from '@difflab/pipeline';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from './program.js';

/**
 * A generated set of malformed inputs, each run through the CLI's `main` in-process: wrong
 * types, unknown plugin ids, negative / huge / fractional sizes, NaN, empty files, truncated
 * JSON, binary garbage, paths that do not exist or cannot be written, corrupt weights and
 * scheduler configs, bad prompts. For each: exit code 2, one line that names the bad field (or
 * file), no stack trace, and nothing written.
 */

interface Case {
  name: string;
  args: string[];
  /** What the one line must contain: the field, option or file it is about. */
  names: string;
}

const work = mkdtempSync(join(tmpdir(), 'difflab-malformed-'));
let outIndex = 0;
/** A fresh output path that must still not exist after the case. */
const out = () => join(work, 'out', `o${outIndex++}`);
const cases: Case[] = [];
const add = (name: string, args: string[], names: string) => cases.push({ name, args, names });

let run = '';

// 1. Integer options: every bad spelling of a count.
const BAD_INTS = ['-1', 'abc', 'NaN', '1.5', '7x', '', ' ', '99999999999999999999', 'Infinity', '0x10', '1e3'];
const intOptions: { pre: () => string[]; opt: string; min: number; post?: () => string[] }[] = [
  { pre: () => ['train'], opt: '--steps', min: 1, post: () => ['--out', out()] },
  { pre: () => ['train'], opt: '--checkpoint-every', min: 0, post: () => ['--out', out()] },
  { pre: () => ['forward'], opt: '--n', min: 1, post: () => ['--out', out()] },
  { pre: () => ['sample', '--run', run], opt: '--steps', min: 1, post: () => ['--out', out()] },
  { pre: () => ['sample', '--run', run], opt: '--n', min: 1, post: () => ['--out', out()] },
  { pre: () => ['nfe-curve', '--run', run], opt: '--n', min: 2, post: () => ['--out', out()] },
  { pre: () => ['lab', 'images'], opt: '--per-class', min: 1, post: () => ['--out', out()] },
  { pre: () => ['ablate', '--grid', 'embedding=zero'], opt: '--steps', min: 1, post: () => ['--out', out()] },
  { pre: () => ['ablate', '--grid', 'embedding=zero'], opt: '--n', min: 1, post: () => ['--out', out()] },
  { pre: () => [], opt: '--threads', min: 1, post: () => ['forward', '--out', out()] },
];
for (const o of intOptions) {
  for (const v of [...BAD_INTS, ...(o.min >= 1 ? ['0'] : [])]) {
    cases.push({ name: `${o.pre()[0] ?? 'global'} ${o.opt} '${v}'`, args: [], names: o.opt });
    const c = cases[cases.length - 1];
    Object.defineProperty(c, 'args', { get: () => [...o.pre(), o.opt, v, ...(o.post?.() ?? [])] });
  }
}

// 2. Other option values: lists, reals, choices, plugin ids, modules.
for (const v of ['x', '-1', '1,,2', 'NaN', '', '3,abc']) add(`--guidance '${v}'`, ['lab', 'images', '--guidance', v, '--out', out()], '--guidance');
for (const v of ['2', '-0.1', 'x', 'NaN', '']) add(`--guidance-rescale '${v}'`, ['lab', 'images', '--guidance-rescale', v, '--out', out()], '--guidance-rescale');
for (const v of ['x', '-1', '1,2,x', '', '1;2']) add(`forward --t '${v}'`, ['forward', '--t', v, '--out', out()], '--t');
add('forward --t beyond T', ['forward', '--t', '0,50', '--out', out()], 'timestep 50');
for (const v of ['gpu', '', 'WEBGPU', 'tpu']) add(`--backend '${v}'`, ['--backend', v, 'forward', '--out', out()], '--backend');
for (const v of ['moon', 'Spiral', '']) add(`lab part '${v}'`, ['lab', v, '--out', out()], 'part');
for (const v of ['cifar', 'MNIST', '']) add(`lab images --dataset '${v}'`, ['lab', 'images', '--dataset', v, '--out', out()], '--dataset');
for (const v of ['nope', 'DDPM', '']) add(`sample --sampler '${v}'`, ['sample', '--run', '<run>', '--sampler', v, '--out', out()], 'sampler');
for (const v of ['ddim,nope', 'x']) add(`nfe-curve --samplers '${v}'`, ['nfe-curve', '--run', '<run>', '--samplers', v, '--out', out()], 'sampler');
for (const v of ['0', 'x', '5,,10', '-5']) add(`nfe-curve --steps '${v}'`, ['nfe-curve', '--run', '<run>', '--steps', v, '--out', out()], '--steps');
for (const v of ['embedding=nope', 'embedding=', '=zero', 'nonsense', 'embedding=zero,zero', 'schedule.options.T=-5,40', 'model.options.hidden=abc']) {
  add(`ablate --grid '${v}'`, ['ablate', '--grid', v, '--out', out()], v.startsWith('schedule') ? 'T' : v.startsWith('model') ? 'hidden' : v === 'embedding=nope' ? 'timestep-embedding' : '--grid');
}
for (const v of ['./no-such-plugin.js', 'no-such-package-difflab']) add(`--plugin '${v}'`, ['--plugin', v, 'forward', '--out', out()], '--plugin');
for (const v of ['train.lr', 'train.lr=abc', 'schedule.options.T=-1', 'nope.deeper=1', 'train.batchSize=0', 'dataset=nope']) {
  add(`train --set '${v}'`, ['train', '--set', v, '--out', out()], v === 'nope.deeper=1' ? "'nope'" : v.includes('=') ? v.split('=')[0].split('.').pop()! : '--set');
}
add('train --resume and --config', ['train', '--resume', '<run>', '--config', 'spiral-default'], '--resume');
add('train --resume missing', ['train', '--resume', join(work, 'missing-run')], '--resume');
add('unknown command', ['frobnicate'], 'frobnicate');
add('unknown option', ['forward', '--frob', '1'], '--frob');
add('missing required --run', ['sample'], '--run');

// 3. Config files: file-level garbage, then every field of the default config mutated.
const configDir = join(work, 'configs');
mkdirSync(configDir, { recursive: true });
let fileIndex = 0;
const configFile = (content: string | Uint8Array) => {
  const p = join(configDir, `c${fileIndex++}.json`);
  writeFileSync(p, content);
  return p;
};
const base = JSON.stringify(loadConfig('spiral-default'));
const garbage = new Rng(7).uniformArray(256, 0, 256);
const fileLevel: [string, string | Uint8Array][] = [
  ['empty', ''],
  ['whitespace', '  \n'],
  ['open brace', '{'],
  ['a top-level array', '[]'],
  ['a number', '42'],
  ['null', 'null'],
  ['a string', '"spiral"'],
  ['binary garbage', Uint8Array.from(garbage, (v) => Math.floor(v))],
  ['NaN literal', '{"seed": NaN}'],
  ['a UTF-16 BOM', '\ufeff\u0000{\u0000'],
  ['trailing comma', '{"seed": 1,}'],
  ...[0.1, 0.3, 0.5, 0.7, 0.9, 0.99].map((f) => [`truncated at ${Math.round(f * 100)}%`, base.slice(0, Math.floor(base.length * f))] as [string, string]),
];
for (const [name, content] of fileLevel) add(`config file: ${name}`, ['forward', '--config', configFile(content), '--out', out()], 'c');
add('config: a directory', ['forward', '--config', configDir, '--out', out()], configDir);
add('config: missing file', ['forward', '--config', join(work, 'nope.json'), '--out', out()], 'nope.json');

/** Every leaf of the default config, as a path. */
function leaves(o: unknown, path: string[] = []): string[][] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [path];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => leaves(v, [...path, k]));
}
const setAt = (o: Record<string, unknown>, path: string[], v: unknown) => {
  let cur = o;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[path[path.length - 1]] = v;
};
const SIZE_KEYS = new Set(['T', 'steps', 'batchSize', 'n', 'size', 'dim', 'hidden', 'blocks', 'logEvery', 'progressEvery']);
const parsedBase = JSON.parse(base) as Record<string, unknown>;
for (const path of leaves(parsedBase)) {
  const key = path[path.length - 1];
  if (['name', 'description'].includes(key)) continue;
  let value: unknown = parsedBase;
  for (const p of path) value = (value as Record<string, unknown>)[p];
  const bad: unknown[] = [];
  if (key === 'id') bad.push('nope', 12);
  else if (typeof value === 'number') bad.push('abc', true, [1], { x: 1 }, 'NaN');
  else if (typeof value === 'boolean') bad.push('yes', 2);
  else if (typeof value === 'string') bad.push(12, '');
  else if (Array.isArray(value)) bad.push('abc', [{}]);
  // (0 is allowed where it means something: a dataset size of 0 draws fresh points, an MLP
  // without residual blocks; any logging interval is harmless)
  if (SIZE_KEYS.has(key)) bad.push(-1, 1.5, ...(key === 'size' || key === 'blocks' ? [] : [0]), ...(key.endsWith('Every') ? [] : [1e12]));
  for (const v of bad) {
    const cfg = JSON.parse(base) as Record<string, unknown>;
    setAt(cfg, path, v);
    add(`config ${path.join('.')} = ${JSON.stringify(v)}`, ['forward', '--config', configFile(JSON.stringify(cfg)), '--out', out()], key === 'id' ? path[path.length - 2] : key);
  }
}
for (const obj of ['', 'dataset.options', 'train', 'train.ema', 'model.options', 'sample']) {
  const cfg = JSON.parse(base) as Record<string, unknown>;
  const target = obj ? obj.split('.').reduce((o, k) => o[k] as Record<string, unknown>, cfg) : cfg;
  target.bogusKey = 1;
  add(`config: unknown key in ${obj || 'the root'}`, ['forward', '--config', configFile(JSON.stringify(cfg)), '--out', out()], 'bogusKey');
}

// 4. Output paths that cannot be written.
const aFile = join(work, 'a-file');
writeFileSync(aFile, 'x');
for (const cmd of [['forward'], ['train', '--steps', '2'], ['lab', 'spiral', '--quick'], ['ablate', '--grid', 'embedding=zero', '--steps', '2']]) {
  add(`${cmd[0]} --out an existing file`, [...cmd, '--out', aFile], aFile);
  add(`${cmd[0]} --out under a file`, [...cmd, '--out', join(aFile, 'sub')], 'a-file');
  add(`${cmd[0]} --out in /proc`, [...cmd, '--out', '/proc/difflab-cannot-write/x'], '/proc/difflab-cannot-write');
}

// 5. Run directories with corrupt files (sample --run), and diffusers scheduler configs.
const corruptRuns: [string, (dir: string) => void, string][] = [
  ['model.json empty', (d) => writeFileSync(join(d, 'model.json'), ''), 'model.json'],
  ['model.json garbage', (d) => writeFileSync(join(d, 'model.json'), '\u0001\u0002garbage'), 'model.json'],
  ['model.json truncated', (d) => writeFileSync(join(d, 'model.json'), readFileSync(join(d, 'model.json'), 'utf8').slice(0, 40)), 'model.json'],
  ['model.json without a manifest', (d) => writeFileSync(join(d, 'model.json'), '{}'), 'model.json'],
  [
    'model.json with a wrong shape',
    (d) => {
      const m = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
      m.weightsManifest[0].weights[0].shape = [999];
      writeFileSync(join(d, 'model.json'), JSON.stringify(m));
    },
    'model.json',
  ],
  ['weights.bin empty', (d) => writeFileSync(join(d, 'weights.bin'), new Uint8Array(0)), 'weights.bin'],
  ['weights.bin truncated', (d) => writeFileSync(join(d, 'weights.bin'), readFileSync(join(d, 'weights.bin')).subarray(0, 100)), 'weights.bin'],
  ['weights.bin with extra bytes', (d) => writeFileSync(join(d, 'weights.bin'), Buffer.concat([readFileSync(join(d, 'weights.bin')), Buffer.from([1, 2, 3, 4])])), 'weights.bin'],
  ['config.json garbage', (d) => writeFileSync(join(d, 'config.json'), '\u00ff\u00fe'), 'config.json'],
  ['config.json with an unknown model', (d) => writeFileSync(join(d, 'config.json'), readFileSync(join(d, 'config.json'), 'utf8').replace('"mlp"', '"nope"')), 'model.id'],
  ['weights.bin missing', (d) => rmSync(join(d, 'weights.bin')), 'weights.bin'],
];
const schedulerConfigs: [string, (own: Record<string, unknown>) => unknown, string][] = [
  ['empty object', () => ({}), 'scheduler_config'],
  ['an array', () => [], 'scheduler_config'],
  ['unknown class', (o) => ({ ...o, _class_name: 'FooScheduler' }), '_class_name'],
  ['T as a string', (o) => ({ ...o, num_train_timesteps: 'fifty' }), 'num_train_timesteps'],
  ['T mismatch', (o) => ({ ...o, num_train_timesteps: 1000 }), 'num_train_timesteps'],
  ['unknown beta schedule', (o) => ({ ...o, beta_schedule: 'wobbly' }), 'beta_schedule'],
  ['other betas', (o) => ({ ...o, beta_end: 0.02 }), 'beta_schedule'],
  ['bad prediction type', (o) => ({ ...o, prediction_type: 'noise' }), 'prediction_type'],
  ['clip_sample as a string', (o) => ({ ...o, clip_sample: 'yes' }), 'clip_sample'],
  ['negative clip range', (o) => ({ ...o, clip_sample_range: -1 }), 'clip_sample_range'],
  ['bad spacing', (o) => ({ ...o, timestep_spacing: 'random' }), 'timestep_spacing'],
];

// 6. Prompts.
const badPrompts: [string, string][] = [
  ['too long', 'a handwritten 7 '.repeat(40)],
  ['a NUL character', 'a handwritten\u00007'],
  ['a bell character', 'seven\u0007'],
  ['an escape sequence', '\u001b[31mseven'],
];
for (const [name, p] of badPrompts) add(`lab images --prompt ${name}`, ['lab', 'images', '--prompt', p, '--out', out()], '--prompt');

async function runMain(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const ew = process.stderr.write.bind(process.stderr);
  const ow = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = ((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main(['node', 'difflab', '-q', ...args]).catch((e) => {
      stderr += `UNCAUGHT ${(e as Error)?.stack ?? e}`;
      return 70;
    });
    return { code, stderr, stdout };
  } finally {
    process.stderr.write = ew;
    process.stdout.write = ow;
  }
}

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : [];
}

beforeAll(async () => {
  run = (await runTrain({
    app: createApp(),
    config: loadConfigObject({ extends: 'spiral-default', model: { id: 'mlp', options: { hidden: 16, blocks: 1 } }, timestepEmbedding: { id: 'sinusoidal', options: { dim: 8 } }, inputEmbedding: { id: 'sinusoidal', options: { dim: 8 } }, train: { steps: 5, batchSize: 16 } }),
    outDir: join(work, 'run'),
  })).runDir;
  const own = JSON.parse(readFileSync(join(run, 'scheduler_config.json'), 'utf8'));
  for (const [name, make, names] of corruptRuns) {
    const d = join(work, `bad-run-${name.replace(/\W+/g, '-')}`);
    mkdirSync(d, { recursive: true });
    for (const f of ['config.json', 'model.json', 'weights.bin']) writeFileSync(join(d, f), readFileSync(join(run, f)));
    make(d);
    add(`sample --run: ${name}`, ['sample', '--run', d, '--steps', '2', '--out', out()], names);
  }
  for (const [name, make, names] of schedulerConfigs) {
    const p = join(configDir, `sched-${name.replace(/\W+/g, '-')}.json`);
    writeFileSync(p, JSON.stringify(make(own)));
    add(`sample --scheduler-config: ${name}`, ['sample', '--run', run, '--scheduler-config', p, '--out', out()], names);
  }
  for (const [name, content] of [['empty', ''], ['truncated', JSON.stringify(own).slice(0, 30)], ['binary', '\u0000\u00ff\u0001']]) {
    const p = join(configDir, `sched-file-${name}.json`);
    writeFileSync(p, content);
    add(`sample --scheduler-config file: ${name}`, ['sample', '--run', run, '--scheduler-config', p, '--out', out()], 'sched-file');
  }
  add('sample --scheduler-config missing', ['sample', '--run', run, '--scheduler-config', join(work, 'nope.json'), '--out', out()], '--scheduler-config');
  for (const c of cases) {
    const i = c.args.indexOf('<run>');
    if (i >= 0) c.args[i] = run;
  }
}, 120_000);

describe('malformed input (generated)', () => {
  it('at least 200 malformed inputs each give exit code 2, one line naming the bad field, no stack trace, no file written', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    console.info(`${cases.length} malformed inputs`);
    const failures: string[] = [];
    for (const c of cases) {
      const args = c.args;
      const outs = args.flatMap((a, i) => (args[i - 1] === '--out' && a.startsWith(join(work, 'out')) ? [a] : []));
      const before = { configs: listing(configDir), run: listing(run) };
      const r = await runMain(args);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('(run with --help'));
      const problems: string[] = [];
      if (r.code !== 2) problems.push(`exit ${r.code}`);
      if (lines.length !== 1) problems.push(`${lines.length} lines`);
      if (/\n\s+at |UNCAUGHT/.test(r.stderr)) problems.push('stack trace');
      if (!r.stderr.includes(c.names)) problems.push(`does not name '${c.names}'`);
      for (const o of outs) if (existsSync(o)) problems.push(`wrote ${o}`);
      if (listing(configDir).join() !== before.configs.join() || listing(run).join() !== before.run.join()) problems.push('wrote beside its inputs');
      if (problems.length) failures.push(`${c.name}: ${problems.join(', ')} <- ${JSON.stringify(r.stderr.slice(0, 300))}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  }, 600_000);
});
