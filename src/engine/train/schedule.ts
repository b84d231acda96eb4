/**
 * Learning-rate schedule: linear warm-up from `warmupFactor * lr` to `lr` over `warmupSteps`,
 * then cosine annealing to `minFactor * lr` at `totalSteps`, or step decay (x gamma every
 * `stepSize` steps after warm-up), or constant.
 */
export interface ScheduleConfig {
  warmupSteps: number;
  /** Starting fraction of the base LR during warm-up (fast-reid uses 0.1; 0 also works). */
  warmupFactor: number;
  decay: 'cosine' | 'step' | 'none';
  /** Cosine floor as a fraction of the base LR. */
  minFactor: number;
  /** Step decay: period in steps (after warm-up) and factor. */
  stepSize: number;
  gamma: number;
}

export const DEFAULT_SCHEDULE: ScheduleConfig = { warmupSteps: 0, warmupFactor: 0.1, decay: 'cosine', minFactor: 0.01, stepSize: 1000, gamma: 0.1 };

/** LR for the optimiser step with 0-based index `step` out of `totalSteps`. */
export function learningRateAt(baseLr: number, step: number, totalSteps: number, s: ScheduleConfig): number {
  if (step < s.warmupSteps) {
    const t = s.warmupSteps <= 1 ? 1 : step / (s.warmupSteps - 1);
    return baseLr * (s.warmupFactor + (1 - s.warmupFactor) * t);
  }
  const after = step - s.warmupSteps;
  const span = Math.max(1, totalSteps - s.warmupSteps);
  switch (s.decay) {
    case 'cosine': {
      const t = Math.min(1, after / span);
      return baseLr * (s.minFactor + (1 - s.minFactor) * 0.5 * (1 + Math.cos(Math.PI * t)));
    }
    case 'step':
      return baseLr * Math.pow(s.gamma, Math.floor(after / Math.max(1, s.stepSize)));
    default:
      return baseLr;
  }
}
