import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from '@difflab/core';
import { loadConfigObject, parseConfig, type PipelineConfig } from './config.js';
import { PRESETS, type PresetName } from './presets.js';

/**
 * Load a config from a preset name (e.g. `spiral-default`) or a JSON file. A file may name a
 * preset in `"extends"` and override any field (deep merge of objects, arrays replaced).
 * Node only (reads files); in a browser use `loadConfigObject` or `parseConfig(PRESETS[name])`.
 */
export function loadConfig(nameOrPath?: string): PipelineConfig {
  return loadConfigFrom(nameOrPath);
}

function loadConfigFrom(nameOrPath?: string): PipelineConfig {
  if (!nameOrPath) return parseConfig(PRESETS['spiral-default']);
  if (nameOrPath in PRESETS) return parseConfig(PRESETS[nameOrPath as PresetName]);
  if (!existsSync(nameOrPath)) {
    throw new ConfigError('--config', `'${nameOrPath}' is neither a file nor a preset; presets: ${Object.keys(PRESETS).join(', ')}`);
  }
  if (!statSync(nameOrPath).isFile()) throw new ConfigError('--config', `'${nameOrPath}' is not a file`);
  let text: string;
  try {
    text = readFileSync(nameOrPath, 'utf8');
  } catch (e) {
    throw new ConfigError('--config', `cannot read '${nameOrPath}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(nameOrPath, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  try {
    return loadConfigObject(raw, nameOrPath);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${nameOrPath}: ${e.path}`.replace(/: $/, ''), e.message.slice(e.path.length + 2));
    throw e;
  }
}
