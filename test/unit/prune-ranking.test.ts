/**
 * Local and global ranking: hand-worked counts, floor and rounding rules, and what per-layer
 * normalisation does when one layer's scores are 100x larger or smaller than the others'.
 */
import { describe, expect, it } from 'vitest';
import { GlobalRanking, RemovalOrder, keepCountsForRate, legalKeptCount, localKeepCounts, normaliseScores, removedFraction, type RankedGroup } from '../../src/engine/prune/ranking';
import type { GroupScores } from '../../src/engine/prune/criterion';
import { Prng } from '../../src/engine/util/prng';

const groups: RankedGroup[] = [
  { id: 'a', channels: 16 },
  { id: 'b', channels: 32 },
  { id: 'c', channels: 8 },
  { id: 'd', channels: 64 },
];

function randomScores(seed: number, scale: Record<string, number> = {}): GroupScores {
  const rng = new Prng(seed);
  return new Map(groups.map((g) => [g.id, Float32Array.from({ length: g.channels }, () => rng.uniform(0.1, 1) * (scale[g.id] ?? 1))]));
}

describe('legal kept counts', () => {
  it('applies the floor and rounds to the nearest multiple (or the whole group), hand-worked', () => {
    // 16 channels, want 11: multiples of 4 are 4, 8, 12 (and 16 whole) -> 12.
    expect(legalKeptCount(11, 16, { floor: 1, roundTo: 4 })).toBe(12);
    // want 10 (tie between 8 and 12) -> the larger, 12.
    expect(legalKeptCount(10, 16, { floor: 1, roundTo: 4 })).toBe(12);
    expect(legalKeptCount(9, 16, { floor: 1, roundTo: 4 })).toBe(8);
    // want 1 of 8 with floor 3 -> 3; with rounding to 4 the nearest legal count >= 3 is 4.
    expect(legalKeptCount(1, 8, { floor: 3, roundTo: 1 })).toBe(3);
    expect(legalKeptCount(1, 8, { floor: 3, roundTo: 4 })).toBe(4);
    // A group smaller than the floor stays whole; a 12-channel group rounded to 8 keeps 8 or 12.
    expect(legalKeptCount(1, 2, { floor: 4, roundTo: 1 })).toBe(2);
    expect(legalKeptCount(11, 12, { floor: 1, roundTo: 8 })).toBe(12);
    expect(legalKeptCount(7, 12, { floor: 1, roundTo: 8 })).toBe(8);
    expect(legalKeptCount(0, 12, { floor: 1, roundTo: 8 })).toBe(8);
  });
});

describe('local ranking', () => {
  it('removes the same fraction from every group', () => {
    for (const rate of [0, 0.25, 0.5, 0.75]) {
      const c = localKeepCounts(groups, rate, { floor: 1, roundTo: 1 });
      // Every channel count here is a multiple of 4, so each group loses exactly `rate`.
      for (const g of groups) expect(c.get(g.id)).toBe(g.channels * (1 - rate));
    }
    const c = localKeepCounts(groups, 0.3, { floor: 1, roundTo: 1 });
    for (const g of groups) expect(c.get(g.id)).toBe(g.channels - Math.round(0.3 * g.channels));
  });

  it('respects the floor and rounding in every group', () => {
    for (const rate of [0.1, 0.37, 0.6, 0.9, 0.99]) {
      for (const [floor, roundTo] of [[3, 1], [1, 4], [5, 8], [2, 4]] as const) {
        const c = localKeepCounts(groups, rate, { floor, roundTo });
        for (const g of groups) {
          const k = c.get(g.id)!;
          expect(k).toBeGreaterThanOrEqual(Math.min(floor, g.channels));
          expect(k).toBeLessThanOrEqual(g.channels);
          expect(k === g.channels || k % roundTo === 0).toBe(true);
          // Nearest legal count: no legal count is closer to the unrounded one.
          const want = Math.max(Math.min(floor, g.channels), g.channels - Math.round(rate * g.channels));
          for (let alt = 1; alt <= g.channels; alt++) {
            const legal = alt >= Math.min(floor, g.channels) && (alt === g.channels || alt % roundTo === 0);
            if (legal) expect(Math.abs(k - want)).toBeLessThanOrEqual(Math.abs(alt - want));
          }
        }
      }
    }
  });
});

describe('removal order (for cost targets)', () => {
  it('local: after any number of removals every group is within one channel of the common rate', () => {
    const order = new RemovalOrder(groups, randomScores(2), { ranking: 'local', normalisation: 'l2', floor: 2 });
    expect(order.length).toBe(groups.reduce((a, g) => a + g.channels - 2, 0));
    for (let m = 0; m <= order.length; m += 7) {
      const c = order.countsAfter(m, 1);
      const r = order.rateAfter(m);
      for (const g of groups) expect(Math.abs(c.get(g.id)! - Math.max(2, g.channels - Math.round(r * g.channels)))).toBeLessThanOrEqual(1);
      expect(removedFraction(groups, c)).toBeCloseTo(m / 120, 9);
    }
  });

  it('global: the first m removals are the global ranking at m channels', () => {
    const s = randomScores(4, { b: 10 });
    const order = new RemovalOrder(groups, s, { ranking: 'global', normalisation: 'max', floor: 3 });
    const gr = new GlobalRanking(groups, s, 'max');
    for (const m of [0, 10, 33, 60, 100]) {
      expect(Object.fromEntries(order.countsAfter(m, 1))).toEqual(Object.fromEntries(gr.keepCounts(m / 120, { floor: 3, roundTo: 1 })));
    }
  });
});

describe('global ranking', () => {
  it('removes the lowest-scoring channels across all groups (no normalisation), hand-worked', () => {
    const g2: RankedGroup[] = [
      { id: 'x', channels: 3 },
      { id: 'y', channels: 3 },
    ];
    const s: GroupScores = new Map([
      ['x', Float32Array.from([0.1, 5, 0.3])],
      ['y', Float32Array.from([0.2, 4, 6])],
    ]);
    // rate 0.5 of 6 channels -> remove 0.1 (x), 0.2 (y), 0.3 (x).
    const c = new GlobalRanking(g2, s, 'none').keepCounts(0.5, { floor: 1, roundTo: 1 });
    expect(Object.fromEntries(c)).toEqual({ x: 1, y: 2 });
    // Floor 2: 0.1 (x) and 0.2 (y) go, then both groups sit at their floor, so only 2 of 3 are removed.
    const f = new GlobalRanking(g2, s, 'none').keepCounts(0.5, { floor: 2, roundTo: 1 });
    expect(Object.fromEntries(f)).toEqual({ x: 2, y: 2 });
    expect(removedFraction(g2, f)).toBeCloseTo(2 / 6);
  });

  it('normalises per layer: l2 divides by the norm, max by the largest magnitude', () => {
    const n = normaliseScores([3, 4], 'l2');
    expect(n[0]).toBeCloseTo(0.6);
    expect(n[1]).toBeCloseTo(0.8);
    const m = normaliseScores([-2, 1, 4], 'max');
    expect(Array.from(m)).toEqual([-0.5, 0.25, 1]);
    expect(Array.from(normaliseScores([0, 0], 'l2'))).toEqual([0, 0]);
    expect(Array.from(normaliseScores([1, 2], 'none'))).toEqual([1, 2]);
  });

  it('a layer scaled by 100x is spared entirely without normalisation, and pruned as if unscaled under l2 or max per layer', () => {
    const rules = { floor: 1, roundTo: 1 } as const;
    const base = randomScores(7);
    const big = randomScores(7, { b: 100 });
    const small = randomScores(7, { b: 0.01 });
    const rate = 0.4;
    const total = groups.reduce((a, g) => a + g.channels, 0);

    const none = new GlobalRanking(groups, big, 'none').keepCounts(rate, rules);
    expect(none.get('b')).toBe(32); // the big layer keeps everything...
    expect(removedFraction(groups, none)).toBeCloseTo(Math.round(rate * total) / total); // ...the others take all the pruning
    // Scaled down 100x it takes all the pruning it can (only its floor survives).
    const noneSmall = new GlobalRanking(groups, small, 'none').keepCounts(rate, rules);
    expect(noneSmall.get('b')).toBe(1);

    for (const mode of ['l2', 'max'] as const) {
      const ref = new GlobalRanking(groups, base, mode).keepCounts(rate, rules);
      const scaled = new GlobalRanking(groups, big, mode).keepCounts(rate, rules);
      const scaledDown = new GlobalRanking(groups, small, mode).keepCounts(rate, rules);
      expect(Object.fromEntries(scaled)).toEqual(Object.fromEntries(ref));
      expect(Object.fromEntries(scaledDown)).toEqual(Object.fromEntries(ref));
      // And the scaled layer is pruned, but not emptied.
      expect(scaled.get('b')!).toBeLessThan(32);
      expect(scaled.get('b')!).toBeGreaterThan(1);
    }
  });

  it('a higher rate never keeps more channels in any group (monotone, for the target search)', () => {
    const s = randomScores(3, { a: 3, d: 0.5 });
    const gr = new GlobalRanking(groups, s, 'l2');
    let prev = gr.keepCounts(0, { floor: 2, roundTo: 4 });
    for (let r = 0.05; r < 1; r += 0.05) {
      const c = gr.keepCounts(r, { floor: 2, roundTo: 4 });
      for (const g of groups) expect(c.get(g.id)!).toBeLessThanOrEqual(prev.get(g.id)!);
      prev = c;
    }
  });

  it('rejects scores of the wrong length or NaN with a sentence naming the group', () => {
    const s = randomScores(1);
    s.set('c', new Float32Array(5));
    expect(() => keepCountsForRate(groups, s, 0.3, { ranking: 'global', normalisation: 'l2', floor: 1, roundTo: 1 })).toThrow(/Group "c" has 8 channels.*gave 5/);
    const t = randomScores(1);
    t.get('a')![2] = NaN;
    expect(() => keepCountsForRate(groups, t, 0.3, { ranking: 'local', normalisation: 'l2', floor: 1, roundTo: 1 })).toThrow(/channel 2 of group "a".*NaN/);
  });
});
