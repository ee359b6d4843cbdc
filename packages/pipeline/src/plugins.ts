import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, PLUGIN_KINDS, registryOf, type DependencyContainer, type PluginKind } from '@difflab/core';
import type { Registrar } from './compose.js';

/**
 * Load third-party plugin packages (`--plugin <module>`): a path (file or package folder) or an
 * installed package name. The module must export `register(container)`.
 */
export async function loadPlugins(specs: readonly string[]): Promise<Registrar[]> {
  const out: Registrar[] = [];
  for (const spec of specs) {
    let target = spec;
    if (spec.startsWith('.') || isAbsolute(spec)) {
      const p = resolve(spec);
      if (!existsSync(p)) throw new ConfigError('--plugin', `'${spec}' does not exist`);
      target = pathToFileURL(p).href;
      if (existsSync(resolve(p, 'package.json'))) {
        const { createRequire } = await import('node:module');
        const req = createRequire(pathToFileURL(resolve(p, 'package.json')).href);
        const pkg = req('./package.json') as { exports?: unknown; main?: string; module?: string };
        const entry = resolveEntry(pkg);
        if (!entry) throw new ConfigError('--plugin', `'${spec}': package.json names no entry (exports["."].import or main)`);
        target = pathToFileURL(resolve(p, entry)).href;
      }
    }
    let mod: { register?: unknown; default?: { register?: unknown } };
    try {
      mod = await import(target);
    } catch (e) {
      throw new ConfigError('--plugin', `cannot load '${spec}': ${(e as Error).message.split('\n')[0]}`);
    }
    const reg = mod.register ?? mod.default?.register;
    if (typeof reg !== 'function') throw new ConfigError('--plugin', `'${spec}' does not export register(container)`);
    out.push(reg as Registrar);
  }
  return out;
}

function resolveEntry(pkg: { exports?: unknown; main?: string; module?: string }): string | undefined {
  const e = pkg.exports as Record<string, unknown> | string | undefined;
  if (typeof e === 'string') return e;
  const dot = (e as Record<string, unknown> | undefined)?.['.'];
  if (typeof dot === 'string') return dot;
  if (dot && typeof dot === 'object') {
    const d = dot as Record<string, unknown>;
    for (const k of ['import', 'default', 'node']) if (typeof d[k] === 'string') return d[k] as string;
  }
  return pkg.module ?? pkg.main;
}

/** Text (or JSON) listing of every registered plugin, grouped by kind. */
export function listPlugins(app: DependencyContainer, opts: { json?: boolean; kind?: string } = {}): string {
  const reg = registryOf(app);
  if (opts.kind && !PLUGIN_KINDS.includes(opts.kind as PluginKind)) {
    throw new ConfigError('--kind', `unknown kind '${opts.kind}'; kinds: ${PLUGIN_KINDS.join(', ')}`);
  }
  const infos = reg.list(opts.kind as PluginKind | undefined);
  if (opts.json) return `${JSON.stringify(infos, null, 2)}\n`;
  const lines: string[] = [];
  let kind = '';
  for (const p of infos) {
    if (p.kind !== kind) {
      kind = p.kind;
      lines.push('', `${kind}:`);
    }
    lines.push(`  ${p.id.padEnd(16)} ${p.summary}`);
    const d = Object.entries(p.defaults);
    if (d.length) lines.push(`  ${''.padEnd(16)} options: ${d.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
  }
  return `${lines.join('\n').trimStart()}\n`;
}
