/**
 * The four scenario pipelines on tiny ResNets and SynthReID XS (64x32): every step runs in the
 * documented order, the budgets are equal across scenarios (training images seen exactly, MACs
 * within 2% of the small baseline's), the trainer never sees an evaluation identity (spied at
 * the training loop itself), bad pairings are refused, cancellation releases everything.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';

// Spy on every training run, whichever strategy starts it: record the identities it trains on.
const seen = vi.hoisted(() => ({ runs: [] as { pids: number[]; steps: number; p: number; k: number }[] }));
vi.mock('../../src/engine/train/trainer', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/engine/train/trainer')>();
  return {
    ...orig,
    train: async (...args: Parameters<typeof orig.train>) => {
      const [, split, config] = args;
      const r = await orig.train(...args);
      const c = config as { p: number; k: number };
      seen.runs.push({ pids: [...new Set(split.pids)], steps: r.steps, p: c.p, k: c.k });
      return r;
    },
  };
});

import { initBackend } from '../../src/engine/backend/init';
import { buildSpec, type Depth } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { modelCost } from '../../src/engine/cost/macs';
import { generateSynthReid } from '../../src/engine/data/synth';
import { isLabError } from '../../src/engine/errors';
import { runScenario } from '../../src/engine/scenarios/run';
import { equalCostKeep, softEpochs, splitSteps, type FineTuneBudget } from '../../src/engine/scenarios/budget';
import { evaluationSubset, selectFineTuneSubset } from '../../src/engine/scenarios/subset';
import type { ScenarioConfig, ScenarioData, ScenarioResult } from '../../src/engine/scenarios/types';

const H = 64;
const W = 32;
let data: ScenarioData;

const model = (depth: Depth, seed = 1) => ReidModel.init(buildSpec({ depth, widthMultiplier: 0.125, inputHeight: H, inputWidth: W }), seed);

beforeAll(async () => {
  await initBackend('wasm');
  const source = generateSynthReid({ tier: 'XS', domain: 'source', height: H, width: W }).dataset;
  const target = generateSynthReid({ tier: 'XS', domain: 'target', height: H, width: W }).dataset;
  data = {
    fineTune: selectFineTuneSubset(target, { identities: 6, imagesPerIdentity: 4, seed: 1 }),
    evaluation: evaluationSubset(target, 8, 1),
    sourceTrain: source.train,
  };
});

const budget: FineTuneBudget = { steps: 4, p: 3, k: 2, lr: 1e-3, augment: false };

describe('scenario pipelines', () => {
  it('all four scenarios run at the same MACs and the same images seen; evaluation identities never reach training', async () => {
    const big = model(50);
    const small = model(18);
    const keep = equalCostKeep(big.spec, small.spec);
    const smallMacs = modelCost(small.spec).macs;
    const base = tf.memory().numTensors;
    const evalPids = new Set([...data.evaluation.query.pids, ...data.evaluation.gallery.pids].filter((p) => p > 0));
    const configs: [ReidModel, ScenarioConfig][] = [
      [big, { scenario: 'prune-at-source', method: 'taylor', macsKeep: keep, budget, seed: 1, criterionBatches: 2, criterionBatchSize: 8 }],
      [big, { scenario: 'finetune-prune-finetune', method: 'l1', macsKeep: keep, budget, seed: 1 }],
      [big, { scenario: 'prune-while-finetuning', method: 'psfp', macsKeep: keep, budget, seed: 1 }],
      [small, { scenario: 'finetune-only', budget, seed: 1 }],
    ];
    const results: ScenarioResult[] = [];
    for (const [m, cfg] of configs) {
      seen.runs.length = 0;
      const phases = new Set<string>();
      const { result } = await runScenario(m, data, cfg, { onProgress: (p) => phases.add(p.phase) });
      results.push(result);
      // The images counted equal those the training loop actually ran.
      const ran = seen.runs.reduce((a, r) => a + r.steps * r.p * r.k, 0);
      expect(result.imagesSeen).toBe(ran);
      for (const r of seen.runs) for (const p of r.pids) expect(evalPids.has(p)).toBe(false);
      // Training saw exactly the fine-tuning subset's identities (target train split).
      const subsetIds = [...new Set(data.fineTune.pids)].sort((a, b) => a - b);
      expect(result.trainingIdentities).toEqual(subsetIds);
      for (const r of seen.runs) expect(r.pids.every((p) => subsetIds.includes(p))).toBe(true);
      expect(phases.has('evaluate')).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(base);
    // Same fine-tuning budget: images seen are equal, and equal the budget.
    for (const r of results) expect(r.imagesSeen).toBe(budget.steps * budget.p * budget.k);
    // Same cost: every model ends within 2% of the small baseline's MACs.
    for (const r of results) expect(Math.abs(r.after.macs / smallMacs - 1)).toBeLessThanOrEqual(0.02);
    // The steps performed, in order, with their domains.
    const kinds = results.map((r) => r.steps.map((s) => `${s.kind}@${s.domain}`));
    expect(kinds[0]).toEqual(['evaluate@target', 'prune@source', 'fine-tune@target', 'evaluate@target']);
    expect(kinds[1]).toEqual(['evaluate@target', 'fine-tune@target', 'prune@target', 'fine-tune@target', 'evaluate@target']);
    expect(kinds[2]).toEqual(['evaluate@target', 'soft-prune-train@target', 'evaluate@target']);
    expect(kinds[3]).toEqual(['evaluate@target', 'fine-tune@target', 'evaluate@target']);
    // Before = the input model; scenario 4 does not change the cost.
    expect(results[0].before.macs).toBe(modelCost(big.spec).macs);
    expect(results[3].after.macs).toBe(results[3].before.macs);
    for (const r of results) for (const v of [r.after.mAP, r.after.rank1, r.after.rank5]) expect(v).toBeGreaterThanOrEqual(0);
    for (const r of results) expect(r.after.rank5).toBeGreaterThanOrEqual(r.after.rank1);
    big.dispose();
    small.dispose();
  });

  it('AutoBalanced as scenario 2 splits the same budget between penalty training and retraining', async () => {
    const big = model(50, 2);
    const keep = 0.6;
    seen.runs.length = 0;
    const { result, model: out } = await runScenario(big, data, { scenario: 'finetune-prune-finetune', method: 'auto-balanced', macsKeep: keep, budget: { ...budget, steps: 5 }, seed: 2 }, { keepModel: true });
    const { pre, post } = splitSteps({ ...budget, steps: 5 });
    expect(result.steps.map((s) => [s.kind, s.trainSteps])).toEqual([['evaluate', 0], ['penalty-train', pre], ['prune', 0], ['fine-tune', post], ['evaluate', 0]]);
    expect(result.imagesSeen).toBe(5 * budget.p * budget.k);
    expect(seen.runs.map((r) => r.steps)).toEqual([pre, post]);
    expect(Math.abs(modelCost(out!.spec).macs / modelCost(big.spec).macs - keep)).toBeLessThanOrEqual(0.01);
    out!.dispose();
    big.dispose();
  });

  it('the same seed gives the same result', async () => {
    const m = model(18, 3);
    const cfg: ScenarioConfig = { scenario: 'finetune-only', budget: { ...budget, steps: 2 }, seed: 5 };
    const a = (await runScenario(m, data, cfg)).result;
    const b = (await runScenario(m, data, cfg, { before: a.before })).result;
    expect(b.after).toEqual(a.after);
    // A given "before" is used as is: one evaluation fewer.
    expect(b.steps.filter((s) => s.kind === 'evaluate')).toHaveLength(1);
    m.dispose();
  });

  it('refuses a leaking fine-tuning split, wrong pairings and missing source data, before any work', async () => {
    const m = model(18);
    const base = tf.memory().numTensors;
    const leak: ScenarioData = { ...data, fineTune: data.evaluation.gallery };
    const fails = async (d: ScenarioData, cfg: ScenarioConfig, code: string) => {
      seen.runs.length = 0;
      let err: unknown;
      try {
        await runScenario(m, d, cfg);
      } catch (e) {
        err = e;
      }
      expect(isLabError(err) && err.code).toBe(code);
      expect(seen.runs).toHaveLength(0);
    };
    await fails(leak, { scenario: 'finetune-only', budget, seed: 1 }, 'identity-leak');
    await fails(data, { scenario: 'prune-while-finetuning', method: 'l1', macsKeep: 0.5, budget, seed: 1 }, 'bad-argument');
    await fails(data, { scenario: 'finetune-prune-finetune', method: 'psfp', macsKeep: 0.5, budget, seed: 1 }, 'bad-argument');
    await fails(data, { scenario: 'prune-at-source', method: 'auto-balanced', macsKeep: 0.5, budget, seed: 1 }, 'bad-argument');
    await fails({ ...data, sourceTrain: undefined }, { scenario: 'prune-at-source', method: 'l1', macsKeep: 0.5, budget, seed: 1 }, 'bad-argument');
    await fails(data, { scenario: 'prune-at-source', method: 'l1', budget, seed: 1 }, 'bad-argument');
    expect(tf.memory().numTensors).toBe(base);
    m.dispose();
  });

  it('cancellation stops the run and releases what it created', async () => {
    const m = model(18);
    const base = tf.memory().numTensors;
    const signal = { aborted: false };
    let err: unknown;
    try {
      await runScenario(m, data, { scenario: 'finetune-prune-finetune', method: 'l1', macsKeep: 0.7, budget: { ...budget, steps: 6 }, seed: 1 }, {
        signal,
        onProgress: (p) => {
          if (p.phase === 'fine-tune' && p.fraction > 0) signal.aborted = true;
        },
      });
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'cancelled')).toBe(true);
    expect(tf.memory().numTensors).toBe(base);
    m.dispose();
  });
});

describe('budgets and data selection', () => {
  it('the equal-cost target is the ratio of the two specs MACs', () => {
    const a = buildSpec({ depth: 50, widthMultiplier: 0.5 });
    const b = buildSpec({ depth: 18, widthMultiplier: 0.5 });
    expect(equalCostKeep(a, b)).toBeCloseTo(modelCost(b).macs / modelCost(a).macs, 12);
    expect(() => equalCostKeep(b, a)).toThrow(/must cost more/);
  });

  it('soft epochs divide the budget; the scenario 2 split sums to the budget', () => {
    for (const steps of [1, 4, 7, 12, 100]) {
      const e = softEpochs(steps);
      expect(steps % e).toBe(0);
      expect(e).toBeLessThanOrEqual(5);
      const s = splitSteps({ steps, p: 2, k: 2, lr: 1 });
      expect(s.pre + s.post).toBe(steps);
      expect(s.post).toBeGreaterThanOrEqual(1);
    }
  });

  it('the fine-tuning subset is N identities x K images of the train split, seeded; the evaluation subset keeps whole identities', () => {
    const target = generateSynthReid({ tier: 'XS', domain: 'target', height: H, width: W }).dataset;
    const s = selectFineTuneSubset(target, { identities: 5, imagesPerIdentity: 3, seed: 7 });
    const ids = [...new Set(s.pids)];
    expect(ids).toHaveLength(5);
    const trainIds = new Set(target.train.pids);
    for (const p of ids) {
      expect(trainIds.has(p)).toBe(true);
      expect(s.pids.filter((q) => q === p).length).toBeLessThanOrEqual(3);
    }
    expect(selectFineTuneSubset(target, { identities: 5, imagesPerIdentity: 3, seed: 7 }).pids).toEqual(s.pids);
    expect(() => selectFineTuneSubset(target, { identities: 500, imagesPerIdentity: 3, seed: 7 })).toThrow(/asks for 500/);
    const e = evaluationSubset(target, 4, 3);
    const qIds = new Set([...e.query.pids].filter((p) => p > 0));
    expect(qIds.size).toBe(4);
    // Every image of a kept identity is kept, in query and gallery.
    for (const p of qIds) {
      expect(e.gallery.pids.filter((q) => q === p).length).toBe(target.gallery.pids.filter((q) => q === p).length);
      expect(e.query.pids.filter((q) => q === p).length).toBe(target.query.pids.filter((q) => q === p).length);
    }
    for (const p of e.gallery.pids) if (p > 0) expect(qIds.has(p)).toBe(true);
  });
});
