/**
 * A fine-tune that fails leaves the page's model exactly as it was (issue 20, item 3, page side):
 * the session trains a copy and drops it on any failure other than a cancel. The failure here
 * is real: a model whose last BatchNorm scales the features by 3e38 (near float32's largest) overflows the triplet loss to a
 * non-finite value at the first step (what a diverging learning rate does a few steps later).
 * Before, the session kept the "finished" steps and the model became NaN.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { initParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { isLabError } from '../../src/engine/errors';
import { Job } from '../../src/workers/jobs';
import { H, W, tinySession } from './session-fixtures';

const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });

beforeAll(async () => {
  await initBackend('wasm');
});

describe('a failing fine-tune in the lab session', () => {
  it('stops with training-diverged, says the model was left as it was, and leaves the pruned model and its state untouched', async () => {
    const arrays = initParamArrays(spec, 1);
    arrays.get('layer4.1.bn2.weight')!.fill(3e38);
    const s = tinySession(ReidModel.fromArrays(spec, arrays));
    await s.prune({ criterion: 'l1', target: { kind: 'rate', rate: 0.5 }, scope: 'inner', ranking: 'local', strategy: 'once', seed: 1 }, new Job('p', 'Pruning'));
    const before = s.modelState!;
    const weights = await s.requireModel().toArrays();
    const tensors = tf.memory().numTensors;
    let err: unknown;
    try {
      await s.fineTune({ steps: 5, lr: 1e-4, seed: 1 }, new Job('f', 'Fine-tuning'));
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'training-diverged')).toBe(true);
    expect((err as Error).message).toMatch(/(Fine-tuning|Training) diverged .*NaN or infinite.*The model was left as it was before this fine-tune\.$/);
    expect(s.modelState).toBe(before);
    const after = await s.requireModel().toArrays();
    for (const [name, v] of weights) expect(after.get(name), name).toEqual(v);
    // The copy it trained was freed.
    expect(tf.memory().numTensors).toBe(tensors);
  }, 120_000);
});
