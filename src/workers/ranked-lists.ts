/**
 * The worker's ranked lists: every evaluation query's top-10 gallery images under the dense
 * model and under the current (pruned / fine-tuned) one, served a page at a time with the page's
 * images as transferable RGBA buffers.
 *
 * Ranking needs every query's list (worst-first orders by AP over all of them), so each model's
 * lists are computed once, with the evaluation's settings (batch 32, euclidean, no flip, no
 * normalisation: so the APs are the ones behind the lab's mAP), and kept per dataset and model
 * state: paging never re-extracts. A new dataset or model state misses the cache by itself (the
 * keys are the objects and the state id); the dataset's entry goes when the dataset does.
 */
import { LabError } from '../engine/errors';
import type { ReidDataset } from '../engine/data/types';
import type { ReidModel } from '../engine/model/model';
import { extractFeatures, type ExtractOptions } from '../engine/eval/extract';
import type { FeatureMatrix } from '../engine/eval/distance';
import type { ReidSplit } from '../engine/data/types';
import { rankedListsFromFeatures, worstQueriesFirst, type RankedListsResult } from '../engine/eval/ranked-lists';
import type { RankedListsPage, RankedListsRequest, RankedRow, Thumbnail } from './api';
import { toRgba } from './dataset';
import type { Job } from './jobs';

export const RANKED_TOP_K = 10;
/** Most queries per page: 20 queries x 21 images stays a few MB at the lab's sizes. */
export const MAX_PAGE = 20;

interface Entry {
  model: ReidModel;
  /** The current model's state id (fine-tuning changes a model in place); -1 for the dense model. */
  stateId: number;
  result: RankedListsResult;
}

export interface RankedModels {
  dense: ReidModel;
  current: ReidModel;
  stateId: number;
  dataset: ReidDataset;
  /** Where embeddings come from (default: extract them). The worker passes its embedding cache, so lists after an evaluation of the same state embed nothing. */
  features?: (model: ReidModel, split: ReidSplit, opts: ExtractOptions) => Promise<FeatureMatrix>;
}

export class RankedListsCache {
  private readonly byDataset = new WeakMap<ReidDataset, { dense?: Entry; current?: Entry }>();

  private slot(d: ReidDataset): { dense?: Entry; current?: Entry } {
    let s = this.byDataset.get(d);
    if (!s) this.byDataset.set(d, (s = {}));
    return s;
  }

  /** The lists of both models, computing what the cache lacks (progress over the models to compute). */
  async lists(m: RankedModels, job: Job): Promise<{ dense: RankedListsResult; current: RankedListsResult; currentIsDense: boolean }> {
    const s = this.slot(m.dataset);
    const currentIsDense = m.current === m.dense;
    const denseOk = s.dense?.model === m.dense;
    const currentOk = currentIsDense || (s.current?.model === m.current && s.current.stateId === m.stateId);
    const todo = (denseOk ? 0 : 1) + (currentOk ? 0 : 1);
    let done = 0;
    const compute = async (model: ReidModel, label: string): Promise<RankedListsResult> => {
      const r = await computeLists(model, m.dataset, m.features ?? ((mm, split, o) => extractFeatures(mm, split, o)), job, (f) => job.progress((done + f) / todo, `Ranking the gallery with the ${label} model: ${Math.round(f * 100)}%`));
      done++;
      return r;
    };
    if (!denseOk) s.dense = { model: m.dense, stateId: -1, result: await compute(m.dense, 'dense') };
    if (!currentOk) s.current = { model: m.current, stateId: m.stateId, result: await compute(m.current, 'current') };
    const dense = s.dense!.result;
    return { dense, current: currentIsDense ? dense : s.current!.result, currentIsDense };
  }
}

async function computeLists(
  model: ReidModel,
  d: ReidDataset,
  features: NonNullable<RankedModels['features']>,
  job: Job,
  progress: (fraction: number) => void,
): Promise<RankedListsResult> {
  const total = d.query.count + d.gallery.count;
  const opts = { batchSize: 32, signal: job.signal };
  const qf = await features(model, d.query, { ...opts, onProgress: (n) => progress((0.95 * n) / total) });
  const gf = await features(model, d.gallery, { ...opts, onProgress: (n) => progress((0.95 * (d.query.count + n)) / total) });
  job.throwIfCancelled();
  const r = await rankedListsFromFeatures(qf, gf, {
    queryIds: d.query.pids,
    queryCams: d.query.camids,
    galleryIds: d.gallery.pids,
    galleryCams: d.gallery.camids,
    topK: RANKED_TOP_K,
  }, { shouldCancel: () => job.signal.aborted });
  progress(1);
  return r;
}

export function checkRequest(req: RankedListsRequest, total: number): void {
  if (!req || (req.order !== 'query' && req.order !== 'worst')) {
    throw new LabError('bad-argument', `Ranked lists are ordered by "query" index or "worst" first; got ${String(req?.order)}.`);
  }
  if (!Number.isInteger(req.count) || req.count < 1 || req.count > MAX_PAGE) {
    throw new LabError('bad-argument', `A page of ranked lists holds 1 to ${MAX_PAGE} queries; got ${String(req.count)}.`);
  }
  if (!Number.isInteger(req.offset) || req.offset < 0 || req.offset >= total) {
    throw new LabError('bad-argument', `The page must start at a query position from 0 to ${total - 1}; got ${String(req.offset)}.`);
  }
}

/** The requested page: both models' rows per query, and each image involved once. */
export async function rankedListsPage(cache: RankedListsCache, m: RankedModels, datasetName: string, req: RankedListsRequest, job: Job): Promise<RankedListsPage> {
  const d = m.dataset;
  checkRequest(req, d.query.count); // before any work: a bad page costs nothing
  const { dense, current, currentIsDense } = await cache.lists(m, job);
  const order = req.order === 'worst' ? worstQueriesFirst(current.lists.map((l) => l.ap)) : current.lists.map((l) => l.query);
  const thumbs: Thumbnail[] = [];
  const thumbOf = new Map<string, number>();
  const thumb = (split: 'query' | 'gallery', i: number): number => {
    const key = `${split}${i}`;
    let t = thumbOf.get(key);
    if (t === undefined) {
      const s = split === 'query' ? d.query : d.gallery;
      const n = s.height * s.width * 3;
      t = thumbs.length;
      thumbs.push({ pid: s.pids[i], camera: s.camids[i], split, width: s.width, height: s.height, rgba: toRgba(s.images.subarray(i * n, (i + 1) * n)) });
      thumbOf.set(key, t);
    }
    return t;
  };
  const row = (r: RankedListsResult, q: number): RankedRow => {
    const l = r.lists[q];
    return {
      ap: Number.isNaN(l.ap) ? null : l.ap,
      firstMatchRank: l.firstMatchRank,
      items: l.top.map((e) => ({ gallery: e.index, pid: d.gallery.pids[e.index], camera: d.gallery.camids[e.index], distance: e.distance, match: e.match, thumb: thumb('gallery', e.index) })),
    };
  };
  const end = Math.min(order.length, req.offset + req.count);
  const queries = [];
  for (let pos = req.offset; pos < end; pos++) {
    const q = order[pos];
    queries.push({ position: pos, query: q, pid: d.query.pids[q], camera: d.query.camids[q], thumb: thumb('query', q), dense: row(dense, q), current: row(current, q) });
  }
  return {
    dataset: datasetName,
    stateId: m.stateId,
    currentIsDense,
    order: req.order,
    offset: req.offset,
    total: order.length,
    topK: RANKED_TOP_K,
    mAP: { dense: dense.mAP, current: current.mAP },
    queries,
    thumbs,
  };
}
