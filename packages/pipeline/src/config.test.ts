import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@difflab/core';
import { loadConfigObject, parseConfig, setPath } from './config.js';
import { loadConfig } from './config-file.js';
import { PRESET_NAMES, PRESETS } from './presets.js';
import { createApp, Job } from './compose.js';

describe('pipeline config', () => {
  it('fills defaults and keeps the preset values', () => {
    const c = loadConfig('spiral-default');
    expect(c.schedule).toEqual({ id: 'linear', options: { T: 50, betaStart: 1e-4, betaEnd: 0.2 } });
    expect(c.train.steps).toBe(10_000);
    expect(c.train.batchSize).toBe(256);
    expect(c.metrics).toEqual(['sliced-w2', 'mmd', 'chamfer', 'energy']);
    expect(parseConfig({}).dataset).toEqual({ id: 'swiss-roll' });
  });

  it('reports the path of a bad field and what is allowed', () => {
    expect(() => parseConfig({ seed: -1 })).toThrow(/^seed: /);
    expect(() => parseConfig({ train: { optimizer: 'sgd' } })).toThrow(/^train\.optimizer: .*"adam"/);
    expect(() => parseConfig({ colour: 1 })).toThrow("config: unknown key(s) 'colour'; allowed: name, description, seed");
    expect(() => parseConfig([])).toThrow(ConfigError);
  });

  it('names unknown plugin ids and bad plugin options with the available values', () => {
    const app = createApp();
    const bad = parseConfig({ ...PRESETS['spiral-default'], schedule: { id: 'cosinus' } });
    expect(() => Job.validate(app, bad)).toThrow(/^schedule\.id: unknown schedule 'cosinus'; available: .*cosine.*linear/);
    const badOpt = parseConfig({ ...PRESETS['spiral-default'], model: { id: 'mlp', options: { hidden: -3 } } });
    expect(() => Job.validate(app, badOpt)).toThrow(/^model\.options\.hidden: /);
  });

  it('loads a file that extends a preset and changes one slot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'difflab-cfg-'));
    const f = join(dir, 'c.json');
    writeFileSync(f, JSON.stringify({ extends: 'spiral-default', schedule: { id: 'cosine', options: { T: 40 } }, train: { steps: 7 } }));
    const c = loadConfig(f);
    expect(c.schedule).toEqual({ id: 'cosine', options: { T: 40 } });
    expect(c.train.steps).toBe(7);
    expect(c.train.batchSize).toBe(256);
    writeFileSync(f, '{"seed": ');
    expect(() => loadConfig(f)).toThrow(/not valid JSON/);
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/neither a file nor a preset; presets: spiral-default/);
    expect(() => loadConfigObject({ extends: 'nope' })).toThrow(/extends: must name a preset/);
  });

  it('sets plugin slots and option paths from key=value', () => {
    const base = PRESETS['spiral-default'] as unknown as Record<string, unknown>;
    expect(setPath(base, 'embedding', 'zero').timestepEmbedding).toEqual({ id: 'zero' });
    const t = setPath(base, 'schedule.options.T', '40') as { schedule: { options: { T: number; betaEnd: number } } };
    expect(t.schedule.options.T).toBe(40);
    expect(t.schedule.options.betaEnd).toBe(0.2);
    expect((base.schedule as { options: { T: number } }).options.T).toBe(50);
  });

  it('every shipped preset validates against the registry', () => {
    const app = createApp();
    for (const name of PRESET_NAMES) Job.validate(app, loadConfig(name));
  });
});
