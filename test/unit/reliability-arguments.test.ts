/**
 * Numeric input validation at the engine's public entry points: pruning settings and
 * strategies, fine-tuning configuration (steps, learning rate, optimiser, schedule, losses) and
 * evaluation/training splits. Each bad value must be refused with LabError('bad-argument' or
 * 'bad-dataset') and a sentence naming the setting, before anything is created or changed
 * (tf.memory().numTensors unchanged, the model's weights unchanged).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { resolvePruneSettings } from '../../src/engine/prune/settings';
import { pruneOnce } from '../../src/engine/prune/strategies/once';
import { pruneIterative } from '../../src/engine/prune/strategies/iterative';
import { getCriterion } from '../../src/engine/prune/criteria/index';
import { fineTune } from '../../src/engine/train/finetune';
import type { TrainConfigInput } from '../../src/engine/train/config';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import type { ReidSplit } from '../../src/engine/data/types';
import { isLabError, type LabErrorCode } from '../../src/engine/errors';
import { readableMessage } from './fuzz/harness';
import { sameArrays } from './fuzz/fixtures';
import { syntheticSplit } from './train-fixtures';

const H = 64;
const W = 32;
let model: ReidModel;
const split = syntheticSplit({ ids: 4, perId: 4, height: H, width: W, seed: 2, firstPid: 1 });
const evalSet = { query: syntheticSplit({ ids: 2, perId: 2, height: H, width: W, seed: 3, firstPid: 50 }), gallery: syntheticSplit({ ids: 2, perId: 3, height: H, width: W, seed: 4, firstPid: 50 }) };

beforeAll(async () => {
  await initBackend('wasm');
  model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.0625, inputHeight: H, inputWidth: W }), 1);
});

/** Expect a LabError of `code` whose message matches `pattern`, with no tensors or weights changed. */
async function refused(run: () => unknown, code: LabErrorCode, pattern: RegExp): Promise<void> {
  const tensors = tf.memory().numTensors;
  const before = await model.toArrays();
  let err: unknown;
  try {
    await run();
  } catch (e) {
    err = e;
  }
  expect(isLabError(err, code), `expected LabError ${code}, got ${String(err)}`).toBe(true);
  const message = (err as Error).message;
  expect(readableMessage(message), message).toBe(true);
  expect(message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(sameArrays(await model.toArrays(), before)).toBe(true);
}

describe('pruning rates and targets', () => {
  for (const rate of [-0.1, 1, 1.5, NaN, Infinity, -Infinity]) {
    it(`rate ${rate} is refused`, async () => {
      await refused(() => resolvePruneSettings({ criterion: 'l1', rate }), 'bad-argument', /pruning rate .* from 0 up to \(not including\) 1; found/);
      await refused(() => pruneOnce(model, { criterion: getCriterion('l1'), settings: { criterion: 'l1', rate } }), 'bad-argument', /pruning rate/);
    });
  }
  it('a rate given as a string is refused', async () => {
    await refused(() => resolvePruneSettings({ criterion: 'l1', rate: '0.5' as unknown as number }), 'bad-argument', /found 0\.5/);
  });
  for (const keep of [0, -0.5, 1.01, NaN]) {
    it(`a MACs target of ${keep} is refused`, async () => {
      await refused(() => resolvePruneSettings({ criterion: 'l1', macsTarget: keep }), 'bad-argument', /MACs target .* above 0 and at most 1/);
    });
  }
  it('floor, roundTo and seed must be whole numbers in range', async () => {
    await refused(() => resolvePruneSettings({ criterion: 'l1', rate: 0.5, floor: 0 }), 'bad-argument', /floor/);
    await refused(() => resolvePruneSettings({ criterion: 'l1', rate: 0.5, roundTo: 3 }), 'bad-argument', /multiples of 1, 4 or 8/);
    await refused(() => resolvePruneSettings({ criterion: 'l1', rate: 0.5, seed: NaN }), 'bad-argument', /seed must be a whole number/);
  });
});

describe('iterative pruning', () => {
  const base = { criterion: getCriterion('l1'), settings: { criterion: 'l1' as const, rate: 0.5 } };
  for (const rounds of [0, -1, 1.5, NaN]) {
    it(`${rounds} rounds are refused`, async () => {
      await refused(() => pruneIterative(model, { ...base, rounds, fineTune: { split } }), 'bad-argument', /number of iterative pruning rounds must be a whole number of at least 1/);
    });
  }
  it('images per round and after the last round must be whole numbers (0 allowed after the last)', async () => {
    const config = { p: 2, k: 2 };
    await refused(() => pruneIterative(model, { ...base, rounds: 2, fineTune: { split, config, imagesPerRound: 0 } }), 'bad-argument', /Images per fine-tuning round/);
    await refused(() => pruneIterative(model, { ...base, rounds: 2, fineTune: { split, config, imagesAfterLast: -5 } }), 'bad-argument', /Images after the last round/);
    await refused(() => pruneIterative(model, { ...base, rounds: 2, fineTune: { split, config, imagesAfterLast: NaN } }), 'bad-argument', /Images after the last round/);
  });
});

describe('fine-tuning configuration', () => {
  const ft = (config: TrainConfigInput) => () => fineTune(model, split, { p: 2, k: 2, ...config });
  for (const steps of [0, -3, 2.5, NaN]) {
    it(`${steps} steps are refused`, async () => {
      await refused(ft({ steps }), 'bad-argument', /steps/);
    });
  }
  for (const lr of [NaN, 0, -1e-4, Infinity]) {
    it(`learning rate ${lr} is refused`, async () => {
      await refused(ft({ steps: 1, optimizer: { lr } }), 'bad-argument', /learning rate must be a positive (finite )?number/);
    });
  }
  it('optimiser, schedule and loss settings outside their ranges are refused', async () => {
    await refused(ft({ steps: 1, optimizer: { weightDecay: Infinity } }), 'bad-argument', /Weight decay/);
    await refused(ft({ steps: 1, optimizer: { kind: 'adam', beta1: 1 } }), 'bad-argument', /beta1/);
    await refused(ft({ steps: 1, optimizer: { kind: 'adam', beta2: NaN } }), 'bad-argument', /beta2/);
    await refused(ft({ steps: 1, optimizer: { kind: 'adam', eps: 0 } }), 'bad-argument', /epsilon/);
    await refused(ft({ steps: 1, optimizer: { kind: 'sgd', momentum: -0.5 } }), 'bad-argument', /momentum/);
    await refused(ft({ steps: 1, schedule: { warmupSteps: NaN } }), 'bad-argument', /warm-up steps/);
    await refused(ft({ steps: 1, schedule: { warmupSteps: -2 } }), 'bad-argument', /warm-up steps/);
    await refused(ft({ steps: 1, schedule: { minFactor: 2 } }), 'bad-argument', /floor/);
    await refused(ft({ steps: 1, schedule: { decay: 'linear' as 'cosine' } }), 'bad-argument', /decay/);
    await refused(ft({ steps: 1, loss: { triplet: Infinity } }), 'bad-argument', /loss weight/);
    await refused(ft({ steps: 1, loss: { margin: NaN } }), 'bad-argument', /margin/);
    await refused(ft({ steps: 1, p: 1 }), 'bad-argument', /P \(identities per batch\)/);
  });
});

describe('empty or inconsistent splits', () => {
  const empty: ReidSplit = { images: new Uint8Array(0), count: 0, height: H, width: W, pids: new Int32Array(0), camids: new Int32Array(0) };
  it('evaluation refuses an empty query or gallery set', async () => {
    await refused(() => evaluateModel(model, { query: empty, gallery: evalSet.gallery }), 'bad-dataset', /query set is empty/);
    await refused(() => evaluateModel(model, { query: evalSet.query, gallery: empty }), 'bad-dataset', /gallery set is empty/);
  });
  it('fine-tuning refuses an empty training split', async () => {
    await refused(() => fineTune(model, empty, { steps: 1, p: 2, k: 2 }), 'bad-dataset', /needs at least P=2 identities; the training set has 0/);
  });
  it('a split whose image bytes do not match its count and size is refused, not a RangeError', async () => {
    const short: ReidSplit = { ...evalSet.query, images: evalSet.query.images.subarray(0, 100) };
    await refused(() => evaluateModel(model, { query: short, gallery: evalSet.gallery }), 'bad-dataset', /query set .* holds 100 bytes of image data; 4 images of 64 x 32 RGB need 24576/);
    const shortTrain: ReidSplit = { ...split, images: split.images.subarray(0, split.images.length - 1) };
    await refused(() => fineTune(model, shortTrain, { steps: 1, p: 2, k: 2 }), 'bad-dataset', /training set .* holds \d+ bytes of image data/);
  });
});
