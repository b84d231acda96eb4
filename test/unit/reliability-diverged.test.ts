/**
 * Issue 20, item 3: a learning rate of 1e10 used to train every weight into NaN and return as if
 * nothing happened (the CLI then wrote NaN weights and a card with made-up metrics). The trainer
 * now checks each step's loss, gradients and updated weights before applying them and stops with
 * LabError('training-diverged'), leaving the model as after its last finite step; PTL too.
 * A checkpoint holding NaN is refused before training (item 11).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { fineTune } from '../../src/engine/train/finetune';
import { train, Trainer } from '../../src/engine/train/trainer';
import { fineTunePtl } from '../../src/engine/ptl/ptl-finetune';
import { isLabError, type LabError } from '../../src/engine/errors';
import { syntheticSplit } from './train-fixtures';

const H = 32;
const W = 16;
const split = syntheticSplit({ ids: 4, perId: 4, height: H, width: W, seed: 2, firstPid: 1 });
const spec = buildSpec({ depth: 18, widthMultiplier: 0.0625, inputHeight: H, inputWidth: W, numClasses: 4 });

beforeAll(async () => {
  await initBackend('wasm');
});

async function weights(m: ReidModel): Promise<Map<string, Float32Array>> {
  return new Map([...(await m.toArrays())].map(([k, v]) => [k, new Float32Array(v)]));
}

async function diverged(run: () => Promise<unknown>): Promise<LabError> {
  try {
    await run();
  } catch (e) {
    if (isLabError(e)) return e;
    throw e;
  }
  throw new Error('expected training to stop');
}

function allFinite(ws: Map<string, Float32Array>): boolean {
  for (const v of ws.values()) for (const x of v) if (!Number.isFinite(x)) return false;
  return true;
}

describe('training stops at the first non-finite step', () => {
  it('fine-tune with lr 1e10: training-diverged, every weight finite, no tensor leaked', async () => {
    const model = ReidModel.init(spec, 1);
    const before = tf.memory().numTensors;
    const e = await diverged(() => fineTune(model, split, { steps: 20, p: 2, k: 2, optimizer: { kind: 'adam', lr: 1e10 } }));
    expect(e.code).toBe('training-diverged');
    expect(e.message).toMatch(/^Training diverged at step \d+ of 20: .* Lower the learning rate/);
    expect(allFinite(await weights(model))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('the model is exactly as after the last finite step (same seed, stopped one step earlier)', async () => {
    const cfg = { p: 2, k: 2, optimizer: { kind: 'sgd' as const, lr: 1e10, momentum: 0 }, classifier: 'model' as const };
    const a = ReidModel.init(spec, 3);
    const e = await diverged(() => train(a, split, { ...cfg, steps: 50 }));
    const step = (e.detail as { step: number }).step;
    expect(step).toBeGreaterThan(1);
    const b = ReidModel.init(spec, 3);
    await train(b, split, { ...cfg, steps: step - 1 });
    const wa = await weights(a);
    const wb = await weights(b);
    for (const [k, v] of wa) expect(Array.from(v), k).toEqual(Array.from(wb.get(k)!));
    a.dispose();
    b.dispose();
  });

  it('PTL fine-tune with lr 1e10 stops the same way and frees its branch', async () => {
    const model = ReidModel.init(spec, 1);
    const before = tf.memory().numTensors;
    const e = await diverged(() => fineTunePtl(model, split, { steps: 20, p: 2, k: 2, optimizer: { kind: 'adam', lr: 1e10 } }));
    expect(e.code).toBe('training-diverged');
    expect(allFinite(await weights(model))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('a checkpoint holding NaN is refused before any step', async () => {
    const model = ReidModel.init(spec, 1);
    const t = new Trainer(model, split, { steps: 2, p: 2, k: 2, classifier: 'model' });
    const c = await t.checkpoint();
    t.dispose();
    c.params['layer1.0.conv1.weight'].values[5] = NaN;
    const w0 = await weights(model);
    const e = await diverged(() => train(model, split, { steps: 2, p: 2, k: 2, classifier: 'model' }, {}, { resume: c }));
    expect(e.code).toBe('bad-weights');
    expect(e.message).toContain('layer1.0.conv1.weight holds NaN at index 5');
    const w1 = await weights(model);
    for (const [k, v] of w0) expect(Array.from(w1.get(k)!), k).toEqual(Array.from(v));
    model.dispose();
  });
});
