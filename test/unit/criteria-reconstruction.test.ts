import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { initParamArrays, type ParamArrays } from '../../src/engine/model/init';
import { forward } from '../../src/engine/model/forward';
import { ReidModel } from '../../src/engine/model/model';
import { normalizeImages } from '../../src/engine/data/preprocess';
import { isLabError } from '../../src/engine/errors';
import { dependencyGroups, type DependencyGroup } from '../../src/engine/prune/groups';
import type { CriterionContext, CriterionId } from '../../src/engine/prune/criterion';
import type { KeepSets } from '../../src/engine/prune/keep-set';
import { getCriterion } from '../../src/engine/prune/criteria';
import { thinetRemovalOrder } from '../../src/engine/prune/criteria/thinet';
import { lassoPathScores } from '../../src/engine/prune/criteria/channel-pruning';
import { forEachPatchBatch, innerConsumer } from '../../src/engine/prune/criteria/consumer-samples';
import { Prng } from '../../src/engine/util/prng';
import { syntheticSplit } from './train-fixtures';
import { G1, H, W, arrays, group, layer1Activation, spec, split } from './criteria-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

const DATA = { split, batches: 2, batchSize: 8 }; // the whole 16-image split
const W2 = 'layer1.0.conv2.weight'; // the consumer of layer1.0.conv1's channels: [3, 3, 4, 4]

function ctxFor(model: ReidModel, groups: DependencyGroup[], extra: Partial<CriterionContext> = {}): CriterionContext {
  return { model, groups, seed: 5, data: DATA, ...extra };
}

/** Score and reconstruct with a criterion, asserting no tensor leaks. */
async function run(id: CriterionId, a: ParamArrays, keep: KeepSets, options?: CriterionContext['options']) {
  const model = ReidModel.fromArrays(spec, a);
  try {
    const before = tf.memory().numTensors;
    const c = getCriterion(id);
    const ctx = ctxFor(model, [group(G1)], { options });
    const scores = await c.score(ctx);
    const rec = await c.reconstruct!(ctx, keep);
    expect(tf.memory().numTensors).toBe(before);
    return { scores: scores.get(G1)!, rec };
  } finally {
    model.dispose();
  }
}

/**
 * Relative squared error, over every position of every image of the split, of layer1.0.conv2's
 * output when its input keeps only `kept` channels and it uses `weights`, against the unpruned
 * output. Computed independently of the criteria: hand-built activation, tf.conv2d.
 */
function consumerError(a: ParamArrays, kept: number[], weights: Float32Array): number {
  return tf.tidy(() => {
    const x = layer1Activation(a, normalizeImages(split.images, split.count, H, W));
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
    const y = tf.conv2d(x, tf.tensor4d(a.get(W2)!, [3, 3, 4, 4]), 1, pad);
    const mask = tf.tensor1d([0, 1, 2, 3].map((c) => (kept.includes(c) ? 1 : 0)));
    const yp = tf.conv2d(tf.mul(x, mask) as tf.Tensor4D, tf.tensor4d(weights, [3, 3, 4, 4]), 1, pad);
    return tf.sum(tf.square(tf.sub(y, yp))).dataSync()[0] / tf.sum(tf.square(y)).dataSync()[0];
  });
}

/** Input slice c of a [k, k, C, O] conv weight. */
function inputSlice(w: Float32Array, c: number, C = 4, O = 4): number[] {
  const out: number[] = [];
  for (let r = 0; r < w.length / (C * O); r++) for (let o = 0; o < O; o++) out.push(w[(r * C + c) * O + o]);
  return out;
}

describe('ThiNet greedy selection', () => {
  it('removes, step by step, the channel that adds the least error, so cancelling pairs go together (hand-worked)', () => {
    // Contributions z0 = (3, 0), z1 = (−2.9, 0), z2 = (0, 2.5), z3 = (0, 2.6): z0 and z1 cancel.
    // Step 1: ‖z_c‖² = 9, 8.41, 6.25, 6.76 → remove 2. Step 2: ‖z2 + z_c‖² = 15.25, 14.66, 32.01 → remove 1.
    // Step 3: ‖z2 + z1 + z_c‖² = 6.26 (c = 0) vs 34.85 (c = 3) → remove 0. z3 is kept although z0 has the larger norm.
    const z = [
      [3, 0],
      [-2.9, 0],
      [0, 2.5],
      [0, 2.6],
    ];
    const gram = Float64Array.from({ length: 16 }, (_, i) => z[Math.floor(i / 4)][0] * z[i % 4][0] + z[Math.floor(i / 4)][1] * z[i % 4][1]);
    expect(thinetRemovalOrder(gram, 4)).toEqual([2, 1, 0, 3]);
  });

  it('matches a naive greedy that sums the contribution vectors explicitly', () => {
    const rng = new Prng(9);
    const c = 7;
    const n = 30;
    const z = Array.from({ length: c }, () => Float64Array.from({ length: n }, () => rng.normal()));
    z[4] = z[1].map((v, i) => -0.9 * v + 0.1 * z[2][i]); // a nearly cancelling partner
    const gram = new Float64Array(c * c);
    for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) gram[a * c + b] = z[a].reduce((s, v, i) => s + v * z[b][i], 0);
    const naive: number[] = [];
    while (naive.length < c) {
      let best = -1;
      let bestErr = Infinity;
      for (let cand = 0; cand < c; cand++) {
        if (naive.includes(cand)) continue;
        const sum = new Float64Array(n);
        for (const t of [...naive, cand]) z[t].forEach((v, i) => (sum[i] += v));
        const err = sum.reduce((s, v) => s + v * v, 0);
        if (err < bestErr) (bestErr = err), (best = cand);
      }
      naive.push(best);
    }
    expect(thinetRemovalOrder(gram, c)).toEqual(naive);
  });
});

describe('channel pruning LASSO path', () => {
  it('with orthogonal contributions keeps channels in order of their contribution; a silent channel scores 0', () => {
    // G = diag(d): β_c(λ) = max(0, 1 − λ / d_c), so channel c leaves the path at λ = d_c.
    const d = [1, 4, 2, 0];
    const gram = new Float64Array(16);
    d.forEach((v, i) => (gram[i * 5] = v));
    const s = lassoPathScores(gram, 4, 50);
    expect(s[3]).toBe(0);
    expect(s[1]).toBeGreaterThan(s[2]);
    expect(s[2]).toBeGreaterThan(s[0]);
    expect(s[0]).toBeGreaterThan(0);
  });

  it('gives a scaled copy of another channel no coefficient at all (hand-worked)', () => {
    // z0 = (1, 0), z1 = 0.5·z0, z2 = (0, 1); Y = z0 + z1 + z2 = 1.5·z0 + z2. Along z0 the fit needs
    // β0 + 0.5·β1 = 1.5 − λ, cheapest in ‖β‖₁ with β1 = 0; so β1 is 0 on the whole path, β2 = 1 − λ
    // leaves at λ = 1 and β0 = 1.5 − λ at λ = 1.5 = λ_max.
    const gram = Float64Array.from([1, 0.5, 0, 0.5, 0.25, 0, 0, 0, 1]);
    const s = lassoPathScores(gram, 3, 60);
    expect(s[1]).toBe(0);
    expect(s[2]).toBeGreaterThan(0);
    expect(s[0]).toBeGreaterThan(s[2]);
  });
});

describe('consumer patches', () => {
  it('reproduce the consumer conv exactly when every location is sampled (stride 2 and 1x1 consumers of a ResNet-50)', async () => {
    const spec50 = buildSpec({ depth: 50, widthMultiplier: 0.0625, inputHeight: 64, inputWidth: 32 });
    const groups = dependencyGroups(spec50).filter((g) => g.id === 'layer2.0.conv1' || g.id === 'layer2.0.conv2');
    const data = { split: syntheticSplit({ ids: 2, perId: 2, height: 64, width: 32, seed: 2 }), batches: 1, batchSize: 4 };
    const model = ReidModel.fromArrays(spec50, initParamArrays(spec50, 6));
    const ctx: CriterionContext = { model, groups, seed: 1, data };
    const consumers = groups.map((g) => innerConsumer(ctx, g, 'test'));
    expect(consumers.map((c) => [c.param, c.k, c.stride])).toEqual([
      ['layer2.0.conv2.weight', 3, 2],
      ['layer2.0.conv3.weight', 1, 1],
    ]);
    // Reference: the sites' activations (forward's tap) through tf.conv2d with the consumer's stride and padding.
    const x = normalizeImages(data.split.images, 4, 64, 32);
    const refs = new Map<string, number[]>();
    tf.tidy(() => {
      forward(spec50, model.params, x, {
        onMaskSite: (key, act) => {
          const c = consumers.find((k) => k.group.id === key);
          if (!c) return;
          const y = tf.conv2d(act as tf.Tensor4D, model.params.get(c.param) as tf.Tensor4D, c.stride, c.pad === 0 ? 'valid' : [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]]);
          refs.set(key, Array.from(y.dataSync()));
        },
      });
    });
    x.dispose();
    const got = new Map<string, number[]>();
    await forEachPatchBatch(ctx, consumers, [0, 1, 2, 3], 4, 1e9, 'test', (c, patches, n) => {
      const w = model.params.get(c.param)!.dataSync();
      const width = c.k * c.k * c.channels;
      const out: number[] = [];
      for (let r = 0; r < n; r++)
        for (let o = 0; o < c.outputs; o++) {
          let s = 0;
          for (let i = 0; i < width; i++) s += patches[r * width + i] * w[i * c.outputs + o];
          out.push(s);
        }
      got.set(c.group.id, out);
    });
    model.dispose();
    for (const c of consumers) {
      const ref = refs.get(c.group.id)!;
      const g = got.get(c.group.id)!;
      expect(g.length).toBe(ref.length);
      const scale = Math.max(...ref.map(Math.abs));
      g.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThan(1e-4 * scale));
    }
  });
});

describe('ThiNet and channel pruning reconstruction', () => {
  /** Channel 3 duplicates channel 2, and the consumer reads it with half channel 2's weights. */
  function exactCase(): ParamArrays {
    const a = arrays();
    const w = a.get(W2)!;
    for (let r = 0; r < 9; r++) for (let o = 0; o < 4; o++) w[(r * 4 + 3) * 4 + o] = 0.5 * w[(r * 4 + 2) * 4 + o];
    return a;
  }

  it('rebuild the consumer output exactly when a dropped channel is a scaled copy of a kept one', async () => {
    const a = exactCase();
    const kept = [0, 1, 2];
    const keep: KeepSets = new Map([[G1, kept]]);
    const plain = consumerError(a, kept, a.get(W2)!);
    expect(plain).toBeGreaterThan(1e-3);
    for (const id of ['thinet', 'channel-pruning'] as const) {
      const { rec } = await run(id, a, keep);
      expect([...rec.keys()]).toEqual([W2]);
      const w = rec.get(W2)!;
      expect(w.length).toBe(9 * 16);
      expect(inputSlice(w, 3).every((v) => v === 0)).toBe(true); // dropped input slice zeroed
      expect(consumerError(a, kept, w)).toBeLessThan(1e-5);
    }
    // ThiNet's answer is the closed form: channel 2's slice × 1.5, the others unchanged (the dead channel 0's scale is irrelevant).
    const { rec } = await run('thinet', a, keep);
    const w = rec.get(W2)!;
    inputSlice(a.get(W2)!, 2).forEach((v, i) => expect(inputSlice(w, 2)[i]).toBeCloseTo(1.5 * v, 4));
    inputSlice(a.get(W2)!, 1).forEach((v, i) => expect(inputSlice(w, 1)[i]).toBeCloseTo(v, 4));
  });

  it('reduce the error of plain slicing on the sampled images; full least squares at least as well as rescaling', async () => {
    const a = initParamArrays(spec, 12);
    const rng = new Prng(12);
    const g = a.get('layer1.0.bn1.weight')!;
    const b = a.get('layer1.0.bn1.bias')!;
    for (let c = 0; c < 4; c++) (g[c] = rng.uniform(0.5, 1.5)), (b[c] = rng.normal(0, 0.3));
    const kept = [0, 2];
    const keep: KeepSets = new Map([[G1, kept]]);
    const opts = { locations: 1000 }; // every location of every image: the least-squares guarantee applies to the whole split
    const plain = consumerError(a, kept, a.get(W2)!);
    const thin = consumerError(a, kept, (await run('thinet', a, keep, opts)).rec.get(W2)!);
    const cp = consumerError(a, kept, (await run('channel-pruning', a, keep, opts)).rec.get(W2)!);
    expect(thin).toBeLessThan(plain);
    expect(cp).toBeLessThanOrEqual(thin * (1 + 1e-4));
    expect(cp).toBeLessThan(0.9 * plain);
    // With the default 10 sampled locations per image the fit still helps on all positions.
    const sampled = consumerError(a, kept, (await run('channel-pruning', a, keep)).rec.get(W2)!);
    expect(sampled).toBeLessThan(plain);
  });

  it('score a dead channel lowest, and a scaled copy as low under the LASSO', async () => {
    const keep: KeepSets = new Map([[G1, [1, 2, 3]]]);
    const t = (await run('thinet', exactCase(), keep)).scores;
    expect(t[0]).toBe(0.25); // removed first: its removal adds no error
    expect([...t].sort()).toEqual([0.25, 0.5, 0.75, 1]);
    const c = (await run('channel-pruning', exactCase(), keep)).scores;
    expect(c[0]).toBe(0);
    // Channel 3's contribution is exactly half of channel 2's: the LASSO never needs it (see above).
    expect(c[3]).toBe(0);
    expect(Math.min(c[1], c[2])).toBeGreaterThan(0);
  });

  it('refuse trunk groups with a LabError and leave no tensors', async () => {
    const model = ReidModel.fromArrays(spec, arrays());
    const before = tf.memory().numTensors;
    for (const id of ['thinet', 'channel-pruning'] as const) {
      const ctx = ctxFor(model, [group('trunk2')]);
      await expect(getCriterion(id).score(ctx)).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument') && /trunk2/.test((e as Error).message) && /inner/.test((e as Error).message));
      await expect(getCriterion(id).reconstruct!(ctx, new Map([['trunk2', [0, 1]]]))).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument'));
      await expect(getCriterion(id).score(ctxFor(model, [group(G1)], { data: undefined }))).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument'));
    }
    expect(tf.memory().numTensors).toBe(before);
    // Every inner group of the net at once, with reconstruction of all of them; 3 sampled
    // output channels per batch exercises the subsampled Gram (layers 2-4 have 8-32 outputs).
    const inner = dependencyGroups(spec).filter((g) => g.kind === 'inner');
    const keep: KeepSets = new Map(inner.map((g) => [g.id, [0, 2]]));
    for (const id of ['thinet', 'channel-pruning'] as const) {
      const ctx = ctxFor(model, inner, { options: { outputs: 3 } });
      const s = await getCriterion(id).score(ctx);
      const rec = await getCriterion(id).reconstruct!(ctx, keep);
      expect(s.size).toBe(inner.length);
      for (const g of inner) expect(new Set(s.get(g.id)!).size).toBeGreaterThan(1);
      expect(rec.size).toBe(inner.length);
      expect(tf.memory().numTensors).toBe(before);
    }
    model.dispose();
  });
});
