/**
 * AutoBalanced: the coefficients on a hand-worked layer (the two sums cancel), the penalty
 * starts at zero on the real model, shrinks the to-prune filters relative to the kept ones, and
 * the pruned model is what the plan said; no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { NO_AUGMENT } from '../../src/engine/train/augment';
import type { TrainConfigInput } from '../../src/engine/train/config';
import { prunableGroups, producerConvs } from '../../src/engine/prune/groups';
import { balancedCoefficients, pruneAutoBalanced } from '../../src/engine/prune/strategies/auto-balanced';
import { syntheticSplit } from './train-fixtures';
import { H, W, filterSums, tinyModel } from './prune-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

const FT: TrainConfigInput = { p: 4, k: 4, seed: 3, optimizer: { kind: 'adam', lr: 1e-3, weightDecay: 0 }, augment: NO_AUGMENT };
const split = syntheticSplit({ ids: 6, perId: 4, height: H, width: W, seed: 12 });

describe('AutoBalanced coefficients', () => {
  it('hand-worked layer: M = [1, 2, 4, 8], keep the two largest', () => {
    const c = balancedCoefficients([1, 2, 4, 8], [1, 1, 2, 3], [2, 3], 0.5);
    expect(c.theta).toBe(4); // the 2nd largest
    const l = [1 + Math.log(4), 1 + Math.log(2), -1 - Math.log(1), -1 - Math.log(2)];
    l.forEach((v, i) => expect(c.lambda[i]).toBeCloseTo(v, 12));
    expect(c.lambda[0]).toBeCloseTo(2.386294, 6);
    expect(c.lambda[3]).toBeCloseTo(-1.693147, 6);
    const pSum = l[0] * 1 + l[1] * 1; // 4.079442
    const rSum = l[2] * 2 + l[3] * 3; // -7.079442
    expect(c.pruneSum).toBeCloseTo(pSum, 12);
    expect(c.keepSum).toBeCloseTo(rSum, 12);
    expect(c.tau).toBeCloseTo((-0.5 * pSum) / rSum, 12);
    expect(c.tau).toBeCloseTo(0.288119, 6);
    // The two sums cancel: alpha * sum_P + tau * sum_R = 0.
    expect(0.5 * c.pruneSum + c.tau * c.keepSum).toBeCloseTo(0, 12);
    expect(Array.from(c.coef)).toEqual([0.5 * c.lambda[0], 0.5 * c.lambda[1], c.tau * c.lambda[2], c.tau * c.lambda[3]]);
    // To-prune filters are pushed down (positive coefficient), kept ones up (negative).
    expect(c.coef[0]).toBeGreaterThan(c.coef[1]);
    expect(c.coef[1]).toBeGreaterThan(0);
    expect(c.coef[3]).toBeLessThan(c.coef[2]);
    expect(c.coef[2]).toBeLessThan(0);
  });

  it('survives a zero filter (log of zero)', () => {
    const c = balancedCoefficients([0, 3, 5], [0, 1, 1], [1, 2], 1);
    expect(Number.isFinite(c.lambda[0])).toBe(true);
    expect(c.lambda[0]).toBeGreaterThan(20);
    expect(c.pruneSum + c.tau * c.keepSum).toBeCloseTo(0, 12);
  });
});

/** Mean ||W_i||^2 of the to-prune and kept filters of every pruned group. */
async function splitNorms(model: Awaited<ReturnType<typeof tinyModel>>, keep: Map<string, number[]>): Promise<{ p: number; r: number }> {
  const arrays = await model.toArrays();
  let p = 0;
  let np = 0;
  let r = 0;
  let nr = 0;
  for (const g of prunableGroups(model.spec, 'inner')) {
    const kept = new Set(keep.get(g.id)!);
    for (const name of producerConvs(g)) {
      const s = filterSums(arrays.get(name)!, g.channels, 2);
      s.forEach((v, i) => (kept.has(i) ? ((r += v), nr++) : ((p += v), np++)));
    }
  }
  return { p: p / np, r: r / nr };
}

describe('AutoBalanced pruning', () => {
  it('the penalty starts at zero, shrinks the to-prune filters relative to the kept ones, then prunes them', async () => {
    const model = tinyModel(18, 4);
    const base = tf.memory().numTensors;
    const run = (alpha: number) =>
      pruneAutoBalanced(model, { settings: { rate: 0.5 }, alpha, penalty: { split, config: { ...FT, steps: 6, optimizer: { kind: 'adam', lr: 1e-2, weightDecay: 0 } } }, keepPenalisedModel: true, retrain: { split, config: { ...FT, steps: 2 } } });
    const withPenalty = await run(0.5);
    const without = await run(0);

    // Starting weights: sum over groups of coef_i * ||W_i||^2 (norms computed here) is zero.
    const arrays = await model.toArrays();
    for (const g of prunableGroups(model.spec, 'inner')) {
      const c = withPenalty.coefficients.get(g.id)!;
      const sq = filterSums(arrays.get(producerConvs(g)[0])!, g.channels, 2);
      const total = sq.reduce((a, v, i) => a + c.coef[i] * v, 0);
      expect(Math.abs(total)).toBeLessThan(1e-9 * Math.max(1, 0.5 * c.pruneSum));
      expect(c.pruneSum).toBeGreaterThan(0);
    }
    const keep = withPenalty.plans[0].keep;
    expect(without.plans[0].keep).toEqual(keep);
    const a = await splitNorms(withPenalty.penalisedModel!, keep);
    const b = await splitNorms(without.penalisedModel!, keep);
    expect(a.p / a.r).toBeLessThan(0.5 * (b.p / b.r)); // measured 0.23 vs 0.89
    // The pruned model is the plan: half of each inner group, retrained.
    expect(withPenalty.retraining!.steps).toBe(2);
    for (const g of withPenalty.plans[0].groups) expect(g.kept).toBe(g.channels / 2);
    expect(withPenalty.model.spec.stages[1][0].mid[0]).toBe(model.spec.stages[1][0].mid[0] / 2);
    for (const r of [withPenalty, without]) {
      r.model.dispose();
      r.penalisedModel!.dispose();
    }
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });
});
