/**
 * Luo & Wu, "An Entropy-based Pruning Method for CNN Compression" (2017): a channel whose
 * response hardly varies from image to image carries little information about the input, so it
 * can go. Each channel's feature map is global-average-pooled per image; the n pooled values are
 * histogrammed into m bins and the channel scores the entropy of that histogram:
 * H_j = −Σ_i p_i log p_i (natural log, so 0 ≤ H_j ≤ log m). Higher entropy = keep.
 *
 * Lab choices (the paper leaves them open or they are ours):
 * - m = 10 bins by default (option "bins", 2..1000).
 * - Bins span each channel's own [min, max] over the images (option "range": "channel"), so the
 *   score depends on the shape of the distribution, not its scale; "layer" uses the group's
 *   common [min, max] instead, so a channel that varies little compared with its neighbours
 *   scores low. A channel constant over the images (e.g. a dead ReLU) has entropy 0 either way.
 * - Trunk groups have one feature map per residual add of the chain; the channel's entropy is
 *   averaged over those sites. Images: up to batches × batchSize of the split, seeded.
 * - Evaluation-mode forward (running BatchNorm statistics).
 */
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { checkScores, choiceOption, numberOption } from './context';
import { collectPooledActivations, requireData, sampleImages } from './activations';

const NAME = 'Entropy (Luo & Wu)';

/** Entropy (nats) of the histogram of `values` in `bins` equal bins over [lo, hi]. */
export function histogramEntropy(values: ArrayLike<number>, bins: number, lo: number, hi: number): number {
  const n = values.length;
  if (n === 0 || !(hi > lo)) return 0;
  const counts = new Float64Array(bins);
  const width = (hi - lo) / bins;
  for (let i = 0; i < n; i++) {
    const b = Math.floor((values[i] - lo) / width);
    counts[Math.min(bins - 1, Math.max(0, b))]++;
  }
  let h = 0;
  for (const c of counts) {
    if (c === 0) continue;
    const p = c / n;
    h -= p * Math.log(p);
  }
  return h;
}

/** Per-channel entropies of one site's pooled responses ([n, C] row-major). */
export function siteEntropies(pooled: Float32Array, n: number, channels: number, bins: number, range: 'channel' | 'layer'): Float64Array {
  const column = (j: number) => Float64Array.from({ length: n }, (_, i) => pooled[i * channels + j]);
  const cols = Array.from({ length: channels }, (_, j) => column(j));
  let layerLo = Infinity;
  let layerHi = -Infinity;
  for (const c of cols) for (const v of c) (layerLo = Math.min(layerLo, v)), (layerHi = Math.max(layerHi, v));
  return Float64Array.from(cols, (c) => {
    let lo = layerLo;
    let hi = layerHi;
    if (range === 'channel') {
      lo = Infinity;
      hi = -Infinity;
      for (const v of c) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    }
    return histogramEntropy(c, bins, lo, hi);
  });
}

export const entropy: Criterion = {
  id: 'entropy',
  name: NAME,
  needs: 'data',
  explanation:
    "Runs a batch of images through the network and looks at each channel's average response per image. If that response is nearly the same for every image, the channel tells the next layer little about the input. The criterion histograms the responses and scores the histogram's entropy: spread-out responses mean an informative channel, a constant response (such as a channel that never fires) scores zero.",
  formula: 'v_j(x) = mean over positions of a_j(x);  H_j = −Σ_{i=1..m} p_i log p_i,  p_i = share of images with v_j in bin i',
  globalNormalisation: 'none (0 ≤ H ≤ log m in every layer)',
  async score(ctx: CriterionContext): Promise<GroupScores> {
    const data = requireData(ctx, NAME);
    const bins = numberOption(ctx, NAME, 'bins', 10, { integer: true, min: 2, max: 1000 });
    const range = choiceOption(ctx, NAME, 'range', ['channel', 'layer'] as const, 'channel');
    const images = sampleImages(data.split, data, ctx.seed);
    const pooled = await collectPooledActivations(ctx, ctx.groups, images, data.batchSize, NAME);
    const out: GroupScores = new Map();
    for (const g of ctx.groups) {
      const p = pooled.get(g.id)!;
      const h = new Float64Array(g.channels);
      for (const site of p.sites) siteEntropies(site, p.n, g.channels, bins, range).forEach((v, j) => (h[j] += v / p.sites.length));
      out.set(g.id, checkScores(g, Float32Array.from(h)));
    }
    return out;
  },
};
