/**
 * The training loop end to end on tiny ResNets and synthetic identities: it learns, resumes
 * exactly from a checkpoint, cancels cleanly, releases its tensors, and fine-tunes safely.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { normalizeImages } from '../../src/engine/data/preprocess';
import { train, Trainer, type TrainProgress } from '../../src/engine/train/trainer';
import { fineTune } from '../../src/engine/train/finetune';
import { deserializeCheckpoint, serializeCheckpoint } from '../../src/engine/train/checkpoint';
import type { TrainConfigInput } from '../../src/engine/train/config';
import { NO_AUGMENT } from '../../src/engine/train/augment';
import { isLabError, CancelledError } from '../../src/engine/errors';
import { syntheticSplit } from './train-fixtures';

const H = 64;
const W = 32;

beforeAll(async () => {
  await initBackend('wasm');
});

function tinyModel(numClasses: number, seed = 1): ReidModel {
  return ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W, numClasses }), seed);
}

async function weights(model: ReidModel): Promise<Map<string, Float32Array>> {
  return model.toArrays();
}

function sameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [n, v] of a) {
    const w = b.get(n)!;
    for (let i = 0; i < v.length; i++) if (v[i] !== w[i]) return false;
  }
  return a.size === b.size;
}

/** Mean distance between embeddings of different identities over mean same-identity distance. */
async function separation(model: ReidModel, split: ReturnType<typeof syntheticSplit>): Promise<number> {
  const x = normalizeImages(split.images, split.count, H, W);
  const emb = model.embed(x);
  x.dispose();
  const e = (await emb.array()) as number[][];
  emb.dispose();
  let pos = 0;
  let np = 0;
  let neg = 0;
  let nn = 0;
  for (let i = 0; i < e.length; i++) {
    for (let j = i + 1; j < e.length; j++) {
      const d = Math.sqrt(e[i].reduce((s, v, k) => s + (v - e[j][k]) ** 2, 0));
      if (split.pids[i] === split.pids[j]) (pos += d), np++;
      else (neg += d), nn++;
    }
  }
  return neg / nn / (pos / np);
}

const FAST: TrainConfigInput = { p: 4, k: 4, seed: 5, schedule: { warmupSteps: 2 }, optimizer: { kind: 'adam', lr: 1e-3 } };

describe('train', () => {
  it('lowers the loss and separates identities better than before training', async () => {
    const split = syntheticSplit({ ids: 8, perId: 6, height: H, width: W, seed: 2 });
    const model = tinyModel(8);
    const before = await separation(model, split);
    const progress: TrainProgress[] = [];
    // No augmentation here: pad-and-crop by 10 px is a third of a 32-px-wide image, too hard
    // for 40 steps (augmentation has its own tests).
    const res = await train(model, split, { ...FAST, steps: 40, augment: NO_AUGMENT }, { onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
    const after = await separation(model, split);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const losses = res.history.map((h) => h.loss);
    expect(res.steps).toBe(40);
    expect(mean(losses.slice(-8))).toBeLessThan(0.8 * mean(losses.slice(0, 8)));
    expect(after).toBeGreaterThan(before * 1.2);
    // Progress carries the run's numbers.
    const last = progress[progress.length - 1];
    expect(last.step).toBe(40);
    expect(last.totalSteps).toBe(40);
    expect(last.imagesPerSec).toBeGreaterThan(0);
    expect(last.etaSec).toBe(0);
    expect(progress[0].etaSec).toBeGreaterThan(0);
    model.dispose();
  });

  it('4 steps equal 2 steps + checkpoint (serialised to bytes) + 2 resumed steps, bit for bit', async () => {
    const split = syntheticSplit({ ids: 6, perId: 5, height: H, width: W, seed: 4 });
    const cfg: TrainConfigInput = { ...FAST, steps: 4, loss: { mining: 'batch-hard' } };

    const a = tinyModel(6);
    await train(a, split, cfg);
    const wa = await weights(a);

    const b = tinyModel(6);
    let bytes: Uint8Array | undefined;
    const t1 = new Trainer(b, split, cfg);
    await t1.runStep();
    await t1.runStep();
    bytes = serializeCheckpoint(await t1.checkpoint());
    t1.dispose();
    b.dispose();

    // A different model object (different init), restored from the bytes.
    const c = tinyModel(6, 99);
    const ckpt = deserializeCheckpoint(bytes);
    expect(ckpt.step).toBe(2);
    const res = await train(c, split, ckpt.config, {}, { resume: ckpt });
    expect(res.steps).toBe(4);
    expect(res.history).toHaveLength(2);
    expect(sameWeights(wa, await weights(c))).toBe(true);

    // And the run is not trivially constant: the weights moved.
    const init = await weights(tinyModel(6));
    expect(sameWeights(wa, init)).toBe(false);
    a.dispose();
    c.dispose();
  });

  it('cancellation stops between steps, keeping the last completed step (same as a shorter run)', async () => {
    const split = syntheticSplit({ ids: 6, perId: 5, height: H, width: W, seed: 4 });
    const cfg: TrainConfigInput = { ...FAST, steps: 10, loss: { mining: 'random' } };
    const ref = tinyModel(6);
    // Same schedule (steps: 10) so the LR at steps 1-3 is identical.
    const tr = new Trainer(ref, split, cfg);
    for (let i = 0; i < 3; i++) await tr.runStep();
    tr.dispose();

    const model = tinyModel(6);
    const signal = { aborted: false };
    const base = tf.memory().numTensors;
    let err: unknown;
    try {
      await train(model, split, cfg, { signal, afterStep: (m) => void (m.step === 3 && (signal.aborted = true)) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CancelledError);
    expect(isLabError(err, 'cancelled')).toBe(true);
    expect(sameWeights(await weights(ref), await weights(model))).toBe(true);
    expect(tf.memory().numTensors).toBe(base);
    ref.dispose();
    model.dispose();
  });

  it('releases every tensor: the model plus the optimiser state while training, the model alone after', async () => {
    const split = syntheticSplit({ ids: 5, perId: 4, height: H, width: W, seed: 6 });
    const model = tinyModel(5);
    const base = tf.memory().numTensors;
    const trainable = [...model.params.values()].filter((v) => v.trainable).length;
    const tr = new Trainer(model, split, { ...FAST, steps: 3 });
    for (let i = 0; i < 3; i++) await tr.runStep();
    // Adam keeps two slots (m, v) per trainable parameter; BNNeck's beta/gamma get gradients via the ID loss.
    expect(tr.numOwnedTensors).toBe(2 * trainable);
    expect(tf.memory().numTensors).toBe(base + 2 * trainable);
    tr.dispose();
    expect(tf.memory().numTensors).toBe(base);
    await train(model, split, { ...FAST, steps: 3 });
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('updates BatchNorm running statistics (they start at mean 0 / var 1)', async () => {
    const split = syntheticSplit({ ids: 5, perId: 4, height: H, width: W, seed: 6 });
    const model = tinyModel(5);
    await train(model, split, { ...FAST, steps: 1 });
    const rm = (await model.params.get('bn1.running_mean')!.data()) as Float32Array;
    const rv = (await model.params.get('bn1.running_var')!.data()) as Float32Array;
    expect(rm.some((v) => v !== 0)).toBe(true);
    expect(rv.some((v) => v !== 1)).toBe(true);
    // One update with momentum 0.1 from var 1: 0.9 + 0.1 * unbiased batch var >= 0.9.
    for (const v of rv) expect(v).toBeGreaterThanOrEqual(0.9 - 1e-6);
    model.dispose();
  });

  it('rejects a model whose classifier does not match the training identities, without touching it', async () => {
    const split = syntheticSplit({ ids: 5, perId: 4, height: H, width: W, seed: 6 });
    const model = tinyModel(7);
    const before = await weights(model);
    const base = tf.memory().numTensors;
    await expect(train(model, split, { ...FAST, steps: 2 })).rejects.toThrow(/classifier has 7 classes but the training set has 5 identities/);
    expect(sameWeights(before, await weights(model))).toBe(true);
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });
});

describe('fineTune', () => {
  it('refuses training identities that are evaluation identities, before changing anything', async () => {
    const split = syntheticSplit({ ids: 4, perId: 4, height: H, width: W, seed: 8, firstPid: 10 });
    const model = tinyModel(3);
    const before = await weights(model);
    let err: unknown;
    try {
      await fineTune(model, split, { steps: 2, p: 2, k: 2 }, {}, { evaluation: { query: { pids: Int32Array.from([1, 11, -1]) }, gallery: { pids: Int32Array.from([0, 2, 13]) } } });
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'identity-leak')).toBe(true);
    expect((err as Error).message).toMatch(/2 training identities appear .*\(11, 13\)/);
    expect(sameWeights(before, await weights(model))).toBe(true);
    model.dispose();
  });

  it('fine-tunes triplet-only, or with a fresh classifier for new identities, leaving the model classifier untouched', async () => {
    const split = syntheticSplit({ ids: 4, perId: 4, height: H, width: W, seed: 8, firstPid: 100 });
    const model = tinyModel(3);
    const base = tf.memory().numTensors;
    const clsBefore = (await model.params.get('classifier.weight')!.data()).slice();
    const convBefore = (await model.params.get('layer1.0.conv1.weight')!.data()).slice();
    const evaluation = { query: { pids: Int32Array.from([1, 2]) }, gallery: { pids: Int32Array.from([0, 1, 2, 3]) } };
    const r1 = await fineTune(model, split, { steps: 2, p: 2, k: 2 }, {}, { evaluation });
    expect(r1.history.every((h) => h.id === 0 && h.triplet >= 0)).toBe(true);
    const r2 = await fineTune(model, split, { steps: 2, p: 2, k: 2 }, {}, { evaluation, withIdLoss: 1 });
    // A fresh 4-class classifier starts near uniform: CE close to log(4).
    expect(r2.history[0].id).toBeGreaterThan(Math.log(4) - 0.2);
    expect(r2.history[0].id).toBeLessThan(Math.log(4) + 0.2);
    expect(Array.from(await model.params.get('classifier.weight')!.data())).toEqual(Array.from(clsBefore));
    expect(Array.from(await model.params.get('layer1.0.conv1.weight')!.data())).not.toEqual(Array.from(convBefore));
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });
});
