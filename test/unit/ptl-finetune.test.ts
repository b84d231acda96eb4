/**
 * Fine-tuning with PTL end to end on tiny ResNets (plain and physically pruned): it lowers the
 * loss, trains the branch jointly (the evaluated model then differs from its backbone alone),
 * resets the cell state at every epoch start, is deterministic, refuses what it cannot do, and
 * releases its tensors.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { innerGroupId, trunkGroupId } from '../../src/engine/model/names';
import { pruneModel } from '../../src/engine/prune/surgery';
import { normalizeImages } from '../../src/engine/data/preprocess';
import { fineTunePtl } from '../../src/engine/ptl/ptl-finetune';
import { PtlSideBranch, ptlNames } from '../../src/engine/ptl/side-branch';
import { ptlCost } from '../../src/engine/ptl/ptl-cost';
import type { TrainConfigInput } from '../../src/engine/train/config';
import { NO_AUGMENT } from '../../src/engine/train/augment';
import { isLabError } from '../../src/engine/errors';
import { syntheticSplit } from './train-fixtures';

const H = 64;
const W = 32;

beforeAll(async () => {
  await initBackend('wasm');
});

function tinyModel(seed = 1): ReidModel {
  return ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W }), seed);
}

const FAST: TrainConfigInput = { p: 4, k: 4, seed: 5, optimizer: { kind: 'adam', lr: 1e-3 }, augment: NO_AUGMENT };
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [av, bv] = (await Promise.all([a.data(), b.data()])) as Float32Array[];
  let m = 0;
  av.forEach((v, j) => (m = Math.max(m, Math.abs(v - bv[j]))));
  return m;
}

describe('fineTunePtl', () => {
  it('lowers the loss on a tiny ResNet, trains the branch, resets the state each epoch, and leaks nothing', async () => {
    const split = syntheticSplit({ ids: 8, perId: 6, height: H, width: W, seed: 2 });
    const model = tinyModel();
    const base = tf.memory().numTensors;
    const branch = PtlSideBranch.create(model.spec, { seed: 3 });
    const gateBefore = (await branch.params.get(ptlNames.gate(3))!.data()) as Float32Array;
    expect(gateBefore.every((v) => v === 0)).toBe(true);
    // Record, for every training batch, its epoch and whether a carried state is in use.
    const calls: { epoch: number; carried: boolean }[] = [];
    const start = branch.startEpoch.bind(branch);
    vi.spyOn(branch, 'startEpoch').mockImplementation((e: number) => {
      start(e);
      calls.push({ epoch: e, carried: branch.hasState });
    });

    const res = await fineTunePtl(model, split, { ...FAST, steps: 30 }, {}, { branch });
    expect(res.branch).toBe(branch);
    expect(res.steps).toBe(30);
    const losses = res.history.map((h) => h.loss);
    expect(mean(losses.slice(-8))).toBeLessThan(0.8 * mean(losses.slice(0, 8)));

    // The state: zero at the first batch of every epoch, carried within an epoch.
    expect(calls).toHaveLength(30);
    const epochs = new Set(calls.map((c) => c.epoch));
    expect(epochs.size).toBeGreaterThan(3);
    calls.forEach((c, j) => expect(c.carried).toBe(j > 0 && calls[j - 1].epoch === c.epoch));
    // Back at the zero state for evaluation.
    expect(branch.hasState).toBe(false);

    // The branch was trained jointly: its gate opened, and evaluation uses it.
    const gateAfter = (await branch.params.get(ptlNames.gate(3))!.data()) as Float32Array;
    expect(gateAfter.some((v) => Math.abs(v) > 1e-4)).toBe(true);
    const x = normalizeImages(split.images.subarray(0, 6 * H * W * 3), 6, H, W);
    const plain = model.embed(x);
    const fused = branch.embedder(model).embed(x);
    expect(await maxAbsDiff(plain, fused)).toBeGreaterThan(1e-3);
    tf.dispose([x, plain, fused]);

    // The cost it reports is the branch's, next to the backbone's.
    expect(res.cost).toEqual(ptlCost(model.spec, branch.config));
    branch.dispose();
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('fine-tunes a physically pruned ResNet (branch sized to the pruned channels) and lowers the loss', async () => {
    const split = syntheticSplit({ ids: 8, perId: 6, height: H, width: W, seed: 7 });
    const full = tinyModel(2);
    const keep = new Map<string, number[]>([
      [innerGroupId(0, 0, 1), [0, 2, 4, 6]],
      [innerGroupId(1, 1, 1), [1, 3, 5, 7, 9, 11, 13, 15]],
      [innerGroupId(2, 0, 1), Array.from({ length: 16 }, (_, j) => j)],
      [trunkGroupId(2), Array.from({ length: 20 }, (_, j) => j)],
    ]);
    const model = await pruneModel(full, keep);
    full.dispose();
    expect(model.spec.stages[2][1].outC).toBe(20);
    const base = tf.memory().numTensors;
    const res = await fineTunePtl(model, split, { ...FAST, steps: 30 }, {}, { ptl: { cellRatio: 0.5, fuseInto: 'every' } });
    const losses = res.history.map((h) => h.loss);
    expect(mean(losses.slice(-6))).toBeLessThan(0.85 * mean(losses.slice(0, 6)));
    expect(res.branch.layout.map((L) => L.outC)).toEqual([8, 16, 20, 64]);
    expect(res.branch.layout.map((L) => L.cellC)).toEqual([4, 8, 10, 32]);
    // 'every': each stage's gate is trained.
    for (let s = 0; s < 4; s++) {
      const g = (await res.branch.params.get(ptlNames.gate(s))!.data()) as Float32Array;
      expect(g.some((v) => Math.abs(v) > 1e-4)).toBe(true);
    }
    res.branch.dispose();
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('is deterministic: same seed, same losses and weights', async () => {
    const split = syntheticSplit({ ids: 5, perId: 4, height: H, width: W, seed: 6 });
    const run = async () => {
      const model = tinyModel();
      const res = await fineTunePtl(model, split, { ...FAST, steps: 4 }, {}, { ptl: { gateInit: 0.1 } });
      const w = (await res.branch.params.get(ptlNames.cell(1))!.data()) as Float32Array;
      const b = (await model.params.get('layer1.0.conv1.weight')!.data()) as Float32Array;
      res.branch.dispose();
      model.dispose();
      return { losses: res.history.map((h) => h.loss), w: Array.from(w), b: Array.from(b) };
    };
    const a = await run();
    const b = await run();
    expect(b).toEqual(a);
  });

  it('refuses resuming, channel masks and evaluation identities, before changing anything', async () => {
    const split = syntheticSplit({ ids: 4, perId: 4, height: H, width: W, seed: 8, firstPid: 10 });
    const model = tinyModel();
    const before = await model.toArrays();
    const mask = tf.ones([8]) as tf.Tensor1D;
    const base = tf.memory().numTensors;
    const attempts: [string, Promise<unknown>][] = [
      ['identity-leak', fineTunePtl(model, split, { steps: 2, p: 2, k: 2 }, {}, { evaluation: { query: { pids: Int32Array.from([11]) }, gallery: { pids: Int32Array.from([1]) } } })],
      ['bad-argument', fineTunePtl(model, split, { steps: 2, p: 2, k: 2 }, {}, { resume: {} as never })],
      ['bad-argument', fineTunePtl(model, split, { steps: 2, p: 2, k: 2 }, {}, { masks: new Map([[trunkGroupId(0), mask]]) })],
      ['bad-argument', fineTunePtl(model, split, { steps: 2, p: 1, k: 2 })],
    ];
    for (const [code, p] of attempts) {
      let err: unknown;
      try {
        await p;
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, code as 'bad-argument')).toBe(true);
      expect((err as Error).message.length).toBeGreaterThan(20);
    }
    const after = await model.toArrays();
    for (const [n, v] of before) expect(after.get(n)).toEqual(v);
    expect(tf.memory().numTensors).toBe(base);
    mask.dispose();
    model.dispose();
  });
});
