/**
 * One call from a model and a dataset to the numbers the lab reports: extract query and gallery
 * features, build the distance matrix, rank under the Market-1501 protocol (ranking.ts).
 * Everything returned is plain numbers, safe to send across the worker boundary.
 */
import { CancelledError, LabError } from '../errors';
import type { ReidSplit } from '../data/types';
import { checkSplitLayout } from '../data/check-split';
import { distanceRowChunks, type DistanceMetric, type FeatureMatrix } from './distance';
import { extractFeatures, type Embedder, type ExtractOptions } from './extract';
import { RankingAccumulator, type ApVariant } from './ranking';
import { bootstrapByIdentity, type BootstrapOptions } from './bootstrap';

export type EvalPhase = 'query' | 'gallery' | 'ranking';

export interface EvaluateOptions extends Omit<ExtractOptions, 'onProgress'> {
  /** Default 'euclidean' (torchreid's default; use 'cosine' with normalize for fast-reid's). */
  metric?: DistanceMetric;
  /** Length of the returned CMC curve (default 50). */
  maxRank?: number;
  apVariant?: ApVariant;
  distanceImpl?: 'tf' | 'js';
  onProgress?: (p: { phase: EvalPhase; done: number; total: number }) => void;
  /** The bootstrap behind `interval` (default: 1000 resamples, seed 1, 95%). */
  bootstrap?: BootstrapOptions;
  /**
   * Where embeddings come from (default: extractFeatures). The worker passes its embedding cache
   * here, so an evaluation of a model state already embedded does not run the network again.
   */
  extract?: (split: ReidSplit, which: 'query' | 'gallery', opts: ExtractOptions) => Promise<FeatureMatrix>;
}

/** A 95% bootstrap interval over query identities (bootstrap.ts), as fractions like the scores. */
export interface ScoreInterval {
  mAP: [number, number];
  rank1: [number, number];
  level: number;
  resamples: number;
  /** Query identities resampled. */
  identities: number;
}

export interface EvaluationResult {
  mAP: number;
  mINP: number;
  rank1: number;
  rank5: number;
  rank10: number;
  /** cmc[k-1]: fraction of valid queries with a match in the top k. */
  cmc: number[];
  numQueries: number;
  numValidQueries: number;
  numGallery: number;
  metric: DistanceMetric;
  apVariant: ApVariant;
  flip: boolean;
  normalize: boolean;
  timingsMs: { extract: number; distance: number; ranking: number };
  interval: ScoreInterval;
}

function checkSplit(split: ReidSplit, what: string): void {
  if (split.count === 0) throw new LabError('bad-dataset', `The ${what} set is empty; evaluation needs at least one ${what} image.`);
  checkSplitLayout(split, what);
}

export async function evaluateModel(
  model: Embedder,
  dataset: { query: ReidSplit; gallery: ReidSplit },
  opts: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const { query, gallery } = dataset;
  checkSplit(query, 'query');
  checkSplit(gallery, 'gallery');
  const maxRank = opts.maxRank ?? 50;
  if (!Number.isInteger(maxRank) || maxRank < 1) {
    throw new LabError('bad-argument', `Expected maxRank to be a positive integer; got ${maxRank}.`);
  }
  const metric = opts.metric ?? 'euclidean';
  const apVariant = opts.apVariant ?? 'non-interpolated';
  const progress = opts.onProgress;

  const t0 = performance.now();
  const extract = opts.extract ?? ((split: ReidSplit, _which: 'query' | 'gallery', o: ExtractOptions) => extractFeatures(model, split, o));
  const qf = await extract(query, 'query', { ...opts, onProgress: (d, t) => progress?.({ phase: 'query', done: d, total: t }) });
  const gf = await extract(gallery, 'gallery', { ...opts, onProgress: (d, t) => progress?.({ phase: 'gallery', done: d, total: t }) });
  const t1 = performance.now();
  // Distances and ranking chunk by chunk: the full matrix is never held (266 MB for Market).
  // Rank to at least 10 so rank-10 is defined whatever CMC length is asked for.
  const acc = new RankingAccumulator({
    queryIds: query.pids,
    queryCams: query.camids,
    galleryIds: gallery.pids,
    galleryCams: gallery.camids,
    maxRank: Math.max(maxRank, 10),
    apVariant,
  });
  let tDistance = 0;
  let tMark = performance.now();
  for await (const chunk of distanceRowChunks(qf, gf, { metric, impl: opts.distanceImpl })) {
    const t = performance.now();
    tDistance += t - tMark;
    if (opts.shouldCancel?.() || opts.signal?.aborted) throw new CancelledError('Evaluation');
    acc.addRows(chunk.start, chunk.data);
    progress?.({ phase: 'ranking', done: chunk.start + chunk.rows, total: query.count });
    tMark = performance.now();
  }
  const r = acc.finish();
  const mapCi = bootstrapByIdentity(r.ap, query.pids, opts.bootstrap);
  const hits = Float64Array.from(r.firstMatchRank, (rank, q) => (Number.isNaN(r.ap[q]) ? NaN : rank === 1 ? 1 : 0));
  const r1Ci = bootstrapByIdentity(hits, query.pids, opts.bootstrap);
  const t3 = performance.now();
  return {
    mAP: r.mAP,
    mINP: r.mINP,
    rank1: r.cmc[0],
    rank5: r.cmc[4],
    rank10: r.cmc[9],
    cmc: Array.from(r.cmc.subarray(0, maxRank)),
    numQueries: r.numQueries,
    numValidQueries: r.numValidQueries,
    numGallery: gallery.count,
    metric,
    apVariant,
    flip: opts.flip ?? false,
    normalize: opts.normalize ?? false,
    timingsMs: { extract: t1 - t0, distance: tDistance, ranking: t3 - t1 - tDistance },
    interval: { mAP: [mapCi.low, mapCi.high], rank1: [r1Ci.low, r1Ci.high], level: mapCi.level, resamples: mapCi.resamples, identities: mapCi.identities },
  };
}
