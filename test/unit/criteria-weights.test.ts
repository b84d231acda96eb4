import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { listParams } from '../../src/engine/model/names';
import { initParamArrays, type ParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { isLabError } from '../../src/engine/errors';
import { dependencyGroups, type DependencyGroup } from '../../src/engine/prune/groups';
import { keepTopScores } from '../../src/engine/prune/keep-set';
import type { CriterionContext, CriterionId } from '../../src/engine/prune/criterion';
import { CRITERIA, getCriterion } from '../../src/engine/prune/criteria';
import { cholesky, solveNormalEquations } from '../../src/engine/prune/criteria/linalg';
import { Prng } from '../../src/engine/util/prng';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

// ResNet-18 at width 1/16: stem 4 channels, stages 4, 8, 16, 32. Input 64x32.
const spec: ResNetSpec = buildSpec({ depth: 18, widthMultiplier: 0.0625, inputHeight: 64, inputWidth: 32 });
const shapes = new Map(listParams(spec).map((p) => [p.name, p.shape]));
const groupById = new Map(dependencyGroups(spec).map((g) => [g.id, g]));
const group = (id: string): DependencyGroup => groupById.get(id)!;

/** Set filter j (out channel) of a conv [kh, kw, in, out] from a flat list over (kh, kw, in). */
function setFilter(arrays: ParamArrays, name: string, j: number, values: number[]): void {
  const [kh, kw, cin, cout] = shapes.get(name)!;
  const w = arrays.get(name)!;
  expect(values.length).toBe(kh * kw * cin);
  values.forEach((v, a) => (w[a * cout + j] = v));
}

function filterOf(n: number, entries: Record<number, number>): number[] {
  const f = new Array<number>(n).fill(0);
  for (const [k, v] of Object.entries(entries)) f[Number(k)] = v;
  return f;
}

async function scoreWith(id: CriterionId, arrays: ParamArrays, groups: DependencyGroup[], extra: Partial<CriterionContext> = {}) {
  const model = ReidModel.fromArrays(spec, arrays);
  try {
    const before = tf.memory().numTensors;
    const scores = await getCriterion(id).score({ model, groups, seed: 7, ...extra });
    expect(tf.memory().numTensors).toBe(before);
    return scores;
  } finally {
    model.dispose();
  }
}

const FILTER = 3 * 3 * 4; // layer1.0.conv1: [3, 3, 4, 4]

describe('Hao Li (L1) and L2', () => {
  // Filter 0: a single weight 6 (L1 6, L2 6); filter 1: 36 weights of 0.5 (L1 18, L2 3);
  // filter 2: 36 weights of ±0.1 (L1 3.6, L2 0.6); filter 3: zero. L1 and L2 disagree on 0 vs 1.
  function arrays(): ParamArrays {
    const a = initParamArrays(spec, 1);
    setFilter(a, 'layer1.0.conv1.weight', 0, filterOf(FILTER, { 5: -6 }));
    setFilter(a, 'layer1.0.conv1.weight', 1, new Array(FILTER).fill(0.5));
    setFilter(a, 'layer1.0.conv1.weight', 2, Array.from({ length: FILTER }, (_, i) => (i % 2 ? 0.1 : -0.1)));
    setFilter(a, 'layer1.0.conv1.weight', 3, new Array(FILTER).fill(0));
    return a;
  }

  it('scores an inner group by each filter\'s L1 / L2 norm', async () => {
    const g = [group('layer1.0.conv1')];
    const l1 = (await scoreWith('l1', arrays(), g)).get('layer1.0.conv1')!;
    const l2 = (await scoreWith('l2', arrays(), g)).get('layer1.0.conv1')!;
    [6, 18, 3.6, 0].forEach((v, j) => expect(l1[j]).toBeCloseTo(v, 4));
    [6, 3, 0.6, 0].forEach((v, j) => expect(l2[j]).toBeCloseTo(v, 4));
    expect(keepTopScores(l1, 2)).toEqual([0, 1]);
    expect(keepTopScores(l1, 1)).toEqual([1]);
    expect(keepTopScores(l2, 1)).toEqual([0]);
  });

  it('sums a trunk channel over all its producer convs (stem, and both blocks\' conv2 in basic nets)', async () => {
    const a = initParamArrays(spec, 3);
    const trunk = group('trunk1');
    const producers = ['conv1.weight', 'layer1.0.conv2.weight', 'layer1.1.conv2.weight'];
    // Independent: walk each producer by explicit (kh, kw, in) indices.
    const l1 = new Float64Array(4);
    const sq = new Float64Array(4);
    for (const name of producers) {
      const [kh, kw, cin, cout] = shapes.get(name)!;
      const w = a.get(name)!;
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          for (let i = 0; i < cin; i++)
            for (let j = 0; j < cout; j++) {
              const v = w[((y * kw + x) * cin + i) * cout + j];
              l1[j] += Math.abs(v);
              sq[j] += v * v;
            }
    }
    const s1 = (await scoreWith('l1', a, [trunk])).get('trunk1')!;
    const s2 = (await scoreWith('l2', a, [trunk])).get('trunk1')!;
    for (let j = 0; j < 4; j++) {
      expect(s1[j]).toBeCloseTo(l1[j], 3);
      expect(s2[j]).toBeCloseTo(Math.sqrt(sq[j]), 4);
    }
  });
});

describe('BatchNorm scale', () => {
  it('is |gamma| of the producing BN, summed over a trunk\'s producer BNs', async () => {
    const a = initParamArrays(spec, 1);
    a.set('layer1.0.bn1.weight', Float32Array.from([0.5, -2, 0, 1]));
    a.set('bn1.weight', Float32Array.from([1, -1, 0.25, 0]));
    a.set('layer1.0.bn2.weight', Float32Array.from([0, 0.5, -0.25, 0]));
    a.set('layer1.1.bn2.weight', Float32Array.from([2, 0, 0, -0.125]));
    const s = await scoreWith('bn-scale', a, [group('layer1.0.conv1'), group('trunk1')]);
    expect(Array.from(s.get('layer1.0.conv1')!)).toEqual([0.5, 2, 0, 1]);
    expect(Array.from(s.get('trunk1')!)).toEqual([3, 1.5, 0.5, 0.125]);
  });
});

describe('FPGM', () => {
  it('scores the summed distance to the other filters: the one nearest the geometric median is lowest', async () => {
    // Filters in the plane of two weights: F0 = (0,0), F1 = (2,0), F2 = (0,1), F3 = (4,4).
    const a = initParamArrays(spec, 1);
    const pts = [
      [0, 0],
      [2, 0],
      [0, 1],
      [4, 4],
    ];
    pts.forEach(([u, v], j) => setFilter(a, 'layer1.0.conv1.weight', j, filterOf(FILTER, { 0: u, 7: v })));
    const d = (p: number[], q: number[]) => Math.hypot(p[0] - q[0], p[1] - q[1]);
    const expected = pts.map((p) => pts.reduce((s, q) => s + d(p, q), 0));
    // By hand: F0 2 + 1 + √32 = 8.657, F1 2 + √5 + √20 = 8.708, F2 1 + √5 + 5 = 8.236, F3 √32 + √20 + 5 = 15.13.
    expect(expected[2]).toBeCloseTo(8.236, 3);
    const s = (await scoreWith('fpgm', a, [group('layer1.0.conv1')])).get('layer1.0.conv1')!;
    expected.forEach((v, j) => expect(s[j]).toBeCloseTo(v, 4));
    expect(keepTopScores(s, 3)).toEqual([0, 1, 3]); // F2 goes first
  });
});

describe('COP (weights)', () => {
  // F0 = e0, F1 = 3·e0 (a duplicate up to scale), F2 = e1, F3 = (e1 + e2): cos(F2, F3) = 1/√2, others 0.
  function arrays(): ParamArrays {
    const a = initParamArrays(spec, 5);
    setFilter(a, 'layer1.0.conv1.weight', 0, filterOf(FILTER, { 0: 1 }));
    setFilter(a, 'layer1.0.conv1.weight', 1, filterOf(FILTER, { 0: 3 }));
    setFilter(a, 'layer1.0.conv1.weight', 2, filterOf(FILTER, { 1: 1 }));
    setFilter(a, 'layer1.0.conv1.weight', 3, filterOf(FILTER, { 1: 1, 2: 1 }));
    return a;
  }
  const g1 = () => group('layer1.0.conv1');

  it('makes a duplicated filter the most redundant (importance 1 - r, r = top-k |cos| / max off-diagonal)', async () => {
    const s = (await scoreWith('cop', arrays(), [g1()])).get('layer1.0.conv1')!;
    const c = 1 - Math.SQRT1_2;
    [0, 0, c, c].forEach((v, j) => expect(s[j]).toBeCloseTo(v, 5));
    const k2 = (await scoreWith('cop', arrays(), [g1()], { options: { topK: 2 } })).get('layer1.0.conv1')!;
    // Top-2 means: F0, F1: (1 + 0) / 2; F2, F3: (1/√2 + 0) / 2.
    [0.5, 0.5, 1 - Math.SQRT1_2 / 2, 1 - Math.SQRT1_2 / 2].forEach((v, j) => expect(k2[j]).toBeCloseTo(v, 5));
  });

  it('beta and gamma lower the scores of expensive layers by the documented log-cost terms', async () => {
    const g3 = group('layer3.0.conv1');
    // By hand (64x32 input: stem 32x16, pool 16x8, layer2 8x4, layer3 4x2):
    // layer1.0.conv1 group: conv1 16·8·4·4·9 + conv2 16·8·4·4·9 = 36864 MACs, 144 + 144 params.
    // layer3.0.conv1 group: conv1 (stride 2) 4·2·16·8·9 + conv2 4·2·16·16·9 = 27648 MACs, 1152 + 2304 params.
    // So layer 1 is the costlier in MACs, layer 3 in parameters: beta and gamma pull opposite ways.
    const c1 = 2 * 16 * 8 * 4 * 4 * 9;
    const c3 = 4 * 2 * 16 * 8 * 9 + 4 * 2 * 16 * 16 * 9;
    const p1 = 288;
    const p3 = 1152 + 2304;
    const base = await scoreWith('cop', arrays(), [g1(), g3]);
    const faster = await scoreWith('cop', arrays(), [g1(), g3], { options: { beta: 50 } });
    const smaller = await scoreWith('cop', arrays(), [g1(), g3], { options: { gamma: 10, alpha: 1 } });
    const bonusC = 50 * (1 - Math.log2(c3) / Math.log2(c1)); // layer 3's bonus; layer 1 (max MACs) gets none
    const bonusP = 10 * (1 - Math.log2(p1) / Math.log2(p3)); // layer 1's bonus; layer 3 (max params) gets none
    expect(bonusC).toBeGreaterThan(1);
    expect(bonusP).toBeGreaterThan(1);
    for (let j = 0; j < 4; j++) {
      expect(faster.get('layer1.0.conv1')![j]).toBeCloseTo(base.get('layer1.0.conv1')![j], 6);
      expect(smaller.get('layer1.0.conv1')![j] - base.get('layer1.0.conv1')![j]).toBeCloseTo(bonusP, 4);
    }
    for (let j = 0; j < 16; j++) {
      expect(faster.get('layer3.0.conv1')![j] - base.get('layer3.0.conv1')![j]).toBeCloseTo(bonusC, 4);
      expect(smaller.get('layer3.0.conv1')![j]).toBeCloseTo(base.get('layer3.0.conv1')![j], 6);
    }
    // Globally, without cost terms the duplicated layer-1 filters are the least important of all;
    // a bonus above 1 (≥ any redundancy term α(1 − r)) puts the whole cheaper layer above the costlier one.
    const all = (m: Map<string, Float32Array>) => [...m.get('layer1.0.conv1')!].map((v) => ({ g: 1, v })).concat([...m.get('layer3.0.conv1')!].map((v) => ({ g: 3, v })));
    const lowest = (m: Map<string, Float32Array>, n: number) => all(m).sort((a, b) => a.v - b.v).slice(0, n).map((e) => e.g);
    expect(lowest(base, 2)).toEqual([1, 1]);
    expect(lowest(base, 16).some((g) => g === 1)).toBe(true);
    expect(lowest(faster, 4)).toEqual([1, 1, 1, 1]); // "faster": prune the MAC-heavy layer first
    expect(lowest(smaller, 16).every((g) => g === 3)).toBe(true); // "smaller": prune the parameter-heavy layer first
  });

  it('rejects bad options and asks for data when told to use activations', async () => {
    const a = arrays();
    await expect(scoreWith('cop', a, [g1()], { options: { alpha: -1 } })).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument') && /alpha/.test((e as Error).message));
    await expect(scoreWith('cop', a, [g1()], { options: { source: 'activations' } })).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument'));
  });
});

describe('Random', () => {
  it('is seeded, uniform in [0, 1), and a group\'s scores do not depend on the other groups', async () => {
    const a = initParamArrays(spec, 1);
    const g = [group('layer1.0.conv1'), group('layer4.1.conv1')];
    const s1 = await scoreWith('random', a, g);
    const s2 = await scoreWith('random', a, [g[1]]);
    const s3 = await scoreWith('random', a, g, { seed: 8 });
    expect(Array.from(s2.get('layer4.1.conv1')!)).toEqual(Array.from(s1.get('layer4.1.conv1')!));
    expect(Array.from(s3.get('layer4.1.conv1')!)).not.toEqual(Array.from(s1.get('layer4.1.conv1')!));
    const v = s1.get('layer4.1.conv1')!;
    expect(v.length).toBe(32);
    expect(v.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(v).size).toBe(32);
  });
});

describe('registry', () => {
  it('maps every criterion id to its criterion, with the UI texts filled in', () => {
    for (const [id, c] of Object.entries(CRITERIA)) {
      expect(c.id).toBe(id);
      expect(getCriterion(id)).toBe(c);
      expect(c.name.length).toBeGreaterThan(2);
      expect(c.explanation.length).toBeGreaterThan(100);
      expect(c.formula.length).toBeGreaterThan(5);
      expect(c.globalNormalisation.length).toBeGreaterThan(3);
    }
    expect(getCriterion('taylor').globalNormalisation).toBe('l2 per layer');
    expect(getCriterion('cop').globalNormalisation).toBe('max off-diagonal correlation');
    expect(typeof getCriterion('thinet').reconstruct).toBe('function');
    expect(typeof getCriterion('channel-pruning').reconstruct).toBe('function');
    expect(() => getCriterion('magnitude')).toThrow(/Unknown pruning criterion "magnitude"/);
  });

  it('refuses groups computed for another model', async () => {
    const other = dependencyGroups(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 })).find((g) => g.id === 'layer1.0.conv1')!;
    for (const id of ['l1', 'l2', 'fpgm', 'bn-scale', 'cop'] as const) {
      await expect(scoreWith(id, initParamArrays(spec, 1), [other])).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument'));
    }
  });

  it('weight criteria leave no tensors behind on every group of the net', async () => {
    const a = initParamArrays(spec, 2);
    const groups = dependencyGroups(spec);
    for (const id of ['random', 'l1', 'l2', 'bn-scale', 'fpgm', 'cop'] as const) {
      const s = await scoreWith(id, a, groups); // scoreWith asserts the tensor count
      expect([...s.keys()]).toEqual(groups.map((g) => g.id));
      for (const g of groups) expect(s.get(g.id)!.length).toBe(g.channels);
    }
  });
});

describe('linalg', () => {
  it('solves SPD normal equations by Cholesky', () => {
    // [[4, 2], [2, 3]] x = [2, 1]  ->  x = [(3·2 − 2·1)/8, (4·1 − 2·2)/8] = [0.5, 0].
    const x = solveNormalEquations(Float64Array.from([4, 2, 2, 3]), 2, Float64Array.from([2, 1]), 1, 0);
    expect(x[0]).toBeCloseTo(0.5, 12);
    expect(Math.abs(x[1])).toBeLessThan(1e-12);
    const l = cholesky(Float64Array.from([4, 2, 2, 3]), 2)!;
    expect(Array.from(l)).toEqual([2, 0, 1, Math.SQRT2]);
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
    // A random SPD system with 3 right-hand sides: A X = B.
    const rng = new Prng(3);
    const n = 7;
    const m = Array.from({ length: n * n }, () => rng.normal());
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += m[i * n + k] * m[j * n + k];
    const b = Float64Array.from({ length: n * 3 }, () => rng.normal());
    const sol = solveNormalEquations(a, n, b, 3, 0);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * sol[k * 3 + c];
        expect(s).toBeCloseTo(b[i * 3 + c], 8);
      }
  });
});
