/**
 * Helpers for the pruning-strategy tests: tiny models, and small weight-norm criteria computed
 * here (independently of src/engine/prune/criteria/) so the strategies can be tested on their
 * own.
 */
import * as tf from '@tensorflow/tfjs';
import { buildSpec, type Depth } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { listParams } from '../../src/engine/model/names';
import type { Criterion, CriterionId, GroupScores } from '../../src/engine/prune/criterion';
import { producerConvs } from '../../src/engine/prune/groups';
import { Prng } from '../../src/engine/util/prng';

export const H = 64;
export const W = 32;

export function tinyModel(depth: Depth = 18, seed = 1, width = 0.125): ReidModel {
  return ReidModel.init(buildSpec({ depth, widthMultiplier: width, inputHeight: H, inputWidth: W }), seed);
}

/** Per output channel of a conv weight [kh, kw, in, out]: sum of |w|^p over the filter. */
export function filterSums(w: Float32Array, outC: number, p: 1 | 2): Float64Array {
  const s = new Float64Array(outC);
  for (let i = 0; i < w.length; i++) s[i % outC] += p === 1 ? Math.abs(w[i]) : w[i] * w[i];
  return s;
}

/** A weight-norm criterion (l1 or l2 over every producer conv's filter), written for the tests. */
export function normCriterion(p: 1 | 2, id: CriterionId = p === 1 ? 'l1' : 'l2'): Criterion {
  return {
    id,
    name: `test l${p}`,
    needs: 'weights',
    explanation: 'test',
    formula: 'test',
    globalNormalisation: 'none',
    async score(ctx) {
      const arrays = await ctx.model.toArrays();
      const shapes = new Map(listParams(ctx.model.spec).map((q) => [q.name, q.shape]));
      const out: GroupScores = new Map();
      for (const g of ctx.groups) {
        const s = new Float64Array(g.channels);
        for (const name of producerConvs(g)) {
          const f = filterSums(arrays.get(name)!, shapes.get(name)![3], p);
          for (let j = 0; j < g.channels; j++) s[j] += f[j];
        }
        out.set(g.id, Float32Array.from(p === 2 ? s.map(Math.sqrt) : s));
      }
      return out;
    },
  };
}

export function randomInput(n: number, seed: number): tf.Tensor4D {
  const rng = new Prng(seed);
  const v = new Float32Array(n * H * W * 3);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal(0, 1);
  return tf.tensor4d(v, [n, H, W, 3]);
}

/** Max |a - b| / max |b|. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}
