import { normalizeRef, type PluginRef, registryOf } from '@difflab/core';
import type { DependencyContainer } from 'tsyringe';
import type { PipelineConfig } from './config.js';

/**
 * The sampler reference for `--sampler ID`: the run's own sampler options when the id is the
 * same; for another sampler, the run's options that it also accepts (e.g. clipSample).
 */
export function samplerRefFor(app: DependencyContainer, config: PipelineConfig, id?: string, steps?: number): PluginRef {
  const base = normalizeRef(config.sampler);
  const reg = registryOf(app);
  const target = id ?? base.id;
  reg.get('sampler', target, '--sampler');
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base.options)) {
    if (target === base.id) options[k] = v;
    else {
      try {
        reg.parseOptions('sampler', target, { [k]: v });
        options[k] = v;
      } catch {
        // option not understood by the other sampler: dropped
      }
    }
  }
  if (steps !== undefined) options.numInferenceSteps = steps;
  return { id: target, options };
}
