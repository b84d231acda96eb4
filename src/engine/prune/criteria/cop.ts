/**
 * COP, "Customized Deep Model Compression via Regularized Correlation-Based Filter-Level
 * Pruning" (Wang et al., IJCAI 2019). A channel that is strongly correlated with another channel
 * of its layer is redundant: the other can carry its information. COP scores redundancy, makes it
 * comparable across layers, and adds cost terms so the user can steer pruning toward layers that
 * are expensive in computation ("faster") or in parameters ("smaller").
 *
 * Per group (layer l) with C channels:
 * 1. |R|: absolute correlations between channels.
 *    - From activations (the paper's choice), used when data is given: Pearson correlation, over
 *      the images, of the channels' globally average-pooled responses (evaluation-mode forward;
 *      up to batches × batchSize images of the split, seeded). A trunk group has one feature map
 *      per residual add; redundancy (step 2) is computed per site and averaged.
 *    - From weights, when no data is given: cosine similarity of the channels' filters, all
 *      producer convs concatenated (filters.ts).
 *    Option "source": "auto" (default: activations if data is given), "activations", "weights".
 * 2. Normalise |R| by its largest off-diagonal value (so every layer's most correlated pair has
 *    correlation 1 and layers compare globally); redundancy r_j = mean of the k largest
 *    normalised |R_jj'| over j' ≠ j (option "topK", default 1). A channel that is constant over
 *    the images (or has an all-zero filter) carries nothing: r_j = 1. One channel alone: r = 0.
 * 3. importance_j = α (1 − r_j) + β (1 − log2 C_l / max log2 C) + γ (1 − log2 P_l / max log2 P),
 *    maxima over the groups being scored. C_l and P_l are the MACs and parameters of the convs
 *    whose size the group's channel count sets: its producers and its consumers (cost/macs.ts;
 *    the ID classifier excluded), i.e. the compute and the weights its channels' removal thins.
 *    Options alpha (default 1), beta (default 0), gamma (default 0), each ≥ 0: raise beta to
 *    prune expensive-to-compute layers first ("faster"), gamma for parameter-heavy layers
 *    ("smaller"). The layer with the largest cost gets no bonus; cheaper layers are protected.
 */
import { layerCosts } from '../../cost/macs';
import { LabError } from '../../errors';
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { CONV_IN_AXIS, CONV_OUT_AXIS, type DependencyGroup } from '../groups';
import { checkCancelled, checkScores, choiceOption, numberOption } from './context';
import { collectPooledActivations, requireData, sampleImages } from './activations';
import { groupFilters, rowGram } from './filters';

const NAME = 'COP (correlation)';

/** |Pearson correlation| between the columns of x ([n, c] row-major); `dead` marks constant columns. */
export function absCorrelations(x: ArrayLike<number>, n: number, c: number): { r: Float64Array; dead: boolean[] } {
  const cols = Array.from({ length: c }, (_, j) => {
    const v = Float64Array.from({ length: n }, (_, i) => x[i * c + j]);
    const mean = v.reduce((a, b) => a + b, 0) / Math.max(1, n);
    for (let i = 0; i < n; i++) v[i] -= mean;
    return v;
  });
  const gram = new Float64Array(c * c);
  for (let a = 0; a < c; a++) for (let b = a; b < c; b++) gram[a * c + b] = gram[b * c + a] = cols[a].reduce((s, v, i) => s + v * cols[b][i], 0);
  return absCosines(gram, c);
}

/** |cosine similarity| from a Gram matrix; `dead` marks (numerically) zero rows. */
export function absCosines(gram: Float64Array, c: number): { r: Float64Array; dead: boolean[] } {
  const norms = Array.from({ length: c }, (_, i) => Math.sqrt(Math.max(0, gram[i * c + i])));
  const maxNorm = Math.max(0, ...norms);
  // Relative threshold: a row that is zero (or a column constant) up to float32 rounding counts as dead.
  const dead = norms.map((nv) => !(nv > 1e-6 * maxNorm));
  const r = new Float64Array(c * c);
  for (let a = 0; a < c; a++) {
    for (let b = a + 1; b < c; b++) {
      if (dead[a] || dead[b]) continue;
      const v = Math.min(1, Math.abs(gram[a * c + b]) / (norms[a] * norms[b]));
      r[a * c + b] = v;
      r[b * c + a] = v;
    }
  }
  return { r, dead };
}

/** Redundancy r_j: mean of the top-k off-diagonal |R| of row j, after dividing by the largest off-diagonal value. */
export function redundancy(absR: Float64Array, dead: readonly boolean[], c: number, topK: number): Float64Array {
  const out = new Float64Array(c);
  if (c < 2) return out;
  let max = 0;
  for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) if (a !== b) max = Math.max(max, absR[a * c + b]);
  const k = Math.min(topK, c - 1);
  for (let j = 0; j < c; j++) {
    if (dead[j]) {
      out[j] = 1;
      continue;
    }
    if (max === 0) continue;
    const row: number[] = [];
    for (let b = 0; b < c; b++) if (b !== j) row.push(absR[j * c + b] / max);
    row.sort((x, y) => y - x);
    out[j] = row.slice(0, k).reduce((s, v) => s + v, 0) / k;
  }
  return out;
}

/** MACs and parameters of the convs a group's channel count sizes (producers and consumers). */
export function groupCost(group: DependencyGroup, costs: ReadonlyMap<string, { macs: number; params: number }>): { macs: number; params: number } {
  let macs = 0;
  let params = 0;
  for (const m of group.members) {
    const isConv = (m.role === 'producer' && m.axis === CONV_OUT_AXIS) || (m.role === 'consumer' && m.axis === CONV_IN_AXIS && m.param.endsWith('.weight') && !m.param.startsWith('classifier.'));
    if (!isConv) continue;
    const c = costs.get(m.param.slice(0, -'.weight'.length));
    if (!c) continue;
    macs += c.macs;
    params += c.params;
  }
  return { macs, params };
}

export const cop: Criterion = {
  id: 'cop',
  name: NAME,
  needs: 'weights',
  usesDataWhenGiven: true,
  explanation:
    "Looks for channels that duplicate each other. For every layer it measures how strongly each channel is correlated with its most similar neighbour (from the channels' responses to images when data is given, otherwise from their filters), and scales those correlations so that every layer's most correlated pair counts as 1: that makes layers comparable for a single global ranking. Optional cost terms lower the score of channels in layers that cost many operations (beta, 'faster') or many parameters (gamma, 'smaller').",
  formula: 'importance_j = α(1 − r_j) + β(1 − log₂C_l / max log₂C) + γ(1 − log₂P_l / max log₂P),  r_j = mean top-k |corr(j, j′)| / max_{a≠b} |corr(a, b)|',
  globalNormalisation: 'max off-diagonal correlation',
  async score(ctx: CriterionContext): Promise<GroupScores> {
    const alpha = numberOption(ctx, NAME, 'alpha', 1, { min: 0 });
    const beta = numberOption(ctx, NAME, 'beta', 0, { min: 0 });
    const gamma = numberOption(ctx, NAME, 'gamma', 0, { min: 0 });
    const topK = numberOption(ctx, NAME, 'topK', 1, { integer: true, min: 1 });
    const source = choiceOption(ctx, NAME, 'source', ['auto', 'activations', 'weights'] as const, 'auto');
    const useData = source === 'activations' || (source === 'auto' && ctx.data !== undefined);
    if (source === 'activations' && !ctx.data) {
      throw new LabError('bad-argument', `${NAME} was asked for correlations from activations, but no data was given; pass a training split, or use source "weights".`);
    }

    const red = new Map<string, Float64Array>();
    if (useData) {
      const data = requireData(ctx, NAME);
      const pooled = await collectPooledActivations(ctx, ctx.groups, sampleImages(data.split, data, ctx.seed), data.batchSize, NAME);
      for (const g of ctx.groups) {
        const p = pooled.get(g.id)!;
        const r = new Float64Array(g.channels);
        for (const site of p.sites) {
          const { r: absR, dead } = absCorrelations(site, p.n, g.channels);
          redundancy(absR, dead, g.channels, topK).forEach((v, j) => (r[j] += v / p.sites.length));
        }
        red.set(g.id, r);
      }
    } else {
      for (const g of ctx.groups) {
        checkCancelled(ctx, `Scoring with ${NAME}`);
        const { r: absR, dead } = absCosines(await rowGram((await groupFilters(ctx.model, g)).rows), g.channels);
        red.set(g.id, redundancy(absR, dead, g.channels, topK));
      }
    }

    const costs = new Map(layerCosts(ctx.model.spec).map((l) => [l.name, l]));
    const gc = new Map(ctx.groups.map((g) => [g.id, groupCost(g, costs)]));
    const lg = (v: number) => Math.log2(Math.max(1, v));
    const maxC = Math.max(...[...gc.values()].map((c) => lg(c.macs)));
    const maxP = Math.max(...[...gc.values()].map((c) => lg(c.params)));
    const out: GroupScores = new Map();
    for (const g of ctx.groups) {
      const { macs, params } = gc.get(g.id)!;
      const costTerm = beta * (maxC > 0 ? 1 - lg(macs) / maxC : 0) + gamma * (maxP > 0 ? 1 - lg(params) / maxP : 0);
      const r = red.get(g.id)!;
      out.set(g.id, checkScores(g, Float32Array.from(r, (rj) => alpha * (1 - rj) + costTerm)));
    }
    ctx.onProgress?.(1, `${NAME}: done`);
    return out;
  },
};
