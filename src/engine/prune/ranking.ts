/**
 * From criterion scores and a rate to how many channels each group keeps.
 *
 * - Local ranking: every group loses the same fraction of its channels.
 * - Global ranking: all channels of all prunable groups in one list, ordered by their score
 *   after a per-group normalisation (settings.ts), and the lowest `rate` of that list removed.
 *   Without normalisation a layer whose weights are simply larger keeps everything and the
 *   others take all the pruning; l2 or max per layer makes the layers comparable.
 *
 * Both then apply the same rules: a group keeps at least `floor` channels (or all of them if it
 * is smaller), and kept counts are multiples of `roundTo` (or the whole group). Which channels
 * are kept is decided later by keepSetsFromScores (the group's top scores); per-group
 * normalisation is monotone, so that choice agrees with the global order.
 */
import { LabError } from '../errors';
import type { GroupScores } from './criterion';
import type { Normalisation, RoundTo } from './settings';

/** The part of a dependency group ranking needs. */
export interface RankedGroup {
  id: string;
  channels: number;
}

export interface CountRules {
  floor: number;
  roundTo: RoundTo;
}

/** Fewest channels a group of `n` may keep under the floor rule. */
export function floorFor(n: number, floor: number): number {
  return Math.min(n, Math.max(1, floor));
}

/**
 * A kept count made legal: at least the floor, and a multiple of roundTo unless it is the whole
 * group. Picks the nearest legal count (ties go to the larger, i.e. prune less).
 */
export function legalKeptCount(kept: number, n: number, rules: CountRules): number {
  const lo = floorFor(n, rules.floor);
  const want = Math.min(n, Math.max(lo, kept));
  if (rules.roundTo === 1) return want;
  let best = n;
  for (let c = rules.roundTo; c < n; c += rules.roundTo) {
    if (c < lo) continue;
    if (Math.abs(c - want) < Math.abs(best - want) || (Math.abs(c - want) === Math.abs(best - want) && c > best)) best = c;
  }
  return best;
}

/** Same fraction removed from every group (before floor and rounding). */
export function localKeepCounts(groups: readonly RankedGroup[], rate: number, rules: CountRules): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of groups) out.set(g.id, legalKeptCount(g.channels - Math.round(rate * g.channels), g.channels, rules));
  return out;
}

/** Scores of one group after the per-layer normalisation of global ranking. */
export function normaliseScores(scores: ArrayLike<number>, mode: Normalisation): Float64Array {
  const out = Float64Array.from(scores as ArrayLike<number>);
  if (mode === 'none' || mode === 'criterion') return out;
  let d = 0;
  if (mode === 'l2') {
    for (const v of out) d += v * v;
    d = Math.sqrt(d);
  } else {
    for (const v of out) d = Math.max(d, Math.abs(v));
  }
  // An all-zero layer stays all zero (nothing to scale).
  if (d > 0) for (let i = 0; i < out.length; i++) out[i] /= d;
  return out;
}

export function checkScores(groups: readonly RankedGroup[], scores: GroupScores): void {
  for (const g of groups) {
    const s = scores.get(g.id);
    if (!s || s.length !== g.channels) {
      throw new LabError('bad-argument', `Group "${g.id}" has ${g.channels} channels, so the criterion must give ${g.channels} scores; it gave ${s ? s.length : 'none'}.`);
    }
    for (let i = 0; i < s.length; i++) {
      if (Number.isNaN(s[i])) throw new LabError('bad-argument', `The criterion's score for channel ${i} of group "${g.id}" is not a number (NaN).`);
    }
  }
}

/**
 * One ranking across groups. The order is computed once, so counts for many rates (the target
 * search) are cheap; a higher rate removes a superset of a lower rate's channels, which makes
 * the cost a monotone function of the rate.
 */
export class GlobalRanking {
  readonly groups: readonly RankedGroup[];
  readonly total: number;
  /** Channels in removal order: [group index, channel] pairs, lowest normalised score first. */
  private readonly order: Int32Array;

  constructor(groups: readonly RankedGroup[], scores: GroupScores, normalisation: Normalisation) {
    checkScores(groups, scores);
    this.groups = groups;
    const entries: { g: number; c: number; s: number }[] = [];
    groups.forEach((g, gi) => {
      const s = normaliseScores(scores.get(g.id)!, normalisation);
      for (let c = 0; c < g.channels; c++) entries.push({ g: gi, c, s: s[c] });
    });
    // Ties: earlier group, then lower channel index, so the result is deterministic.
    entries.sort((a, b) => a.s - b.s || a.g - b.g || a.c - b.c);
    this.total = entries.length;
    this.order = new Int32Array(entries.length);
    entries.forEach((e, i) => (this.order[i] = e.g));
  }

  /** Group index of every channel, lowest normalised score first. */
  removalGroups(): Int32Array {
    return this.order;
  }

  /**
   * Kept counts when `round(rate * total)` channels are removed, walking the global order and
   * skipping channels whose group is already at its floor; then rounding per group.
   */
  keepCounts(rate: number, rules: CountRules): Map<string, number> {
    const kept = this.groups.map((g) => g.channels);
    const lo = this.groups.map((g) => floorFor(g.channels, rules.floor));
    let toRemove = Math.round(rate * this.total);
    for (let i = 0; i < this.order.length && toRemove > 0; i++) {
      const gi = this.order[i];
      if (kept[gi] > lo[gi]) {
        kept[gi]--;
        toRemove--;
      }
    }
    return new Map(this.groups.map((g, gi) => [g.id, legalKeptCount(kept[gi], g.channels, rules)]));
  }
}

/** Kept counts per group for a channel rate, local or global. */
export function keepCountsForRate(
  groups: readonly RankedGroup[],
  scores: GroupScores,
  rate: number,
  opts: CountRules & { ranking: 'local' | 'global'; normalisation: Normalisation },
): Map<string, number> {
  if (opts.ranking === 'local') {
    checkScores(groups, scores);
    return localKeepCounts(groups, rate, opts);
  }
  return new GlobalRanking(groups, scores, opts.normalisation).keepCounts(rate, opts);
}

/**
 * Channels one at a time, in the order a rising rate removes them (floor honoured), so a cost
 * target can be searched channel by channel. Local ranking removes a group's k-th channel at
 * rate (k - 1/2) / n (where round(rate * n) reaches k); groups whose steps coincide (equal
 * sizes) are then interleaved one channel at a time instead of all at once, which keeps the
 * rates equal within one channel while making the cost steps fine enough for a 1% target.
 * Global ranking removes channels in its normalised-score order.
 */
export class RemovalOrder {
  readonly groups: readonly RankedGroup[];
  /** Group index of each removal, in order. */
  private readonly events: Int32Array;
  /** The rate at which each removal happens. */
  private readonly rates: Float64Array;
  private readonly floor: number;

  constructor(groups: readonly RankedGroup[], scores: GroupScores, opts: { ranking: 'local' | 'global'; normalisation: Normalisation; floor: number }) {
    checkScores(groups, scores);
    this.groups = groups;
    this.floor = opts.floor;
    const ev: { g: number; t: number }[] = [];
    if (opts.ranking === 'local') {
      groups.forEach((g, gi) => {
        const removable = g.channels - floorFor(g.channels, opts.floor);
        for (let k = 1; k <= removable; k++) ev.push({ g: gi, t: (k - 0.5) / g.channels });
      });
      ev.sort((a, b) => a.t - b.t || a.g - b.g);
    } else {
      const total = groups.reduce((a, g) => a + g.channels, 0);
      const order = new GlobalRanking(groups, scores, opts.normalisation).removalGroups();
      const left = groups.map((g) => g.channels - floorFor(g.channels, opts.floor));
      let n = 0;
      for (const gi of order) {
        if (left[gi] === 0) continue;
        left[gi]--;
        n++;
        ev.push({ g: gi, t: n / total });
      }
    }
    this.events = Int32Array.from(ev.map((e) => e.g));
    this.rates = Float64Array.from(ev.map((e) => e.t));
  }

  get length(): number {
    return this.events.length;
  }

  /** The rate of the m-th removal (0 for none). */
  rateAfter(m: number): number {
    return m <= 0 ? 0 : this.rates[Math.min(m, this.rates.length) - 1];
  }

  /** Kept counts after the first m removals, then rounded per group. */
  countsAfter(m: number, roundTo: RoundTo): Map<string, number> {
    const kept = this.groups.map((g) => g.channels);
    for (let i = 0; i < Math.min(m, this.events.length); i++) kept[this.events[i]]--;
    return new Map(this.groups.map((g, gi) => [g.id, legalKeptCount(kept[gi], g.channels, { floor: this.floor, roundTo })]));
  }
}

/** Fraction of the groups' channels removed by the counts. */
export function removedFraction(groups: readonly RankedGroup[], counts: ReadonlyMap<string, number>): number {
  let total = 0;
  let removed = 0;
  for (const g of groups) {
    total += g.channels;
    removed += g.channels - (counts.get(g.id) ?? g.channels);
  }
  return total > 0 ? removed / total : 0;
}
