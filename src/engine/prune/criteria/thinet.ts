/**
 * ThiNet (Luo, Wu & Lin, ICCV 2017): prune layer i's channels by what layer i+1 needs. On sampled
 * data, the next conv's output is a sum of per-channel contributions; ThiNet greedily removes the
 * channel whose removal adds the least squared error to that output, again and again, then
 * rescales the kept channels' weights in the next conv by least squares so the output is
 * reconstructed as well as possible.
 *
 * Here (consumer-samples.ts): for an inner group, Z_c = channel c's contribution to the consumer
 * conv's output at the sampled locations (option "locations" per image, default 10) and output
 * channels (option "outputs", default 32 random output channels per batch; ThiNet samples one
 * per location), and G its Gram matrix. Greedy: T = ∅; repeatedly add to T the channel
 * c minimising ‖Σ_{t∈T∪{c}} Z_t‖² = 1ᵀG_{T∪c}1 (ties: lower index), until every channel is
 * ordered. Score = (position in that removal order + 1) / C, so the first removed scores 1/C and
 * the last 1: only the order within a layer carries meaning, and a global ranking over these
 * scores amounts to one rate for every layer.
 *
 * reconstruct: per pruned inner group, ThiNet's per-channel scale w = argmin ‖Y − Σ_{c∈S} w_c Z_c‖²
 * (Y = Σ_c Z_c, the unpruned output) from the normal equations G_SS w = (G 1)_S with a small
 * relative ridge (option "ridge", default 1e-6 of the mean diagonal), solved by Cholesky
 * (linalg.ts). The consumer conv's input slice c is multiplied by w_c for kept channels and set to
 * zero for dropped ones, so both the masked and the physically pruned model use the rescaled
 * weights. Inner groups only: trunk and stem groups get a LabError (consumer-samples.ts).
 */
import type { ParamArrays } from '../../model/init';
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import type { KeepSets } from '../keep-set';
import { checkScores, numberOption } from './context';
import { requireData, sampleImages } from './activations';
import { contributionGrams, innerConsumer, type ConsumerConv } from './consumer-samples';
import { matVec, solveNormalEquations, subMatrix } from './linalg';

const NAME = 'ThiNet';

/** Greedy removal order minimising the accumulated reconstruction error 1ᵀG_T1. */
export function thinetRemovalOrder(gram: Float64Array, c: number): number[] {
  const removed: number[] = [];
  const inT = new Array<boolean>(c).fill(false);
  // cross[j] = Σ_{t∈T} G[t, j]: adding j raises the error by 2·cross[j] + G[j, j].
  const cross = new Float64Array(c);
  for (let step = 0; step < c; step++) {
    let best = -1;
    let bestCost = Infinity;
    for (let j = 0; j < c; j++) {
      if (inT[j]) continue;
      const cost = 2 * cross[j] + gram[j * c + j];
      if (cost < bestCost) {
        bestCost = cost;
        best = j;
      }
    }
    inT[best] = true;
    removed.push(best);
    for (let j = 0; j < c; j++) cross[j] += gram[best * c + j];
  }
  return removed;
}

/** Per-kept-channel scales w = argmin ‖Σ_c Z_c − Σ_{s∈S} w_s Z_s‖² (normal equations, ridge). */
export function thinetScales(gram: Float64Array, c: number, kept: readonly number[], ridge: number): Float64Array {
  const rhs = matVec(gram, c, new Float64Array(c).fill(1));
  return solveNormalEquations(subMatrix(gram, c, kept, kept), kept.length, Float64Array.from(kept, (s) => rhs[s]), 1, ridge);
}

function options(ctx: CriterionContext) {
  return {
    locations: numberOption(ctx, NAME, 'locations', 10, { integer: true, min: 1 }),
    outputs: numberOption(ctx, NAME, 'outputs', 32, { integer: true, min: 1 }),
    ridge: numberOption(ctx, NAME, 'ridge', 1e-6, { min: 0 }),
  };
}

async function grams(ctx: CriterionContext, consumers: ConsumerConv[], locations: number, outputs: number) {
  const data = requireData(ctx, NAME);
  return contributionGrams(ctx, consumers, sampleImages(data.split, data, ctx.seed), data.batchSize, locations, outputs, NAME);
}

export const thinet: Criterion = {
  id: 'thinet',
  name: NAME,
  needs: 'data',
  explanation:
    "Judges a layer's channels by what the next layer needs. On sampled images it measures each channel's contribution to the next conv's output, then greedily removes the channel whose loss changes that output least, and repeats. After the cut it rescales the remaining channels' weights in the next conv by least squares, so the next layer's output is reconstructed as closely as possible before any fine-tuning. It works on a block's inner channels only.",
  formula: 'T ← T ∪ argmin_c ‖Σ_{t∈T∪{c}} Z_t‖²  (Z_c: channel c\'s contribution to the next conv\'s output);  then ŵ = argmin_w ‖Y − Σ_{c∈S} w_c Z_c‖²',
  globalNormalisation: 'removal rank / channels (local order only; a global ranking gives every layer the same rate)',
  async score(ctx: CriterionContext): Promise<GroupScores> {
    const consumers = ctx.groups.map((g) => innerConsumer(ctx, g, NAME));
    const { locations, outputs } = options(ctx);
    const g = await grams(ctx, consumers, locations, outputs);
    const out: GroupScores = new Map();
    for (const c of consumers) {
      const order = thinetRemovalOrder(g.get(c.group.id)!, c.channels);
      const s = new Float32Array(c.channels);
      order.forEach((ch, pos) => (s[ch] = (pos + 1) / c.channels));
      out.set(c.group.id, checkScores(c.group, s));
    }
    return out;
  },
  async reconstruct(ctx: CriterionContext, keep: KeepSets): Promise<ParamArrays> {
    const { locations, outputs, ridge } = options(ctx);
    const targets = ctx.groups.filter((g) => keep.has(g.id) && keep.get(g.id)!.length < g.channels);
    const consumers = targets.map((g) => innerConsumer(ctx, g, NAME));
    const out: ParamArrays = new Map();
    if (consumers.length === 0) return out;
    const g = await grams(ctx, consumers, locations, outputs);
    for (const c of consumers) {
      const kept = keep.get(c.group.id)!;
      const w = thinetScales(g.get(c.group.id)!, c.channels, kept, ridge);
      const scale = new Float32Array(c.channels);
      kept.forEach((ch, i) => (scale[ch] = w[i]));
      const weights = new Float32Array(await ctx.model.params.get(c.param)!.data());
      // Row-major [k, k, C, O]: input channel ch of every (kh, kw) row.
      const rows = weights.length / (c.channels * c.outputs);
      for (let r = 0; r < rows; r++) {
        for (let ch = 0; ch < c.channels; ch++) {
          const base = (r * c.channels + ch) * c.outputs;
          for (let o = 0; o < c.outputs; o++) weights[base + o] *= scale[ch];
        }
      }
      out.set(c.param, weights);
    }
    return out;
  },
};
