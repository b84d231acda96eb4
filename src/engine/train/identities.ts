/**
 * Identity bookkeeping for training: contiguous class labels for the ID classifier, and the
 * check that fine-tuning identities never appear among the evaluation identities.
 */
import { LabError } from '../errors';
import type { ReidSplit } from '../data/types';

/** Training identities (pid > 0) in ascending order, and pid -> class index. */
export function labelMap(pids: ArrayLike<number>): { ids: number[]; index: Map<number, number> } {
  const set = new Set<number>();
  for (let i = 0; i < pids.length; i++) if (pids[i] > 0) set.add(pids[i]);
  const ids = [...set].sort((a, b) => a - b);
  return { ids, index: new Map(ids.map((pid, i) => [pid, i])) };
}

/**
 * Throw LabError('identity-leak') if any training identity (pid > 0) also appears in the query
 * or gallery split: a model fine-tuned on evaluation identities would score unfairly well.
 */
export function assertDisjointIdentities(train: Pick<ReidSplit, 'pids'>, query: Pick<ReidSplit, 'pids'>, gallery: Pick<ReidSplit, 'pids'>): void {
  const trainIds = new Set<number>();
  for (const p of train.pids) if (p > 0) trainIds.add(p);
  const leaked = new Set<number>();
  for (const split of [query, gallery]) for (const p of split.pids) if (p > 0 && trainIds.has(p)) leaked.add(p);
  if (leaked.size > 0) {
    const list = [...leaked].sort((a, b) => a - b);
    const shown = list.slice(0, 5).join(', ') + (list.length > 5 ? ', ...' : '');
    throw new LabError(
      'identity-leak',
      `Fine-tuning identities must not be evaluation identities, but ${list.length} training identit${list.length === 1 ? 'y appears' : 'ies appear'} in the query/gallery set (${shown}).`,
      { pids: list },
    );
  }
}
