import { z } from 'zod';
import { ConfigError, formatZodIssue, pluginRefSchema, type PluginRef } from '@difflab/core';
import { trainingOptionsSchema } from '@difflab/training';
import { PRESETS, type PresetName } from './presets.js';

/** Training settings: @difflab/training's options (AdamW, warm-up, decay, clipping, EMA). */
export const trainSchema = trainingOptionsSchema;

/** Sampling settings used by `sample` and `lab`. */
export const sampleSchema = z
  .object({
    n: z.number().int().min(1).max(10_000_000).default(10_000),
    steps: z.number().int().min(1).max(100_000).nullable().default(null),
    useEma: z.boolean().default(true),
  })
  .strict();

export const pipelineConfigSchema = z
  .object({
    name: z.string().default('custom'),
    description: z.string().default(''),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    dataset: pluginRefSchema.default({ id: 'swiss-roll' }),
    schedule: pluginRefSchema.default({ id: 'linear' }),
    timestepEmbedding: pluginRefSchema.default({ id: 'sinusoidal' }),
    inputEmbedding: pluginRefSchema.default({ id: 'sinusoidal' }),
    model: pluginRefSchema.default({ id: 'mlp' }),
    /** Labels or captions to the model's condition (classifier-free guidance); null: unconditional. */
    conditioner: pluginRefSchema.nullable().default(null),
    sampler: pluginRefSchema.default({ id: 'ddpm' }),
    metrics: z.array(pluginRefSchema).default(['sliced-w2', 'mmd', 'chamfer', 'energy']),
    train: trainSchema.default(() => trainSchema.parse({})),
    sample: sampleSchema.default(sampleSchema.parse({})),
    forward: z
      .object({ t: z.array(z.number().int().min(0)).min(1).default([0, 1, 10, 25, 37]), n: z.number().int().min(1).max(1_000_000).default(10_000) })
      .strict()
      .default({ t: [0, 1, 10, 25, 37], n: 10_000 }),
  })
  .strict();

export type PipelineConfig = z.output<typeof pipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
export type { PluginRef };

/** Validate a config object; errors name the dotted path and what is allowed. */
export function parseConfig(raw: unknown, source = 'config'): PipelineConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, 'a pipeline config must be a JSON object');
  }
  const r = pipelineConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      const keys = (issue as { keys: string[] }).keys.map((k) => `'${k}'`).join(', ');
      throw new ConfigError(source, `unknown key(s) ${keys}; allowed: ${Object.keys(pipelineConfigSchema.shape).join(', ')}, extends`);
    }
    throw formatZodIssue('', r.error);
  }
  return r.data;
}

/** Validate a raw object that may `extends` a preset (as a config file does). */
export function loadConfigObject(raw: unknown, source = 'config'): PipelineConfig {
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && 'extends' in raw) {
    const { extends: base, ...rest } = raw as { extends: unknown } & Record<string, unknown>;
    if (typeof base !== 'string' || !(base in PRESETS)) {
      throw new ConfigError(`${source}: extends`, `must name a preset: ${Object.keys(PRESETS).join(', ')}`);
    }
    raw = deepMerge(PRESETS[base as PresetName] as Record<string, unknown>, rest);
  }
  return parseConfig(raw, source);
}


function isRef(v: unknown): boolean {
  return Boolean(v) && typeof v === 'object' && !Array.isArray(v) && typeof (v as { id?: unknown }).id === 'string';
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    // A plugin reference with another id replaces the base one whole: options of one plugin
    // mean nothing to another.
    const otherPlugin = isRef(v) && isRef(av) && (v as { id: unknown }).id !== (av as { id: unknown }).id;
    if (!otherPlugin && v && typeof v === 'object' && !Array.isArray(v) && av && typeof av === 'object' && !Array.isArray(av)) {
      out[k] = deepMerge(av as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/**
 * Override one slot of a config from a `key=value` string, as `ablate --grid` and `--set` use:
 * `embedding=learnable` (plugin slot: replaces the id, keeps nothing else), `schedule.options.T=40`,
 * `train.steps=2000`. Values are parsed as JSON when they parse, else kept as strings.
 */
export const SLOT_ALIASES: Record<string, string> = {
  embedding: 'timestepEmbedding',
  'timestep-embedding': 'timestepEmbedding',
  'input-embedding': 'inputEmbedding',
};

export function setPath(config: Record<string, unknown>, key: string, value: string): Record<string, unknown> {
  const parts = key.split('.').map((p, i) => (i === 0 ? (SLOT_ALIASES[p] ?? p) : p));
  let parsed: unknown = value;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = value;
  }
  const out = structuredClone(config);
  const pluginSlots = ['dataset', 'schedule', 'timestepEmbedding', 'inputEmbedding', 'model', 'conditioner', 'sampler'];
  if (parts.length === 1 && pluginSlots.includes(parts[0])) {
    out[parts[0]] = { id: String(parsed) };
    return out;
  }
  let cur: Record<string, unknown> = out;
  for (let i = 0; i < parts.length - 1; i++) {
    let next = cur[parts[i]];
    if (typeof next === 'string') next = { id: next };
    if (!next || typeof next !== 'object' || Array.isArray(next)) next = {};
    cur[parts[i]] = next;
    cur = next as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = parsed;
  return out;
}
