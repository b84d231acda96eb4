/**
 * Reaching a pruning target: a channel rate directly, or a cost target ("keep 50% of the MACs",
 * or of the parameters) by bisection over the rate. The cost of a rate is predicted from the
 * pruned spec by the cost model, without touching weights, so the search is cheap.
 *
 * The cost is a step function of the rate, non-increasing because a higher rate removes a
 * superset of channels. The bisection runs over the steps themselves (the channels in the order
 * a rising rate removes them, RemovalOrder), brackets the target between two neighbouring steps
 * and takes the closer one. A cost target is
 * "met" within 1% of the requested value; when the floor, rounding, scope or protection make it
 * unreachable the result says what was reached instead.
 */
import type { ResNetSpec } from '../model/spec';
import { modelCost } from '../cost/macs';
import { prunedSpec } from './keep-set';
import type { GroupScores } from './criterion';
import { GlobalRanking, RemovalOrder, checkScores, localKeepCounts, removedFraction, type CountRules, type RankedGroup } from './ranking';
import { describeTarget, type Normalisation, type PruneTarget, type RankingMode } from './settings';

/** Relative tolerance for a cost target. */
export const COST_TOLERANCE = 0.01;

export interface Cost {
  macs: number;
  params: number;
}

export interface TargetOptions extends CountRules {
  ranking: RankingMode;
  normalisation: Normalisation;
}

export interface TargetResult {
  /** The channel rate used (the searched one for a cost target). */
  rate: number;
  /** Kept channels per prunable group. */
  counts: Map<string, number>;
  /** Fraction of the prunable groups' channels actually removed (after floor and rounding). */
  removedFraction: number;
  before: Cost;
  after: Cost;
  /** Whether the target was reached (rate: within 1 point; cost: within 1%). */
  met: boolean;
  /** A sentence when the target was not met, saying what was reached instead. */
  message?: string;
}

export function specCost(spec: ResNetSpec): Cost {
  const c = modelCost(spec);
  return { macs: c.macs, params: c.params };
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function rulesText(opts: TargetOptions): string {
  const parts = [`at least ${opts.floor} channel${opts.floor === 1 ? '' : 's'} per group`];
  if (opts.roundTo > 1) parts.push(`kept counts in multiples of ${opts.roundTo}`);
  return parts.join(', ');
}

/**
 * Kept counts for `target` on `spec`. `groups` are the prunable groups (scope and protection
 * already applied); other groups keep all their channels. Cost targets are fractions of `spec`'s
 * own cost.
 */
export function resolveTarget(spec: ResNetSpec, groups: readonly RankedGroup[], scores: GroupScores, target: PruneTarget, opts: TargetOptions): TargetResult {
  checkScores(groups, scores);
  const global = opts.ranking === 'global' ? new GlobalRanking(groups, scores, opts.normalisation) : null;
  const countsAt = (rate: number) => (global ? global.keepCounts(rate, opts) : localKeepCounts(groups, rate, opts));
  const before = specCost(spec);
  const costOf = (counts: Map<string, number>) => specCost(prunedSpec(spec, counts));
  const result = (rate: number, counts: Map<string, number>, met: boolean, message?: string): TargetResult => {
    const r: TargetResult = { rate, counts, removedFraction: removedFraction(groups, counts), before, after: costOf(counts), met };
    if (message) r.message = message;
    return r;
  };

  if (target.kind === 'rate') {
    const counts = countsAt(target.rate);
    const removed = removedFraction(groups, counts);
    if (groups.length === 0 && target.rate > 0) return result(target.rate, counts, false, 'No group can be pruned with this scope and protection.');
    if (Math.abs(removed - target.rate) <= 0.01) return result(target.rate, counts, true);
    return result(target.rate, counts, false, `Asked to remove ${pct(target.rate)} of the channels; with ${rulesText(opts)} ${pct(removed)} were removed.`);
  }

  const key = target.kind === 'macs' ? 'macs' : 'params';
  const unit = target.kind === 'macs' ? 'MACs' : 'parameters';
  const goal = target.keep * before[key];
  const rel = (c: number) => Math.abs(c - goal) / goal;
  const noteFor = (reached: number) =>
    `Asked to ${describeTarget(target)}; with this scope, protection and ${rulesText(opts)} the closest reachable is ${pct(reached / before[key])} of the ${unit}.`;

  // Search over the number of channels removed, in the order a rising rate removes them.
  const order = new RemovalOrder(groups, scores, opts);
  const countsAfter = (m: number) => order.countsAfter(m, opts.roundTo);
  const costAfter = (m: number) => costOf(countsAfter(m))[key];
  const fullCost = costAfter(0);
  if (fullCost <= goal) return result(0, countsAfter(0), rel(fullCost) <= COST_TOLERANCE, rel(fullCost) <= COST_TOLERANCE ? undefined : noteFor(fullCost));
  const minCost = costAfter(order.length);
  if (minCost > goal) {
    const met = rel(minCost) <= COST_TOLERANCE;
    return result(
      order.rateAfter(order.length),
      countsAfter(order.length),
      met,
      met ? undefined : `Asked to ${describeTarget(target)}, but the smallest model these settings allow (scope, protection, ${rulesText(opts)}) keeps ${pct(minCost / before[key])} of the ${unit}.`,
    );
  }
  // Invariant: cost(lo) > goal >= cost(hi); the cost never rises with more removals.
  let lo = 0;
  let hi = order.length;
  let loCost = fullCost;
  let hiCost = minCost;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const c = costAfter(mid);
    if (c > goal) {
      lo = mid;
      loCost = c;
    } else {
      hi = mid;
      hiCost = c;
    }
  }
  const [m, cost] = rel(loCost) < rel(hiCost) ? [lo, loCost] : [hi, hiCost];
  const met = rel(cost) <= COST_TOLERANCE;
  return result(order.rateAfter(m), countsAfter(m), met, met ? undefined : noteFor(cost));
}
