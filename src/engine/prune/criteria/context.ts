/**
 * What every criterion does with its context: read its options (CriterionContext.options; each
 * criterion documents its own names and defaults, and a wrong type or out-of-range value is a
 * LabError naming the option, what it accepts and what was given), honour cancellation, report
 * progress, and score group by group.
 */
import { CancelledError, LabError } from '../../errors';
import type { CriterionContext, GroupScores } from '../criterion';
import type { DependencyGroup } from '../groups';

/** Throw CancelledError if the user cancelled (checked between units of work). */
export function checkCancelled(ctx: CriterionContext, what: string): void {
  if (ctx.signal?.aborted) throw new CancelledError(what);
}

/**
 * Scores for each group from a per-group function, with cancellation between groups and a
 * progress report after each. Every score array is checked to be one finite number per channel.
 */
export async function scoreEachGroup(
  ctx: CriterionContext,
  name: string,
  scoreGroup: (group: DependencyGroup) => Promise<Float32Array> | Float32Array,
): Promise<GroupScores> {
  const out: GroupScores = new Map();
  for (let i = 0; i < ctx.groups.length; i++) {
    checkCancelled(ctx, `Scoring with ${name}`);
    const g = ctx.groups[i];
    out.set(g.id, checkScores(g, await scoreGroup(g)));
    ctx.onProgress?.((i + 1) / ctx.groups.length, `${name}: scored ${g.id}`);
  }
  return out;
}

/** A criterion's output for one group must have one finite score per channel. */
export function checkScores(group: DependencyGroup, scores: Float32Array): Float32Array {
  if (scores.length !== group.channels) throw new Error(`Internal: ${scores.length} scores for group ${group.id} of ${group.channels} channels.`);
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new Error(`Internal: channel ${i} of group ${group.id} got a non-finite score (${scores[i]}).`);
  }
  return scores;
}

export interface NumberRange {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** A numeric option, or its default when absent. */
export function numberOption(ctx: CriterionContext, criterion: string, key: string, fallback: number, range: NumberRange = {}): number {
  const v = ctx.options?.[key];
  if (v === undefined) return fallback;
  const accepts = [
    range.integer ? 'a whole number' : 'a number',
    range.min !== undefined ? `at least ${range.min}` : '',
    range.max !== undefined ? `at most ${range.max}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!range.integer || Number.isInteger(v)) &&
    (range.min === undefined || v >= range.min) &&
    (range.max === undefined || v <= range.max);
  if (!ok) throw new LabError('bad-argument', `${criterion}'s option "${key}" must be ${accepts}; found ${JSON.stringify(v)}.`, { option: key });
  return v as number;
}

/** A string option restricted to a list of choices, or its default when absent. */
export function choiceOption<T extends string>(ctx: CriterionContext, criterion: string, key: string, choices: readonly T[], fallback: T): T {
  const v = ctx.options?.[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new LabError('bad-argument', `${criterion}'s option "${key}" must be one of ${choices.map((c) => `"${c}"`).join(', ')}; found ${JSON.stringify(v)}.`, {
      option: key,
    });
  }
  return v as T;
}
