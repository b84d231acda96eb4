/**
 * Channel pruning, He, Zhang & Sun, "Channel Pruning for Accelerating Very Deep Neural Networks"
 * (ICCV 2017). Two steps per layer: (1) LASSO regression on one coefficient β_c per input channel
 * of the next conv, so that Σ_c β_c Z_c reconstructs that conv's output with as few channels as
 * possible (channels whose β goes to zero are pruned); (2) least squares on the next conv's
 * weights for the kept channels, so the output is reconstructed as well as the kept inputs allow.
 *
 * Scores (consumer-samples.ts for Z and G): with G normalised by its mean diagonal and b = G·1,
 * minimise ½βᵀGβ − bᵀβ + λ‖β‖₁ (i.e. ½‖Y − Σ β_c Z_c‖² + λ‖β‖₁, Y = Σ_c Z_c) by coordinate
 * descent along a path of λ rising geometrically from 10⁻³·λ_max to λ_max = max_c |b_c| (where
 * every β is 0), warm-started (option "lambdaSteps", default 50). He et al. raise λ until the
 * wanted number of channels is left; a score must rank every channel for any rate, so a channel
 * scores how far along the path it survives: (k_c + 1 + |β_c|/(1 + |β_c|)) / (steps + 1), k_c the
 * last step with β_c ≠ 0 (ties broken by |β_c| there); never non-zero scores 0. Keeping the top
 * n channels is then the LASSO's own choice at the λ where n channels remain (when the path is
 * monotone, as it nearly always is). Samples: option "locations" per image (default 10, as in
 * the paper); the LASSO's Gram uses option "outputs" random output channels per batch (default
 * 32; He et al. use all, which costs minutes at full width), the least squares all of them.
 *
 * reconstruct: per pruned inner group, W′ = argmin ‖Y − X_S W′‖² over all the consumer's input
 * weights of the kept channels (X_S: the kept channels' patches, Y = X W the unpruned output),
 * from the normal equations (X_Sᵀ X_S + ridge) W′ = X_Sᵀ Y (option "ridge", default 1e-6 of the
 * mean diagonal), solved by Cholesky (linalg.ts), accumulated over the sampled patches. Dropped
 * input slices are set to zero. Inner groups only (trunk and stem: LabError).
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamArrays } from '../../model/init';
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import type { KeepSets } from '../keep-set';
import { checkCancelled, checkScores, numberOption } from './context';
import { requireData, sampleImages } from './activations';
import { contributionGrams, forEachPatchBatch, innerConsumer, type ConsumerConv } from './consumer-samples';
import { matVec, solveNormalEquations } from './linalg';

const NAME = 'Channel pruning (He et al.)';

function softThreshold(x: number, t: number): number {
  return x > t ? x - t : x < -t ? x + t : 0;
}

/** Scores from the LASSO path on the contribution Gram matrix (see the file comment). */
export function lassoPathScores(gram: Float64Array, c: number, steps: number): Float32Array {
  const out = new Float32Array(c);
  let mean = 0;
  for (let i = 0; i < c; i++) mean += gram[i * c + i] / c;
  if (!(mean > 0)) return out;
  const g = gram.map((v) => v / mean);
  const b = matVec(g, c, new Float64Array(c).fill(1));
  const lmax = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (!(lmax > 0)) return out;
  const beta = new Float64Array(c);
  const q = new Float64Array(c); // q = G β
  const last = new Int32Array(c).fill(-1);
  const lastBeta = new Float64Array(c);
  const active: number[] = [];
  /** One coordinate-descent pass over `js`; returns the largest scaled change. */
  const pass = (js: Iterable<number>, lambda: number): number => {
    let change = 0;
    for (const j of js) {
      const gjj = g[j * c + j];
      if (!(gjj > 1e-12)) continue; // a channel that contributes nothing stays at 0
      const rho = b[j] - q[j] + gjj * beta[j];
      const next = softThreshold(rho, lambda) / gjj;
      const delta = next - beta[j];
      if (delta === 0) continue;
      beta[j] = next;
      for (let i = 0; i < c; i++) q[i] += delta * g[i * c + j];
      change = Math.max(change, Math.abs(delta) * Math.sqrt(gjj));
    }
    return change;
  };
  const all = Array.from({ length: c }, (_, j) => j);
  for (let k = 0; k < steps; k++) {
    const lambda = lmax * Math.pow(10, -3 + (3 * k) / Math.max(1, steps - 1));
    // Warm-started from the previous λ. Active-set iterations: sweep the non-zero coefficients
    // until they settle, then one full sweep to let others enter; the caps bound the worst case.
    for (let outer = 0; outer < 50; outer++) {
      active.length = 0;
      for (let j = 0; j < c; j++) if (beta[j] !== 0) active.push(j);
      for (let inner = 0; inner < 100; inner++) if (pass(active, lambda) < 1e-6) break;
      if (pass(all, lambda) < 1e-6) break;
    }
    for (let j = 0; j < c; j++) {
      if (beta[j] !== 0) {
        last[j] = k;
        lastBeta[j] = Math.abs(beta[j]);
      }
    }
  }
  for (let j = 0; j < c; j++) out[j] = last[j] < 0 ? 0 : (last[j] + 1 + lastBeta[j] / (1 + lastBeta[j])) / (steps + 1);
  return out;
}

function options(ctx: CriterionContext) {
  return {
    locations: numberOption(ctx, NAME, 'locations', 10, { integer: true, min: 1 }),
    outputs: numberOption(ctx, NAME, 'outputs', 32, { integer: true, min: 1 }),
    ridge: numberOption(ctx, NAME, 'ridge', 1e-6, { min: 0 }),
    steps: numberOption(ctx, NAME, 'lambdaSteps', 50, { integer: true, min: 2, max: 1000 }),
  };
}

/** Accumulate X_Sᵀ X_S and X_Sᵀ Y over the sampled patches and solve for the kept weights. */
async function leastSquaresWeights(ctx: CriterionContext, consumers: ConsumerConv[], keep: KeepSets, locations: number, ridge: number): Promise<ParamArrays> {
  const data = requireData(ctx, NAME);
  const images = sampleImages(data.split, data, ctx.seed);
  const acc = new Map<string, { cols: number[]; w: Float32Array; a: Float64Array; b: Float64Array }>();
  for (const c of consumers) {
    const kept = keep.get(c.group.id)!;
    const cols: number[] = [];
    for (let k = 0; k < c.k * c.k; k++) for (const s of kept) cols.push(k * c.channels + s);
    const w = new Float32Array(await ctx.model.params.get(c.param)!.data());
    acc.set(c.group.id, { cols, w, a: new Float64Array(cols.length * cols.length), b: new Float64Array(cols.length * c.outputs) });
  }
  await forEachPatchBatch(ctx, consumers, images, data.batchSize, locations, NAME, async (c, patches, n) => {
    const s = acc.get(c.group.id)!;
    const width = c.k * c.k * c.channels;
    const [ata, aty] = tf.tidy(() => {
      const x = tf.tensor2d(patches, [n, width]);
      const y = tf.matMul(x, tf.tensor2d(s.w, [width, c.outputs]));
      const xs = tf.gather(x, tf.tensor1d(s.cols, 'int32'), 1);
      // An explicit transpose: wasm's matMul with transposeA was 8x slower (measured).
      const xst = tf.transpose(xs);
      return [tf.matMul(xst, xs), tf.matMul(xst, y)];
    });
    try {
      const [da, db] = await Promise.all([ata.data(), aty.data()]);
      for (let i = 0; i < da.length; i++) s.a[i] += da[i];
      for (let i = 0; i < db.length; i++) s.b[i] += db[i];
    } finally {
      ata.dispose();
      aty.dispose();
    }
  });
  const out: ParamArrays = new Map();
  for (const [i, c] of consumers.entries()) {
    checkCancelled(ctx, NAME);
    const s = acc.get(c.group.id)!;
    const solved = solveNormalEquations(s.a, s.cols.length, s.b, c.outputs, ridge);
    const weights = new Float32Array(s.w.length); // dropped input slices stay 0
    s.cols.forEach((col, i) => {
      for (let o = 0; o < c.outputs; o++) weights[col * c.outputs + o] = solved[i * c.outputs + o];
    });
    out.set(c.param, weights);
    ctx.onProgress?.((i + 1) / consumers.length, `${NAME}: refitted ${c.param}`);
  }
  return out;
}

export const channelPruning: Criterion = {
  id: 'channel-pruning',
  name: NAME,
  needs: 'data',
  explanation:
    "Treats pruning as a regression problem on the next layer. On sampled images it asks which input channels of the next conv are needed to reproduce that conv's output: a LASSO penalty drives the coefficients of unneeded channels to exactly zero as its strength grows, and channels that survive the strongest penalty rank highest. After the cut, the next conv's weights for the kept channels are refitted by least squares, so the block's output is rebuilt before fine-tuning. It works on a block's inner channels only.",
  formula: 'β̂(λ) = argmin_β ½‖Y − Σ_c β_c Z_c‖² + λ‖β‖₁;  W′ = argmin_W ‖Y − X_S W‖²',
  globalNormalisation: 'position on the λ path relative to each layer\'s own λ_max (rank locally)',
  async score(ctx: CriterionContext): Promise<GroupScores> {
    const consumers = ctx.groups.map((g) => innerConsumer(ctx, g, NAME));
    const { locations, outputs, steps } = options(ctx);
    const data = requireData(ctx, NAME);
    const g = await contributionGrams(ctx, consumers, sampleImages(data.split, data, ctx.seed), data.batchSize, locations, outputs, NAME);
    const out: GroupScores = new Map();
    consumers.forEach((c, i) => {
      checkCancelled(ctx, NAME);
      out.set(c.group.id, checkScores(c.group, lassoPathScores(g.get(c.group.id)!, c.channels, steps)));
      ctx.onProgress?.((i + 1) / consumers.length, `${NAME}: LASSO path of ${c.group.id}`);
    });
    return out;
  },
  async reconstruct(ctx: CriterionContext, keep: KeepSets): Promise<ParamArrays> {
    const { locations, ridge } = options(ctx);
    const targets = ctx.groups.filter((g) => keep.has(g.id) && keep.get(g.id)!.length < g.channels);
    const consumers = targets.map((g) => innerConsumer(ctx, g, NAME));
    if (consumers.length === 0) return new Map();
    return leastSquaresWeights(ctx, consumers, keep, locations, ridge);
  },
};
