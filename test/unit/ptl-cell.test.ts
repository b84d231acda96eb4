/**
 * PTL's BConv-Cell and side branch: the cell's update on a hand-worked case, the carried state
 * (batch mean, per sample, reset at epoch starts and for evaluation), the cut gradient through
 * the state, the forward hook's backward compatibility, and the branch's cost by hand.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { forward } from '../../src/engine/model/forward';
import { modelCost } from '../../src/engine/cost/macs';
import { bconvStep } from '../../src/engine/ptl/bconv-cell';
import { PtlSideBranch, ptlNames } from '../../src/engine/ptl/side-branch';
import { ptlCost } from '../../src/engine/ptl/ptl-cost';
import { isLabError } from '../../src/engine/errors';
import { randomInput, H, W } from './prune-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** A [3, 3, 1, 4] kernel whose centre tap is [wi, wf, wo, wg]; the other taps are 5 (they only see padding). */
function centreKernel(wi: number, wf: number, wo: number, wg: number): tf.Tensor4D {
  const v = new Float32Array(36).fill(5);
  [wi, wf, wo, wg].forEach((w, j) => (v[(1 * 3 + 1) * 4 + j] = w));
  return tf.tensor4d(v, [3, 3, 1, 4]);
}

/** The same cell written independently, with the state NOT detached (the control). */
function undetachedStep(x: tf.Tensor4D, k: tf.Tensor4D, prev: tf.Tensor4D | null) {
  const g = tf.conv2d(x, k, 1, 'same');
  const c4 = k.shape[3] / 4;
  const part = (j: number) => tf.slice(g, [0, 0, 0, j * c4], [-1, -1, -1, c4]);
  const i = tf.sigmoid(part(0));
  const f = tf.sigmoid(part(1));
  const o = tf.sigmoid(part(2));
  const gg = tf.tanh(part(3));
  const c = prev ? tf.add(tf.mul(f, prev), tf.mul(i, gg)) : tf.mul(i, gg);
  return { y: tf.mul(o, tf.tanh(c)), c };
}

describe('BConv-Cell', () => {
  it('computes i, f, o, g, C_t and y_t as worked by hand (1 channel, 1x1 map)', async () => {
    // x = 2; centre weights 0.5, -0.25, 1, 0.25 give pre-activations 1, -0.5, 2, 0.5.
    // i = sigmoid(1) = 0.7310586, f = sigmoid(-0.5) = 0.3775407, o = sigmoid(2) = 0.8807971,
    // g = tanh(0.5) = 0.4621172. With C_{t-1} = 0.8:
    // C_t = 0.3775407 * 0.8 + 0.7310586 * 0.4621172 = 0.3020325 + 0.3378346 = 0.6398671
    // y_t = 0.8807971 * tanh(0.6398671) = 0.8807971 * 0.5648 (approx) = 0.4975 (approx)
    const i = 0.7310586;
    const f = 0.3775407;
    const o = 0.8807971;
    const g = 0.4621172;
    expect(sigmoid(1)).toBeCloseTo(i, 6); // the table values above are right
    const cHand = f * 0.8 + i * g;
    expect(cHand).toBeCloseTo(0.6398671, 6);
    const yHand = o * Math.tanh(cHand);

    const k = centreKernel(0.5, -0.25, 1, 0.25);
    const x = tf.tensor4d([2], [1, 1, 1, 1]);
    const prev = tf.tensor4d([0.8], [1, 1, 1, 1]);
    const step = bconvStep(x, k, 1, prev);
    expect((await step.c.data())[0]).toBeCloseTo(cHand, 5);
    expect((await step.y.data())[0]).toBeCloseTo(yHand, 5);
    // Zero state: C_t = i * g, y_t = o * tanh(i * g).
    const fresh = bconvStep(x, k, 1, null);
    expect((await fresh.c.data())[0]).toBeCloseTo(i * g, 5);
    expect((await fresh.y.data())[0]).toBeCloseTo(o * Math.tanh(i * g), 5);
    tf.dispose([k, x, prev, step.c, step.y, fresh.c, fresh.y]);
  });

  it('cuts the gradient through the carried state: batch t-1 gets none from batch t, batch t does', async () => {
    const k = tf.tensor4d(Array.from({ length: 3 * 3 * 2 * 8 }, (_, j) => Math.sin(j + 1)), [3, 3, 2, 8]);
    const x1 = tf.tensor4d(Array.from({ length: 2 * 3 * 3 * 2 }, (_, j) => Math.cos(j)), [2, 3, 3, 2]);
    const x2 = tf.tensor4d(Array.from({ length: 2 * 3 * 3 * 2 }, (_, j) => Math.sin(2 * j)), [2, 3, 3, 2]);
    // Two consecutive batches on one tape: loss of batch t = sum of y_t.
    const [g1, g2] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
      const s1 = bconvStep(a as tf.Tensor4D, k, 1, null);
      return bconvStep(b as tf.Tensor4D, k, 1, s1.c).y.sum();
    })([x1, x2]);
    expect(Math.max(...((await g1.abs().data()) as Float32Array))).toBe(0);
    expect(Math.max(...((await g2.abs().data()) as Float32Array))).toBeGreaterThan(1e-4);
    // Control: the same two steps without the cut do send a gradient back to batch t-1.
    const [c1] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
      const s1 = undetachedStep(a as tf.Tensor4D, k, null);
      return undetachedStep(b as tf.Tensor4D, k, s1.c as tf.Tensor4D).y.sum();
    })([x1, x2]);
    expect(Math.max(...((await c1.abs().data()) as Float32Array))).toBeGreaterThan(1e-4);
    // And the detached forward values equal the control's.
    const a = tf.tidy(() => bconvStep(x2, k, 1, bconvStep(x1, k, 1, null).c).y);
    const b = tf.tidy(() => undetachedStep(x2, k, undetachedStep(x1, k, null).c as tf.Tensor4D).y);
    const [av, bv] = await Promise.all([a.data(), b.data()]);
    av.forEach((v, j) => expect(v).toBeCloseTo(bv[j], 5));
    tf.dispose([k, x1, x2, g1, g2, c1, a, b]);
  });
});

function tinySpec() {
  return buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
}

async function arr(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

describe('forward stageHook', () => {
  it('an identity hook changes nothing, and a replacing hook changes what follows', async () => {
    const model = ReidModel.init(tinySpec(), 3);
    const x = randomInput(2, 1);
    const seen: number[] = [];
    const [plain, same, changed] = tf.tidy(() => [
      forward(model.spec, model.params, x).embedding,
      forward(model.spec, model.params, x, { stageHook: (s, h) => (seen.push(s), h) }).embedding,
      forward(model.spec, model.params, x, { stageHook: (s, h) => (s === 2 ? tf.mul(h, 0.5) : h) as tf.Tensor4D }).embedding,
    ]);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(await arr(same)).toEqual(await arr(plain));
    expect(await arr(changed)).not.toEqual(await arr(plain));
    const badHook = (_s: number, h: tf.Tensor4D) => tf.slice(h, [0, 0, 0, 0], [-1, -1, -1, 1]);
    expect(() => tf.tidy(() => forward(model.spec, model.params, x, { stageHook: badHook }).embedding)).toThrow(/must keep the shape/);
    tf.dispose([x, plain, same, changed]);
    model.dispose();
  });
});

describe('PTL side branch', () => {
  it('with zero gates the model computes exactly the backbone; with non-zero gates the branch is used', async () => {
    const model = ReidModel.init(tinySpec(), 3);
    const x = randomInput(3, 2);
    const zero = PtlSideBranch.create(model.spec, { seed: 4 });
    const open = PtlSideBranch.create(model.spec, { seed: 4, gateInit: 0.5 });
    const plain = model.embed(x);
    const a = zero.embedder(model).embed(x);
    const b = open.embedder(model).embed(x);
    expect(await arr(a)).toEqual(await arr(plain));
    const diff = (await arr(b)).reduce((m, v, j) => Math.max(m, Math.abs(v - (plain.dataSync()[j] as number))), 0);
    expect(diff).toBeGreaterThan(1e-3);
    tf.dispose([x, plain, a, b]);
    zero.dispose();
    open.dispose();
    model.dispose();
  });

  it('carries the batch mean of C_t to the next training batch, resets at a new epoch, and evaluates at the zero state', async () => {
    const model = ReidModel.init(tinySpec(), 3);
    const mean = PtlSideBranch.create(model.spec, { seed: 4, gateInit: 0.5 });
    const perSample = PtlSideBranch.create(model.spec, { seed: 4, gateInit: 0.5, carry: 'per-sample' });
    const x = randomInput(4, 5);
    const trainEmb = (b: PtlSideBranch) => tf.tidy(() => b.forward(model.spec, model.params, x, { training: true }).embedding);
    const evalBefore = mean.embedder(model).embed(x);

    mean.startEpoch(0);
    perSample.startEpoch(0);
    const first = trainEmb(mean);
    trainEmb(perSample).dispose();
    expect(mean.hasState).toBe(false); // pending until committed
    const again = trainEmb(mean);
    expect(await arr(again)).toEqual(await arr(first)); // nothing committed: same zero state
    mean.commit();
    perSample.commit();
    // Same initialisation and input, both from the zero state: the carried batch mean equals the
    // mean over the batch rows of the per-sample state.
    for (let s = 0; s < 4; s++) {
      const m = mean.carriedState(s)!;
      const p = perSample.carriedState(s)!;
      const L = mean.layout[s];
      expect(m.shape).toEqual([1, L.size[0], L.size[1], L.cellC]);
      expect(p.shape).toEqual([4, L.size[0], L.size[1], L.cellC]);
      const [mv, pv] = await Promise.all([arr(m), arr(p)]);
      const n = mv.length;
      for (let j = 0; j < n; j++) expect(mv[j]).toBeCloseTo((pv[j] + pv[n + j] + pv[2 * n + j] + pv[3 * n + j]) / 4, 5);
      expect(mv.some((v) => v !== 0)).toBe(true);
    }
    // The carried state changes the next batch's output.
    mean.startEpoch(0);
    const carried = trainEmb(mean);
    expect(await arr(carried)).not.toEqual(await arr(first));
    // A smaller batch still works (the mean broadcasts; per-sample takes the first rows).
    const x2 = tf.slice(x, [0, 0, 0, 0], [2, -1, -1, -1]);
    const small = tf.tidy(() => [mean, perSample].map((b) => b.forward(model.spec, model.params, x2, { training: true }).embedding));
    expect(small.map((t) => t.shape)).toEqual([[2, 64], [2, 64]]);
    // Evaluation ignores the carried state.
    const evalAfter = mean.embedder(model).embed(x);
    expect(await arr(evalAfter)).toEqual(await arr(evalBefore));
    // A new epoch starts from zero: the same output as the very first batch.
    mean.startEpoch(1);
    expect(mean.hasState).toBe(false);
    const newEpoch = trainEmb(mean);
    expect(await arr(newEpoch)).toEqual(await arr(first));
    tf.dispose([x, x2, first, again, carried, evalBefore, evalAfter, newEpoch, ...small]);
    mean.dispose();
    perSample.dispose();
    model.dispose();
  });

  it('releases every tensor it holds (parameters, carried and pending states)', () => {
    const model = ReidModel.init(tinySpec(), 3);
    const base = tf.memory().numTensors;
    const b = PtlSideBranch.create(model.spec, { gateInit: 0.1 });
    const x = randomInput(2, 9);
    tf.tidy(() => b.forward(model.spec, model.params, x, { training: true }).embedding).dispose();
    b.commit();
    tf.tidy(() => b.forward(model.spec, model.params, x, { training: true }).embedding).dispose(); // pending again
    expect(b.numStateTensors).toBe(8);
    b.reset();
    expect(b.numStateTensors).toBe(0);
    b.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('refuses a model with other channel counts, with a sentence', () => {
    const model = ReidModel.init(tinySpec(), 3);
    const other = buildSpec({ depth: 18, widthMultiplier: 0.25, inputHeight: H, inputWidth: W });
    const b = PtlSideBranch.create(other);
    let err: unknown;
    try {
      b.embedder(model);
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'bad-argument')).toBe(true);
    expect(String((err as Error).message)).toMatch(/built for stage outputs of 16\/32\/64\/128 channels.*the model has 8\/16\/32\/64/);
    b.dispose();
    model.dispose();
  });
});

describe('PTL cost', () => {
  it('counts the branch separately, matching a hand count (ResNet-18 x0.125 at 64x32)', () => {
    const spec = tinySpec();
    // Stage outputs 8/16/32/64 channels at 16x8, 8x4, 4x2, 4x2 (last stride 1); cells 2/4/8/16.
    // cell s: H*W * 4c * inC * 9, inC = 8 (stage 0's own output), then the previous fusion's C.
    // fusion s: H*W * C * (C + c); BN 2C params; the last stage's gate C params.
    const cells = [128 * 8 * 8 * 9, 32 * 16 * 8 * 9, 8 * 32 * 16 * 9, 8 * 64 * 32 * 9]; // 73728, 36864, 36864, 147456
    const fuses = [128 * 8 * 10, 32 * 16 * 20, 8 * 32 * 40, 8 * 64 * 80]; // 10240, 10240, 10240, 40960
    const cellParams = [8 * 8 * 9, 16 * 8 * 9, 32 * 16 * 9, 64 * 32 * 9];
    const fuseParams = [8 * 10, 16 * 20, 32 * 40, 64 * 80];
    const bnParams = [16, 32, 64, 128];
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const c = ptlCost(spec);
    expect(c.macs).toBe(sum(cells) + sum(fuses));
    expect(c.macs).toBe(366592);
    expect(c.params).toBe(sum(cellParams) + sum(fuseParams) + sum(bnParams) + 64);
    expect(c.backbone).toEqual({ macs: modelCost(spec).macs, params: modelCost(spec).params });
    // 'every' adds a gate per stage (parameters only).
    expect(ptlCost(spec, { fuseInto: 'every' }).params).toBe(c.params + 8 + 16 + 32);
    expect(ptlCost(spec, { fuseInto: 'every' }).macs).toBe(c.macs);
  });

  it('parameter count equals the size of the branch trainable tensors, for several settings', () => {
    const spec = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: H, inputWidth: W, lastStride: 2 });
    for (const cfg of [{}, { cellRatio: 0.5, fuseInto: 'every' as const }, { kernel: 1 }]) {
      const b = PtlSideBranch.create(spec, cfg);
      const n = [...b.params.values()].filter((v) => v.trainable).reduce((a, v) => a + v.size, 0);
      expect(ptlCost(spec, cfg).params).toBe(n);
      expect(b.params.has(ptlNames.gate(3))).toBe(true);
      b.dispose();
    }
  });
});
