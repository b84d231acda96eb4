import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { distanceMatrix, l2Normalize, type FeatureMatrix } from '../../src/engine/eval/distance';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

function random(rows: number, dim: number, seed: number): FeatureMatrix {
  const r = new Prng(seed);
  return { data: Float32Array.from({ length: rows * dim }, () => r.normal()), rows, dim };
}

/** Textbook definitions in float64, one pair at a time. */
function naive(q: FeatureMatrix, g: FeatureMatrix, metric: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < q.rows; i++) {
    for (let j = 0; j < g.rows; j++) {
      let d2 = 0, dot = 0, nq = 0, ng = 0;
      for (let k = 0; k < q.dim; k++) {
        const a = q.data[i * q.dim + k], b = g.data[j * g.dim + k];
        d2 += (a - b) ** 2; dot += a * b; nq += a * a; ng += b * b;
      }
      out.push(metric === 'sqeuclidean' ? d2 : metric === 'euclidean' ? Math.sqrt(d2)
        : nq === 0 || ng === 0 ? 1 : 1 - dot / Math.sqrt(nq * ng));
    }
  }
  return out;
}

describe('distanceMatrix', () => {
  const q = random(7, 13, 1);
  const g = random(11, 13, 2);

  for (const metric of ['sqeuclidean', 'euclidean', 'cosine'] as const) {
    for (const impl of ['tf', 'js'] as const) {
      it(`${metric} (${impl}) matches the textbook definition`, async () => {
        const before = tf.memory().numTensors;
        // chunkRows 3 forces several chunks, one of them partial.
        const d = await distanceMatrix(q, g, { metric, impl, chunkRows: 3 });
        expect(tf.memory().numTensors).toBe(before);
        const want = naive(q, g, metric);
        expect(d.length).toBe(want.length);
        want.forEach((w, i) => expect(d[i]).toBeCloseTo(w, 4));
      });
    }
  }

  it('gives 0 for identical rows (clamped, never negative) and 1 in cosine for a zero row', async () => {
    const a: FeatureMatrix = { data: Float32Array.from([3, 4, 0, 0, 1e3, 1e3 + 1]), rows: 3, dim: 2 };
    const sq = await distanceMatrix(a, a, { metric: 'sqeuclidean' });
    for (let i = 0; i < 3; i++) expect(sq[i * 3 + i]).toBeGreaterThanOrEqual(0);
    expect(sq[0]).toBeCloseTo(0, 6);
    expect(sq[1]).toBeCloseTo(25, 5);
    const cos = await distanceMatrix(a, a, { metric: 'cosine' });
    expect(cos[1 * 3 + 0]).toBe(1);
    expect(cos[0]).toBeCloseTo(0, 6);
  });

  it('handles an empty query set', async () => {
    expect((await distanceMatrix({ data: new Float32Array(0), rows: 0, dim: 4 }, random(3, 4, 1))).length).toBe(0);
  });

  it('rejects mismatched dimensions, wrong sizes and unknown metrics', async () => {
    const cases: [FeatureMatrix, FeatureMatrix, object][] = [
      [random(2, 3, 1), random(2, 4, 1), {}],
      [{ data: new Float32Array(5), rows: 2, dim: 3 }, random(2, 3, 1), {}],
      [random(2, 3, 1), random(2, 3, 1), { metric: 'manhattan' }],
    ];
    for (const [a, b, o] of cases) {
      await expect(distanceMatrix(a, b, o)).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument'));
    }
  });
});

describe('l2Normalize', () => {
  it('scales rows to unit norm, keeps direction, leaves zero rows at zero', () => {
    const m: FeatureMatrix = { data: Float32Array.from([3, 4, 0, 0, -2, 0]), rows: 3, dim: 2 };
    const n = l2Normalize(m);
    expect(Array.from(n.data)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0, -1, 0]);
    expect(Array.from(m.data)).toEqual([3, 4, 0, 0, -2, 0]); // input untouched
  });
});
