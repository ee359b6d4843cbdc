import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRootContainer, provide, registryOf, resolveRequired } from './container.js';
import { ConfigError, UnknownPluginError, WiringError } from './errors.js';
import { definePlugin, PluginRegistry } from './plugin.js';
import { TOKENS } from './tokens.js';
import { Rng } from './rng.js';

const widget = definePlugin({
  kind: 'metric',
  id: 'widget',
  summary: 'test plugin',
  options: z.object({ size: z.number().int().positive().default(3), mode: z.enum(['a', 'b']).default('a') }).strict(),
  create: (o, c) => ({ id: 'widget', size: o.size, mode: o.mode, rng: resolveRequired(c, TOKENS.Rng) }),
});

describe('PluginRegistry', () => {
  it('creates a plugin with defaults filled in and dependencies resolved from the container', () => {
    const root = createRootContainer();
    registryOf(root).add(widget);
    const job = root.createChildContainer();
    provide(job, TOKENS.Rng, new Rng(1));
    const w = registryOf(job).create<{ size: number; mode: string; rng: Rng }>('metric', { id: 'widget', options: { mode: 'b' } }, job, 'metrics[0]');
    expect(w.size).toBe(3);
    expect(w.mode).toBe('b');
    expect(w.rng).toBeInstanceOf(Rng);
    expect(registryOf(root).create<{ size: number }>('metric', 'widget', job).size).toBe(3);
  });

  it('names the path and the available ids for an unknown plugin', () => {
    const reg = new PluginRegistry().add(widget);
    expect(() => reg.get('metric', 'nope', 'metrics[0].id')).toThrow(UnknownPluginError);
    expect(() => reg.get('metric', 'nope', 'metrics[0].id')).toThrow("metrics[0].id: unknown metric 'nope'; available: widget");
  });

  it('names the option path for a bad option and lists unknown keys', () => {
    const reg = new PluginRegistry().add(widget);
    const bad = () => reg.parseOptions('metric', 'widget', { size: -1 }, 'metric');
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/^metric\.options\.size: /);
    expect(() => reg.parseOptions('metric', 'widget', { mode: 'c' }, 'm')).toThrow(/m\.options\.mode: .*"a"/);
    expect(() => reg.parseOptions('metric', 'widget', { colour: 1 }, 'm')).toThrow("m.options: unknown option(s) 'colour'");
  });

  it('refuses duplicate ids, bad kinds and undefined wiring', () => {
    const reg = new PluginRegistry().add(widget);
    expect(() => reg.add(widget)).toThrow(WiringError);
    expect(() => reg.add({ ...widget, kind: 'nonsense' as 'metric' })).toThrow(/unknown kind 'nonsense'/);
    const c = createRootContainer();
    expect(() => resolveRequired(c, TOKENS.Schedule)).toThrow(/difflab.Schedule is not registered/);
    expect(() => provide(c, TOKENS.Schedule, undefined as never)).toThrow(/value is undefined/);
    const undef = definePlugin({ ...widget, id: 'undef', create: () => undefined });
    reg.add(undef);
    expect(() => reg.create('metric', 'undef', c)).toThrow(/created undefined/);
  });

  it('lists plugins with their defaults and JSON schema', () => {
    const info = new PluginRegistry().add(widget).list();
    expect(info).toHaveLength(1);
    expect(info[0].defaults).toEqual({ size: 3, mode: 'a' });
    expect(JSON.stringify(info[0].schema)).toContain('"enum":["a","b"]');
  });
});
