/**
 * Fine-tuning the last stages only (TrainConfig.trainFromStage): the frozen stem and stages
 * keep their weights and running statistics, the rest trains, and the frozen prefix computed
 * apart (stageInput) feeds the rest of the network exactly as the whole forward pass does.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { forward, stageInput } from '../../src/engine/model/forward';
import { isFrozen } from '../../src/engine/train/trainer';
import { fineTune } from '../../src/engine/train/finetune';
import { fineTunePtl } from '../../src/engine/ptl/ptl-finetune';
import { LabError } from '../../src/engine/errors';
import { isLabError } from '../../src/engine/errors';
import type { ReidDataset } from '../../src/engine/data/types';
import { LabSession } from '../../src/workers/session';
import { Job } from '../../src/workers/jobs';
import { syntheticSplit } from './train-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

const spec = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 32, inputWidth: 16, numClasses: 0 });
const split = syntheticSplit({ ids: 6, perId: 4, height: 32, width: 16, seed: 4 });

describe('stageInput + forward({ start })', () => {
  for (const stage of [0, 1, 3]) {
    it(`give the whole forward pass's embedding from stage ${stage}`, () => {
      const model = ReidModel.init(spec, 2);
      tf.tidy(() => {
        const x = tf.randomNormal([3, 32, 16, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
        const whole = forward(spec, model.params, x).embedding;
        const h = stageInput(spec, model.params, x, stage);
        const split = forward(spec, model.params, x, { start: { stage, h } }).embedding;
        expect(Array.from(split.dataSync())).toEqual(Array.from(whole.dataSync()));
      });
      model.dispose();
    });
  }
});

describe('isFrozen', () => {
  it('names the stem and the stages before the first trained one', () => {
    expect(isFrozen('conv1.weight', 3)).toBe(true);
    expect(isFrozen('bn1.running_var', 3)).toBe(true);
    expect(isFrozen('layer2.0.bn1.weight', 3)).toBe(true);
    expect(isFrozen('layer3.0.conv1.weight', 3)).toBe(false);
    expect(isFrozen('bnneck.weight', 3)).toBe(false);
    expect(isFrozen('conv1.weight', 0)).toBe(false);
    expect(isFrozen('layer1.0.conv1.weight', 1)).toBe(false);
  });
});

describe('fine-tuning from a stage on', () => {
  it('keeps the frozen weights and running statistics, trains the rest, leaks nothing', async () => {
    const model = ReidModel.init(spec, 5);
    const before = await model.toArrays();
    const tensors = tf.memory().numTensors;
    await fineTune(model, split, { steps: 2, p: 3, k: 4, trainFromStage: 3, optimizer: { lr: 1e-2 } });
    expect(tf.memory().numTensors).toBe(tensors);
    const after = await model.toArrays();
    let frozen = 0;
    let moved = 0;
    for (const [name, a] of after) {
      const same = a.every((v, i) => v === before.get(name)![i]);
      if (isFrozen(name, 3)) {
        expect(same, name).toBe(true);
        frozen++;
      } else if (!same) moved++;
    }
    expect(frozen).toBeGreaterThan(0);
    // Every trained stage and the BNNeck's running statistics moved.
    for (const p of ['layer3.0.conv1.weight', 'layer4.2.bn3.running_mean', 'bnneck.running_mean']) {
      expect(after.get(p)!.some((v, i) => v !== before.get(p)![i]), p).toBe(true);
    }
    expect(moved).toBeGreaterThan(10);
    model.dispose();
  });

  it('refuses a stage outside 0-4 and PTL, leaving the model as it was', async () => {
    const model = ReidModel.init(spec, 5);
    const before = await model.toArrays();
    for (const bad of [5, -1, 1.5]) {
      await expect(fineTune(model, split, { steps: 1, p: 3, k: 4, trainFromStage: bad })).rejects.toThrow(/first trained stage must be a whole number from 1 to 4/);
    }
    await expect(fineTunePtl(model, split, { steps: 1, p: 3, k: 4, trainFromStage: 2 })).rejects.toThrow(LabError);
    const after = await model.toArrays();
    for (const [name, a] of after) expect(a.every((v, i) => v === before.get(name)![i]), name).toBe(true);
    model.dispose();
  });
});

describe("the lab worker's fine-tune with trainFromStage", () => {
  const tiny = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
  function session(): LabSession {
    const s = new LabSession(() => 'wasm');
    s.setDense({ model: ReidModel.init(tiny, 1), name: 'tiny', source: 'random' });
    const d: ReidDataset = {
      name: 'tiny-synthetic',
      train: syntheticSplit({ ids: 8, perId: 4, height: 64, width: 32, seed: 2, firstPid: 1 }),
      query: syntheticSplit({ ids: 6, perId: 2, height: 64, width: 32, seed: 3, firstPid: 100 }),
      gallery: syntheticSplit({ ids: 6, perId: 4, height: 64, width: 32, seed: 3, firstPid: 100 }),
    };
    s.dataset = d;
    s.fineTuneSplit = { split: d.train, summary: { identities: 8, images: d.train.count, ofIdentities: 8, disjointFromEvaluation: true } };
    return s;
  }

  it('trains layerN onwards only, and refuses a bad stage or PTL without changing the model', async () => {
    const s = session();
    const job = () => new Job('t', 'Fine-tuning');
    await s.fineTune({ steps: 1, lr: 1e-3, seed: 1 }, job()); // a current model of its own
    const before = await s.requireModel().toArrays();
    const stateId = s.modelState!.stateId;
    for (const bad of [{ trainFromStage: 7 }, { trainFromStage: 2.5 }, { trainFromStage: 2, ptl: {} }]) {
      await expect(s.fineTune({ steps: 1, lr: 1e-3, seed: 1, ...bad }, job())).rejects.toSatisfy(isLabError);
      expect(s.modelState!.stateId).toBe(stateId);
    }
    await s.fineTune({ steps: 1, lr: 1e-3, seed: 1, trainFromStage: 4 }, job());
    const after = await s.requireModel().toArrays();
    expect(after.get('conv1.weight')).toEqual(before.get('conv1.weight'));
    expect(after.get('layer3.1.bn2.running_mean')).toEqual(before.get('layer3.1.bn2.running_mean'));
    expect(after.get('layer4.1.conv2.weight')).not.toEqual(before.get('layer4.1.conv2.weight'));
  });
});
