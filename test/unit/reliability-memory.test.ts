/**
 * Memory over a session's typical loop, on Node wasm: 50 cycles of prune (l1, 50%, once) ->
 * evaluate (a SynthReID-XS subset) -> fine-tune 2 steps -> reset (dispose the pruned model).
 * After every cycle tf.memory().numTensors and numBytes must be back at the baseline taken
 * after one warm-up cycle (the first use of a kernel may cache backend state). The base model is
 * checked bit for bit at the end: pruning works on copies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { generateSynthReid } from '../../src/engine/data/synth';
import { evaluationSubset } from '../../src/engine/scenarios/subset';
import { getCriterion } from '../../src/engine/prune/criteria/index';
import { pruneOnce } from '../../src/engine/prune/strategies/once';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import { fineTune } from '../../src/engine/train/finetune';
import { NO_AUGMENT } from '../../src/engine/train/augment';
import { sameArrays } from './fuzz/fixtures';

const CYCLES = 50;

beforeAll(async () => {
  await initBackend('wasm');
});

describe('memory: prune -> evaluate -> fine-tune -> reset', () => {
  it(`${CYCLES} cycles leave numTensors and numBytes at their baseline after every cycle`, async () => {
    const { dataset } = generateSynthReid({ tier: 'XS', domain: 'target', height: 64, width: 32, seed: 3 });
    const evalSet = evaluationSubset(dataset, 4, 1);
    const model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), 5);
    const original = await model.toArrays();
    const criterion = getCriterion('l1');

    const cycle = async (i: number) => {
      const r = await pruneOnce(model, { criterion, settings: { criterion: 'l1', rate: 0.5, seed: i } });
      try {
        const ev = await evaluateModel(r.model, evalSet, { batchSize: 32 });
        expect(ev.numValidQueries).toBeGreaterThan(0);
        const ft = await fineTune(r.model, dataset.train, { steps: 2, p: 4, k: 2, seed: i, augment: NO_AUGMENT, optimizer: { lr: 1e-3 } });
        expect(ft.steps).toBe(2);
      } finally {
        r.model.dispose();
      }
    };

    await cycle(0);
    const base = tf.memory();
    const trace: { tensors: number; bytes: number }[] = [];
    for (let i = 1; i <= CYCLES; i++) {
      await cycle(i);
      const m = tf.memory();
      trace.push({ tensors: m.numTensors, bytes: m.numBytes });
    }
    expect(trace.filter((m) => m.tensors !== base.numTensors || m.bytes !== base.numBytes)).toEqual([]);
    expect(trace).toHaveLength(CYCLES);
    expect(sameArrays(await model.toArrays(), original)).toBe(true);
    model.dispose();
    console.info(`[memory] ${CYCLES} cycles; baseline ${base.numTensors} tensors, ${base.numBytes} bytes after every cycle`);
  });
});
