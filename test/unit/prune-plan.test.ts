/**
 * Settings validation and prune plans on a real (tiny) model: predicted cost equals the pruned
 * model's actual parameter count, protected groups are untouched, plans refuse other models.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { isLabError } from '../../src/engine/errors';
import { listParams, isClassifierParam } from '../../src/engine/model/names';
import { resolvePruneSettings } from '../../src/engine/prune/settings';
import { applyPlan, planPrune } from '../../src/engine/prune/plan';
import { prunableGroups, protectedGroupIds } from '../../src/engine/prune/groups';
import { modelCost } from '../../src/engine/cost/macs';
import { normCriterion, tinyModel } from './prune-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

function labErrorMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(isLabError(e, 'bad-argument')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected a LabError');
}

describe('prune settings', () => {
  it('fills in defaults', () => {
    const s = resolvePruneSettings({ criterion: 'l1', rate: 0.3 });
    expect(s).toEqual({
      criterion: 'l1',
      target: { kind: 'rate', rate: 0.3 },
      scope: 'inner',
      ranking: 'local',
      normalisation: 'l2',
      floor: 1,
      roundTo: 1,
      protection: { stem: false, lastStage: false },
      seed: 1,
    });
    expect(resolvePruneSettings({ criterion: 'l2', macsTarget: 0.5 }).target).toEqual({ kind: 'macs', keep: 0.5 });
    expect(resolvePruneSettings({ criterion: 'l2', paramsTarget: 1 }).target).toEqual({ kind: 'params', keep: 1 });
  });

  it('rejects bad values with a sentence naming the setting and what was given', () => {
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 1.5 }))).toBe(
      'The pruning rate is the fraction of channels to remove, from 0 up to (not including) 1; found 1.5.',
    );
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: -0.1 }))).toMatch(/pruning rate .* found -0\.1\./);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 1 }))).toMatch(/found 1\./);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: NaN }))).toMatch(/found NaN/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', macsTarget: 0 }))).toMatch(/MACs target .* found 0\./);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', paramsTarget: 1.2 }))).toMatch(/parameters target .* found 1\.2\./);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1' }))).toMatch(/needs a target/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, macsTarget: 0.5 }))).toMatch(/one pruning target.*rate and macsTarget/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'nope' as 'l1', rate: 0.2 }))).toMatch(/criterion must be one of .* found "nope"/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, floor: 0 }))).toMatch(/floor .* found 0\./);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, roundTo: 3 }))).toMatch(/multiples of 1, 4 or 8; found 3\./);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, scope: 'all' as 'inner' }))).toMatch(/scope .* found "all"/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, ranking: 'x' as 'local' }))).toMatch(/ranking .* found "x"/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, normalisation: 'l3' as 'l2' }))).toMatch(/normalisation .* found "l3"/);
    expect(labErrorMessage(() => resolvePruneSettings({ criterion: 'l1', rate: 0.2, seed: 1.5 }))).toMatch(/seed .* found 1\.5/);
  });
});

describe('prune plans', () => {
  it('predicts the pruned model exactly, and applyPlan leaves the input model alone', async () => {
    const model = tinyModel(50, 3);
    const before = await model.toArrays();
    const start = tf.memory().numTensors;
    const settings = { criterion: 'l1', macsTarget: 0.6, scope: 'inner+trunk', ranking: 'global', normalisation: 'l2', protection: { stem: true, lastStage: false } } as const;
    const plan = await planPrune(model, normCriterion(1), settings);
    expect(plan.targetMet).toBe(true);
    expect(Math.abs(plan.after.macs / plan.before.macs - 0.6)).toBeLessThanOrEqual(0.006);
    expect(plan.normalisation).toBe('l2 per layer');
    const prot = protectedGroupIds(model.spec, settings.protection);
    for (const id of prot) expect(plan.keep.has(id)).toBe(false);
    const pruned = await applyPlan(model, plan);
    // Count parameters from the pruned model's actual tensors (not the cost model).
    let params = 0;
    for (const info of listParams(pruned.spec)) if (info.trainable && !isClassifierParam(info.name)) params += pruned.params.get(info.name)!.size;
    expect(params).toBe(plan.after.params);
    expect(modelCost(pruned.spec).macs).toBe(plan.after.macs);
    expect(pruned.spec.stemC).toBe(model.spec.stemC);
    const after = await model.toArrays();
    for (const [n, v] of before) expect(after.get(n)).toEqual(v);
    pruned.dispose();
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });

  it('keeps the highest-scoring channels of each group', async () => {
    const model = tinyModel(18, 4);
    const crit = normCriterion(1);
    const plan = await planPrune(model, crit, { criterion: 'l1', rate: 0.5 });
    const all = await crit.score({ model, groups: prunableGroups(model.spec, 'inner'), seed: 1 });
    expect(plan.keep.size).toBe(all.size);
    for (const [id, kept] of plan.keep) {
      const s = all.get(id)!;
      const minKept = Math.min(...kept.map((i) => s[i]));
      for (let i = 0; i < s.length; i++) if (!kept.includes(i)) expect(s[i]).toBeLessThanOrEqual(minKept);
      expect(kept.length).toBe(s.length - Math.round(0.5 * s.length));
    }
    model.dispose();
  });

  it('refuses a plan made for another model, and a criterion that does not match the settings', async () => {
    const a = tinyModel(18, 1);
    const b = tinyModel(34, 1);
    const plan = await planPrune(a, normCriterion(1), { criterion: 'l1', rate: 0.3 });
    await expect(applyPlan(b, plan)).rejects.toThrow(/different architecture or channel counts/);
    await expect(planPrune(a, normCriterion(1), { criterion: 'l2', rate: 0.3 })).rejects.toThrow(/settings name the criterion "l2", but the criterion given is "l1"/);
    a.dispose();
    b.dispose();
  });
});
