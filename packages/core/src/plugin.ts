import { z } from 'zod';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, UnknownPluginError, WiringError } from './errors.js';

/** The slots a plugin can fill. */
export const PLUGIN_KINDS = [
  'dataset',
  'schedule',
  'timestep-embedding',
  'input-embedding',
  'positional-embedding',
  'conditioner',
  'model',
  'sampler',
  'metric',
] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/**
 * A plugin is data: a descriptor registered into a registry keyed by (kind, id), in the style
 * of tfjs' kernel registry. `options` is a zod schema with defaults; `create` builds the
 * instance, resolving what it needs (schedule, embeddings, ...) from the job's container.
 */
export interface PluginDescriptor<T = unknown, S extends z.ZodType = z.ZodType> {
  readonly kind: PluginKind;
  readonly id: string;
  readonly summary: string;
  readonly options: S;
  create(options: z.output<S>, container: DependencyContainer): T;
}

/** Identity helper that keeps the option types of a descriptor. */
export function definePlugin<T, S extends z.ZodType>(d: PluginDescriptor<T, S>): PluginDescriptor<T, S> {
  return d;
}

/** A reference to a plugin in a config file: `"cosine"` or `{ "id": "cosine", "options": {...} }`. */
export type PluginRef = string | { id: string; options?: Record<string, unknown> };

export const pluginRefSchema = z.union([
  z.string().min(1),
  z.object({ id: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
]);

export function normalizeRef(ref: PluginRef): { id: string; options: Record<string, unknown> } {
  return typeof ref === 'string' ? { id: ref, options: {} } : { id: ref.id, options: ref.options ?? {} };
}

/** Format a zod error as one line naming the path and what is allowed. */
export function formatZodIssue(prefix: string, error: z.ZodError): ConfigError {
  let issue = error.issues[0];
  // A union (e.g. `false` or an options object) that failed in every branch: report the branch
  // that got furthest into the value (the longest path), so the message names the inner field.
  while (issue.code === 'invalid_union') {
    const branches = ((issue as { errors?: z.core.$ZodIssue[][] }).errors ?? []).flat();
    if (branches.length === 0) break;
    const deepest = branches.reduce((a, b) => (b.path.length > a.path.length ? b : a));
    if (deepest.path.length === 0) break;
    issue = { ...deepest, path: [...issue.path, ...deepest.path] } as typeof issue;
  }
  const sub = issue.path.map(String).join('.');
  const path = [prefix, sub].filter(Boolean).join('.');
  let msg = issue.message;
  if (issue.code === 'unrecognized_keys') {
    msg = `unknown option(s) ${(issue as { keys: string[] }).keys.map((k) => `'${k}'`).join(', ')}`;
  }
  return new ConfigError(path, msg.replace(/\s+/g, ' '));
}

export interface PluginInfo {
  kind: PluginKind;
  id: string;
  summary: string;
  /** Default values of every option. */
  defaults: Record<string, unknown>;
  /** JSON schema of the options. */
  schema: unknown;
}

export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, PluginDescriptor>>();

  /** Register a descriptor. A second descriptor with the same kind and id is an error unless `replace`. */
  add(d: PluginDescriptor<any, any>, replace = false): this {
    if (!PLUGIN_KINDS.includes(d.kind)) {
      throw new WiringError(`plugin '${d.id}' has unknown kind '${d.kind}'; kinds: ${PLUGIN_KINDS.join(', ')}`);
    }
    if (!/^[a-z0-9][a-z0-9-+.]*$/.test(d.id)) {
      throw new WiringError(`plugin id '${d.id}' must be lowercase letters, digits, '-', '+' or '.'`);
    }
    let m = this.byKind.get(d.kind);
    if (!m) this.byKind.set(d.kind, (m = new Map()));
    if (m.has(d.id) && !replace) throw new WiringError(`${d.kind} plugin '${d.id}' is registered twice`);
    m.set(d.id, d);
    return this;
  }

  has(kind: PluginKind, id: string): boolean {
    return this.byKind.get(kind)?.has(id) ?? false;
  }

  ids(kind: PluginKind): string[] {
    return [...(this.byKind.get(kind)?.keys() ?? [])].sort();
  }

  get(kind: PluginKind, id: string, path: string = kind): PluginDescriptor {
    const d = this.byKind.get(kind)?.get(id);
    if (!d) throw new UnknownPluginError(path, kind, id, this.ids(kind));
    return d;
  }

  /** Validate options against the plugin's schema (defaults filled in). Errors name `path.options.field`. */
  parseOptions(kind: PluginKind, id: string, raw: unknown, path: string = kind): Record<string, unknown> {
    const d = this.get(kind, id, path);
    const r = d.options.safeParse(raw ?? {});
    if (!r.success) throw formatZodIssue(`${path}.options`, r.error);
    return r.data as Record<string, unknown>;
  }

  /** Validate a reference and build the plugin instance against a container. */
  create<T>(kind: PluginKind, ref: PluginRef, container: DependencyContainer, path: string = kind): T {
    const { id, options } = normalizeRef(ref);
    const d = this.get(kind, id, `${path}.id`);
    const parsed = this.parseOptions(kind, id, options, path);
    const inst = d.create(parsed, container) as T;
    if (inst === undefined || inst === null) throw new WiringError(`${kind} plugin '${id}' created ${inst}`);
    return inst;
  }

  list(kind?: PluginKind): PluginInfo[] {
    const kinds = kind ? [kind] : PLUGIN_KINDS.filter((k) => this.byKind.has(k));
    const out: PluginInfo[] = [];
    for (const k of kinds) {
      for (const id of this.ids(k)) {
        const d = this.byKind.get(k)!.get(id)!;
        let schema: unknown = null;
        try {
          schema = z.toJSONSchema(d.options, { io: 'input', unrepresentable: 'any' });
        } catch {
          schema = null;
        }
        const defaults = d.options.safeParse({});
        out.push({ kind: k, id, summary: d.summary, defaults: defaults.success ? (defaults.data as Record<string, unknown>) : {}, schema });
      }
    }
    return out;
  }
}
