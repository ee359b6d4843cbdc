/**
 * Learning-rate schedules with linear warm-up, as diffusers' `get_scheduler` (optimization.py):
 * the multiplier at optimizer step s (0-based count of completed steps) is
 *
 *   s < W:     s / max(1, W)                                  (so the first step has lr 0)
 *   constant:  1
 *   linear:    max(0, (N - s) / max(1, N - W))
 *   cosine:    max(0, 0.5 (1 + cos(pi progress))), progress = (s - W) / max(1, N - W)
 *
 * with W warm-up steps and N total steps.
 */
export const LR_DECAYS = ['constant', 'linear', 'cosine'] as const;
export type LrDecay = (typeof LR_DECAYS)[number];

export interface LrScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  totalSteps: number;
  warmupSteps?: number;
  decay?: LrDecay;
}

/** Learning rate used for the update after `step` completed steps. */
export function learningRateAt(step: number, o: LrScheduleOptions): number {
  const W = o.warmupSteps ?? 0;
  const N = o.totalSteps;
  if (step < W) return (o.lr * step) / Math.max(1, W);
  switch (o.decay ?? 'constant') {
    case 'constant':
      return o.lr;
    case 'linear':
      return o.lr * Math.max(0, (N - step) / Math.max(1, N - W));
    case 'cosine': {
      const progress = (step - W) / Math.max(1, N - W);
      return o.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    default:
      throw new RangeError(`unknown learning-rate decay '${String(o.decay)}'; allowed: ${LR_DECAYS.join(', ')}`);
  }
}
