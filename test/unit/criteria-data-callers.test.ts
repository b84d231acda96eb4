/**
 * Which criteria get images: a criterion that requires data gets it, and so does one that only
 * uses it when given (COP: activation correlations, the COP paper's choice; filter similarity
 * otherwise). Before this rule every caller decided from `needs` alone, so COP never saw data
 * anywhere in the lab. Checked at the rule itself and end to end through scenario 2, spying on
 * the activation collector COP calls.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ pooled: 0 }));
vi.mock('../../src/engine/prune/criteria/activations', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/engine/prune/criteria/activations')>();
  return {
    ...orig,
    collectPooledActivations: async (...args: Parameters<typeof orig.collectPooledActivations>) => {
      calls.pooled++;
      return orig.collectPooledActivations(...args);
    },
  };
});

import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { generateSynthReid } from '../../src/engine/data/synth';
import { CRITERIA } from '../../src/engine/prune/criteria';
import { requiresData, wantsData } from '../../src/engine/prune/criterion';
import { runScenario } from '../../src/engine/scenarios/run';
import { evaluationSubset, selectFineTuneSubset } from '../../src/engine/scenarios/subset';
import type { ScenarioData } from '../../src/engine/scenarios/types';

const H = 64;
const W = 32;
let data: ScenarioData;

beforeAll(async () => {
  await initBackend('wasm');
  const target = generateSynthReid({ tier: 'XS', domain: 'target', height: H, width: W }).dataset;
  data = { fineTune: selectFineTuneSubset(target, { identities: 6, imagesPerIdentity: 4, seed: 1 }), evaluation: evaluationSubset(target, 8, 1) };
});

describe('criterion data', () => {
  it('required for data-driven criteria, wanted also by COP and by reconstruction, not by weight-only ones', () => {
    const wanted = Object.values(CRITERIA).filter(wantsData).map((c) => c.id).sort();
    expect(wanted).toEqual(['channel-pruning', 'cop', 'entropy', 'taylor', 'thinet']);
    const required = Object.values(CRITERIA).filter(requiresData).map((c) => c.id).sort();
    expect(required).toEqual(['channel-pruning', 'entropy', 'taylor', 'thinet']);
  });

  it('scenario 2 with COP scores on the target fine-tuning images (activations), not on filters', async () => {
    const model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W }), 1);
    calls.pooled = 0;
    try {
      const { result } = await runScenario(model, data, {
        scenario: 'finetune-prune-finetune',
        method: 'cop',
        macsKeep: 0.6,
        budget: { steps: 2, p: 3, k: 2, lr: 1e-3, augment: false },
        criterionBatches: 1,
        criterionBatchSize: 8,
        seed: 1,
      });
      expect(result.after.macs).toBeLessThan(result.before.macs);
    } finally {
      model.dispose();
    }
    expect(calls.pooled).toBeGreaterThan(0);
  });
});
