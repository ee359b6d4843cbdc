/**
 * An example third-party difflab plugin package. It adds the sampler 'ddim-heun' (see
 * ddim-heun.ts) by exporting `register(container)`, which is all `--plugin` needs:
 *
 *   difflab sample --plugin ./examples/sampler-plugin --run RUN --sampler ddim-heun --steps 10
 */
import { type DependencyContainer, definePlugin, registryOf, resolveRequired, type Sampler, TOKENS } from '@difflab/core';
import { z } from 'zod';
import { DdimHeunSampler } from './ddim-heun.js';

export { type DdimHeunOptions, DdimHeunSampler } from './ddim-heun.js';

export const ddimHeunOptions = z
  .object({
    numInferenceSteps: z.number().int().min(1).nullable().default(null).describe('solver steps n (2n - 1 model evaluations); null: min(25, T)'),
    timestepSpacing: z.enum(['leading', 'linspace', 'trailing']).default('leading'),
  })
  .strict();

export const ddimHeunPlugin = definePlugin<Sampler, typeof ddimHeunOptions>({
  kind: 'sampler',
  id: 'ddim-heun',
  summary: "second-order (Heun) solver of DDIM's ODE, 2n - 1 model evaluations for n steps (example plugin)",
  options: ddimHeunOptions,
  create: (o, container) => {
    const schedule = resolveRequired(container, TOKENS.Schedule);
    return new DdimHeunSampler(schedule, { numInferenceSteps: o.numInferenceSteps ?? undefined, timestepSpacing: o.timestepSpacing });
  },
});

/** Add this package's plugins to the container's plugin registry (the `--plugin` entry point). */
export function register(container: DependencyContainer): void {
  registryOf(container).add(ddimHeunPlugin);
}
