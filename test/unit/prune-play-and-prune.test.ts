/**
 * Play and Prune: held-out identities come from the training split (disjoint from what is
 * trained on), the controller keeps accuracy within tolerance (undoing rounds that exceed it,
 * then pruning less with a stronger penalty), and with real held-out evaluation it reaches its
 * target; evaluation identities are refused; no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { isLabError } from '../../src/engine/errors';
import { NO_AUGMENT } from '../../src/engine/train/augment';
import type { TrainConfigInput } from '../../src/engine/train/config';
import { prunableGroups } from '../../src/engine/prune/groups';
import { holdOutIdentities, playAndPrune } from '../../src/engine/prune/strategies/play-and-prune';
import type { ReidModel } from '../../src/engine/model/model';
import { syntheticSplit } from './train-fixtures';
import { H, W, tinyModel } from './prune-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

const FT: TrainConfigInput = { p: 3, k: 4, seed: 3, optimizer: { kind: 'adam', lr: 1e-3 }, augment: NO_AUGMENT };
const split = syntheticSplit({ ids: 8, perId: 4, height: H, width: W, seed: 13 });

describe('held-out identities', () => {
  it('sets aside whole identities: one query each, the rest gallery, none left in the training part', () => {
    const h = holdOutIdentities(split, 0.25, 7);
    expect(h.ids).toHaveLength(2);
    const fitIds = new Set(h.fit.pids);
    for (const id of h.ids) expect(fitIds.has(id)).toBe(false);
    expect(h.fit.count + h.query.count + h.gallery.count).toBe(split.count);
    expect(h.query.count).toBe(2);
    expect([...new Set(h.query.pids)].sort()).toEqual(h.ids);
    expect([...new Set(h.gallery.pids)].sort()).toEqual(h.ids);
    // Same seed, same choice; the images are the original ones.
    expect(holdOutIdentities(split, 0.25, 7).ids).toEqual(h.ids);
    expect(() => holdOutIdentities(syntheticSplit({ ids: 3, perId: 2, height: H, width: W, seed: 1 }), 0.5, 1)).toThrow(/sets aside 2 training identities/);
  });
});

describe('play and prune', () => {
  it('controller: rounds that drop accuracy beyond tolerance are undone, then retried smaller with a stronger penalty', async () => {
    const model = tinyModel(18, 3);
    const total = prunableGroups(model.spec, 'inner').reduce((a, g) => a + g.channels, 0);
    // Accuracy = share of the inner channels left: a round may remove at most `tolerance` in all.
    const evaluate = async (m: ReidModel) => prunableGroups(m.spec, 'inner').reduce((a, g) => a + g.channels, 0) / total;
    const base = tf.memory().numTensors;
    const r = await playAndPrune(model, { settings: { rate: 0.7 }, train: { split, config: FT }, tolerance: 0.35, delta: 0.2, lambda: 0.01, maxRounds: 6, penaltySteps: 1, evaluate });
    expect(r.baseline).toBe(1);
    const removed = 1 - (await evaluate(r.model));
    expect(removed).toBeLessThanOrEqual(0.35);
    expect(r.final).toBeCloseTo(1 - removed, 12);
    expect(r.rounds.some((x) => !x.accepted)).toBe(true);
    expect(r.plans).toHaveLength(r.rounds.filter((x) => x.accepted).length);
    for (let i = 1; i < r.rounds.length; i++) {
      const [a, b] = [r.rounds[i - 1], r.rounds[i]];
      if (a.accepted) expect(b.delta).toBeCloseTo(Math.min(0.5, a.delta * 1.5), 12);
      else {
        expect(b.delta).toBeCloseTo(a.delta / 2, 12);
        expect(b.lambda).toBeCloseTo(a.lambda * 2, 12);
      }
      // Every accepted round is within tolerance of the start; a rejected one is beyond it.
      expect(b.accepted).toBe(1 - b.accuracy <= 0.35);
    }
    expect(r.targetMet).toBe(false);
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('with real held-out evaluation and a loose tolerance it reaches the target rate', async () => {
    const model = tinyModel(18, 4);
    const base = tf.memory().numTensors;
    const r = await playAndPrune(model, { settings: { rate: 0.3 }, train: { split, config: FT }, tolerance: 1, delta: 0.2, maxRounds: 4, penaltySteps: 2 });
    expect(r.targetMet).toBe(true);
    expect(r.rounds.map((x) => x.accepted)).toEqual([true, true]);
    expect(r.baseline).toBeGreaterThan(0);
    expect(r.baseline).toBeLessThanOrEqual(1);
    const groups = prunableGroups(model.spec, 'inner');
    const totalCh = groups.reduce((a, g) => a + g.channels, 0);
    const left = prunableGroups(r.model.spec, 'inner').reduce((a, g) => a + g.channels, 0);
    expect(Math.abs(1 - left / totalCh - 0.3)).toBeLessThan(0.02);
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('refuses a training split that shares identities with the evaluation set', async () => {
    const model = tinyModel(18, 4);
    let err: unknown;
    try {
      await playAndPrune(model, { settings: { rate: 0.3 }, train: { split }, tolerance: 0.1, evaluation: { query: { pids: Int32Array.from([2]) }, gallery: { pids: Int32Array.from([2]) } } });
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'identity-leak')).toBe(true);
    model.dispose();
  });
});
