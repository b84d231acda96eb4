/**
 * Cost targets reached by search over the rate: within 1% of the requested MACs / params on a
 * tiny ResNet-50, floor and rounding respected, protected groups untouched, and a clear message
 * when the target cannot be reached.
 */
import { describe, expect, it } from 'vitest';
import { buildSpec } from '../../src/engine/model/spec';
import { modelCost } from '../../src/engine/cost/macs';
import { prunableGroups, protectedGroupIds, dependencyGroups } from '../../src/engine/prune/groups';
import { prunedSpec } from '../../src/engine/prune/keep-set';
import { resolveTarget } from '../../src/engine/prune/target';
import type { GroupScores } from '../../src/engine/prune/criterion';
import type { Protection, PruneScope } from '../../src/engine/prune/groups';
import { Prng } from '../../src/engine/util/prng';

const spec = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
const full = modelCost(spec);

function scoresFor(scope: PruneScope, protection: Protection, seed = 5): { groups: ReturnType<typeof prunableGroups>; scores: GroupScores } {
  const groups = prunableGroups(spec, scope, protection);
  const rng = new Prng(seed);
  // Different scales per group so global ranking is uneven across layers.
  const scores: GroupScores = new Map(groups.map((g, i) => [g.id, Float32Array.from({ length: g.channels }, () => rng.uniform(0, 1) * (1 + (i % 5)))]));
  return { groups, scores };
}

const none: Protection = { stem: false, lastStage: false };

describe('MACs and params targets', () => {
  for (const ranking of ['local', 'global'] as const) {
    for (const scope of ['inner', 'inner+trunk'] as const) {
      it(`meets MACs targets within 1% (${ranking}, ${scope})`, () => {
        const { groups, scores } = scoresFor(scope, none);
        for (const keep of [0.9, 0.75, 0.6, 0.5, 0.4]) {
          const r = resolveTarget(spec, groups, scores, { kind: 'macs', keep }, { ranking, normalisation: 'l2', floor: 1, roundTo: 1 });
          const achieved = modelCost(prunedSpec(spec, r.counts)).macs / full.macs;
          expect(r.met, `${keep}: ${r.message}`).toBe(true);
          expect(Math.abs(achieved - keep) / keep).toBeLessThanOrEqual(0.01);
          expect(r.after.macs).toBe(modelCost(prunedSpec(spec, r.counts)).macs);
          expect(r.before.macs).toBe(full.macs);
        }
      });
    }
  }

  it('meets params targets within 1%', () => {
    const { groups, scores } = scoresFor('inner+trunk', none);
    for (const keep of [0.8, 0.5, 0.3]) {
      const r = resolveTarget(spec, groups, scores, { kind: 'params', keep }, { ranking: 'global', normalisation: 'max', floor: 1, roundTo: 1 });
      const achieved = modelCost(prunedSpec(spec, r.counts)).params / full.params;
      expect(Math.abs(achieved - keep) / keep).toBeLessThanOrEqual(0.01);
    }
  });

  it('respects floor, rounding and protection while searching, and keeps the target when reachable', () => {
    const protection = { stem: true, lastStage: true };
    const { groups, scores } = scoresFor('inner+trunk', protection);
    const prot = protectedGroupIds(spec, protection);
    expect(groups.some((g) => prot.has(g.id))).toBe(false);
    for (const [floor, roundTo] of [[4, 4], [2, 8]] as const) {
      for (const keep of [0.8, 0.6]) {
        const r = resolveTarget(spec, groups, scores, { kind: 'macs', keep }, { ranking: 'global', normalisation: 'l2', floor, roundTo });
        for (const g of groups) {
          const k = r.counts.get(g.id)!;
          expect(k).toBeGreaterThanOrEqual(Math.min(floor, g.channels));
          expect(k === g.channels || k % roundTo === 0).toBe(true);
        }
        // Protected groups are not in the counts, so prunedSpec keeps them whole.
        const ps = prunedSpec(spec, r.counts);
        expect(ps.stemC).toBe(spec.stemC);
        ps.stages[3].forEach((b, i) => expect([b.mid, b.outC]).toEqual([spec.stages[3][i].mid, spec.stages[3][i].outC]));
        const achieved = modelCost(ps).macs / full.macs;
        // Rounding to 8 makes steps coarse; either the target is met or the message says what was reached.
        if (r.met) expect(Math.abs(achieved - keep) / keep).toBeLessThanOrEqual(0.01);
        else expect(r.message).toMatch(/closest reachable is \d+\.\d% of the MACs/);
      }
    }
  });

  it('says what was reached when the target is out of reach', () => {
    const { groups, scores } = scoresFor('inner', { stem: false, lastStage: true });
    const r = resolveTarget(spec, groups, scores, { kind: 'macs', keep: 0.05 }, { ranking: 'local', normalisation: 'l2', floor: 2, roundTo: 1 });
    expect(r.met).toBe(false);
    const reached = modelCost(prunedSpec(spec, r.counts)).macs / full.macs;
    expect(reached).toBeGreaterThan(0.05);
    expect(r.message).toContain('keep 5% of the MACs');
    expect(r.message).toContain(`keeps ${(reached * 100).toFixed(1)}% of the MACs`);
    // It went as far as the floor allows: every group at its floor.
    for (const g of groups) expect(r.counts.get(g.id)).toBe(Math.min(2, g.channels));
  });

  it('a rate target gives the rate, and reports when the floor stops it', () => {
    const { groups, scores } = scoresFor('inner', none);
    const r = resolveTarget(spec, groups, scores, { kind: 'rate', rate: 0.5 }, { ranking: 'local', normalisation: 'l2', floor: 1, roundTo: 1 });
    expect(r.met).toBe(true);
    expect(r.removedFraction).toBeCloseTo(0.5, 6);
    const f = resolveTarget(spec, groups, scores, { kind: 'rate', rate: 0.95 }, { ranking: 'local', normalisation: 'l2', floor: 8, roundTo: 1 });
    expect(f.met).toBe(false);
    expect(f.message).toMatch(/Asked to remove 95\.0% of the channels; with at least 8 channels per group \d+\.\d% were removed/);
  });

  it('keeps groups outside the prunable set whole', () => {
    const { groups, scores } = scoresFor('inner', none);
    const r = resolveTarget(spec, groups, scores, { kind: 'macs', keep: 0.5 }, { ranking: 'global', normalisation: 'l2', floor: 1, roundTo: 1 });
    const ids = new Set(groups.map((g) => g.id));
    for (const g of dependencyGroups(spec)) if (!ids.has(g.id)) expect(r.counts.has(g.id)).toBe(false);
    const ps = prunedSpec(spec, r.counts);
    spec.stages.forEach((st, s) => st.forEach((b, i) => expect(ps.stages[s][i].outC).toBe(b.outC)));
  });
});
