import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from '../../../tools/vitest/spawn.js';
import { listCheckpoints, readLatestCheckpoint } from '@difflab/pipeline';
import { Rng } from '@difflab/core';

// Interrupted training runs, end to end with the built `difflab` command: SIGKILL at random
// moments (also while a checkpoint is written), then --resume.
const bin = fileURLToPath(new URL('../bin/difflab.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'difflab-resume-'));

function config(dir: string, over: Record<string, unknown> = {}): string {
  const p = join(dir, 'tiny.json');
  writeFileSync(
    p,
    JSON.stringify({
      extends: 'spiral-default',
      dataset: { id: 'swiss-roll', options: { size: 2000 } },
      model: { id: 'mlp', options: { hidden: 64, blocks: 2 } },
      timestepEmbedding: { id: 'sinusoidal', options: { dim: 16 } },
      inputEmbedding: { id: 'sinusoidal', options: { scale: 25, dim: 16 } },
      train: { steps: 500, batchSize: 128, logEvery: 50, progressEvery: 50 },
      ...over,
    }),
  );
  return p;
}

function start(args: string[]): { child: ChildProcess; started: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const started = new Promise<void>((ok) => {
    child.stderr!.on('data', (d) => {
      err += String(d);
      if (/^training /m.test(err)) ok();
    });
    child.on('exit', () => ok());
  });
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  return { child, started, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('interrupted training (SIGKILL) and --resume', () => {
  it('after 20 kills at random moments (a checkpoint every step, so also mid-save) the last complete checkpoint always loads, and each resume continues from it', async () => {
    const dir = tmp();
    // a wide model (1.1M weights, a 17 MB checkpoint with Adam and EMA) so that most of the time
    // goes to writing checkpoints and random kills land mid-save
    const cfg = config(dir, { model: { id: 'mlp', options: { hidden: 512, blocks: 2 } }, train: { steps: 100_000, batchSize: 16, logEvery: 50, progressEvery: 50 } });
    const run = join(dir, 'run');
    const rng = new Rng(2026);
    let lastStep = 0;
    let kills = 0;
    let midSave = 0;
    for (let i = 0; i < 20; i++) {
      // (not --quiet: the 'training ...' line tells when the run has started)
      const args = i === 0 || listCheckpoints(run).length === 0 ? ['train', '--config', cfg, '--out', run, '--checkpoint-every', '1'] : ['train', '--resume', run, '--checkpoint-every', '1'];
      const p = start(args);
      await p.started;
      if (i % 2 === 0) await sleep(50 + rng.int(1500));
      else {
        // every other kill: as soon as a checkpoint is being written (its temporary directory exists)
        const root = join(run, 'checkpoints');
        const t0 = Date.now();
        while (Date.now() - t0 < 30_000 && !(existsSync(root) && readdirSync(root).some((n) => n.endsWith('.tmp')))) await sleep(1);
      }
      if (p.child.exitCode === null) {
        p.child.kill('SIGKILL');
        kills++;
      }
      await p.exited;
      // a hidden temporary directory left behind: this kill came while a checkpoint was written
      if (existsSync(join(run, 'checkpoints')) && readdirSync(join(run, 'checkpoints')).some((n) => n.endsWith('.tmp'))) midSave++;
      const c = readLatestCheckpoint(run);
      if (c) {
        expect(c.step).toBeGreaterThanOrEqual(lastStep);
        expect(c.state.step).toBe(c.step);
        expect(c.state.lossHistory).toHaveLength(c.step);
        lastStep = c.step;
      }
    }
    expect(kills).toBe(20);
    console.log(`20 kills, ${midSave} of them while a checkpoint was being written; last checkpoint step ${lastStep}`);
    expect(midSave).toBeGreaterThanOrEqual(5);
    expect(lastStep).toBeGreaterThan(0);
    // at most the newest two checkpoints are kept, and a final resume runs to a given end
    expect(listCheckpoints(run).length).toBeLessThanOrEqual(2);
    const end = lastStep + 10;
    const r = await runNode([bin, '-q', 'train', '--resume', run, '--steps', String(end)]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(run, 'loss.json'), 'utf8')).steps).toBe(end);
    // the resume cleared the temporary directories that killed saves left
    expect(readdirSync(join(run, 'checkpoints')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 300_000);

  it('2 x 250 steps with a SIGKILL in between give the same weights as 500 steps uninterrupted (wasm)', async () => {
    const dir = tmp();
    const cfg = config(dir, { model: { id: 'mlp', options: { hidden: 128, blocks: 3 } }, train: { steps: 500, batchSize: 256, logEvery: 50, progressEvery: 50 } });
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const full = await runNode([bin, '-q', 'train', '--config', cfg, '--out', a, '--checkpoint-every', '250']);
    expect(full.status, full.stderr).toBe(0);
    const p = start(['train', '--config', cfg, '--out', b, '--checkpoint-every', '250']);
    const t0 = Date.now();
    while (!existsSync(join(b, 'checkpoints', 'step-000250', 'manifest.json')) && Date.now() - t0 < 120_000) await sleep(5);
    p.child.kill('SIGKILL');
    await p.exited;
    expect(existsSync(join(b, 'loss.json'))).toBe(false); // it really stopped half-way
    const res = await runNode([bin, '-q', 'train', '--resume', b]);
    expect(res.status, res.stderr).toBe(0);
    for (const f of ['raw/weights.bin', 'weights.bin']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(JSON.parse(readFileSync(join(b, 'loss.json'), 'utf8')).loss).toEqual(JSON.parse(readFileSync(join(a, 'loss.json'), 'utf8')).loss);
  }, 300_000);

  it('gives one-line errors for a bad --resume', async () => {
    const dir = tmp();
    const r1 = await runNode([bin, 'train', '--resume', join(dir, 'missing')]);
    expect(r1.status).toBe(2);
    expect(r1.stderr.trim()).toMatch(/^difflab: --resume: '.*missing' does not exist; give a directory written by 'difflab train'$/);
    const r2 = await runNode([bin, 'train', '--resume', dir, '--config', 'spiral-default']);
    expect(r2.status).toBe(2);
    expect(r2.stderr.trim()).toBe('difflab: --resume: takes the config of the resumed run; leave out --config');
  });
});
