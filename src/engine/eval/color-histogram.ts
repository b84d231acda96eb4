/**
 * The colour baseline: how far colour alone gets on a ReID dataset. Each image is described by
 * joint HSV histograms of its upper and lower halves (L1-normalised per half, square-rooted so
 * that large uniform background regions do not swamp the clothing colours, i.e. the Hellinger
 * embedding; then concatenated), compared with Euclidean distance and scored with the Market-1501 protocol. SynthReID uses it
 * to measure (not assume) that its outfit families defeat colour matching.
 */
import type { ReidDataset, ReidSplit } from '../data/types';
import { LabError } from '../errors';
import { distanceMatrix, type FeatureMatrix } from './distance';
import { evaluateRanking, type RankingResult } from './ranking';

export interface ColorHistogramOptions {
  /** Bins for hue, saturation, value (default 16, 4, 4). */
  bins?: readonly [number, number, number];
}

/** HSV of an RGB byte triple, each in [0, 1) (hue) or [0, 1]. */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const v = max / 255;
  const c = max - min;
  const s = max === 0 ? 0 : c / max;
  let h = 0;
  if (c > 0) {
    if (max === r) h = ((g - b) / c + 6) % 6;
    else if (max === g) h = (b - r) / c + 2;
    else h = (r - g) / c + 4;
    h /= 6;
  }
  return [h, s, v];
}

/** Below this value (brightness), hue is treated as undefined. */
const ACHROMATIC_VALUE = 0.15;

function binOf(x: number, n: number): number {
  const b = Math.floor(x * n);
  return b >= n ? n - 1 : b < 0 ? 0 : b;
}

/** Features [count, 2 * hBins * sBins * vBins]: sqrt of the upper-half histogram, then of the lower half. */
export function colorHistogramFeatures(split: ReidSplit, options: ColorHistogramOptions = {}): FeatureMatrix {
  const [hb, sb, vb] = options.bins ?? [16, 4, 4];
  if (![hb, sb, vb].every((n) => Number.isInteger(n) && n >= 1 && n <= 64)) {
    throw new LabError('bad-argument', `Histogram bins must be whole numbers from 1 to 64; got ${hb}, ${sb}, ${vb}.`);
  }
  const per = hb * sb * vb;
  const dim = 2 * per;
  const { height: h, width: w, count } = split;
  const data = new Float32Array(count * dim);
  const half = Math.floor(h / 2);
  const size = h * w * 3;
  for (let i = 0; i < count; i++) {
    const img = split.images.subarray(i * size, (i + 1) * size);
    const base = i * dim;
    for (let y = 0; y < h; y++) {
      const part = y < half ? 0 : per;
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const [hh, ss, vv] = rgbToHsv(img[o], img[o + 1], img[o + 2]);
        const sBin = binOf(ss, sb);
        // Hue is meaningless for near-grey or near-black pixels (a white-balance cast decides
        // it): those pixels share hue bin 0 instead of scattering over the hue bins.
        const hBin = sBin === 0 || vv < ACHROMATIC_VALUE ? 0 : binOf(hh, hb);
        data[base + part + (hBin * sb + sBin) * vb + binOf(vv, vb)] += 1;
      }
    }
    const nUpper = half * w;
    const nLower = (h - half) * w;
    for (let k = 0; k < per; k++) {
      data[base + k] = Math.sqrt(data[base + k] / nUpper);
      data[base + per + k] = Math.sqrt(data[base + per + k] / nLower);
    }
  }
  return { data, rows: count, dim };
}

export interface ColorBaselineResult {
  ranking: RankingResult;
  rank1: number;
  mAP: number;
}

/** Score the colour baseline on a dataset's query/gallery split (Market-1501 protocol). */
export async function evaluateColorHistogram(dataset: ReidDataset, options: ColorHistogramOptions = {}): Promise<ColorBaselineResult> {
  const q = colorHistogramFeatures(dataset.query, options);
  const g = colorHistogramFeatures(dataset.gallery, options);
  const distmat = await distanceMatrix(q, g, { metric: 'euclidean', impl: 'js' });
  const ranking = evaluateRanking({
    distmat,
    queryIds: dataset.query.pids,
    galleryIds: dataset.gallery.pids,
    queryCams: dataset.query.camids,
    galleryCams: dataset.gallery.camids,
    maxRank: 50,
  });
  return { ranking, rank1: ranking.cmc[0], mAP: ranking.mAP };
}
