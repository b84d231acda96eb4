/**
 * Ranked lists: for each query, the top-k gallery items it retrieves (what a ReID user looks at
 * to see *why* a model scores as it does), with the query's AP and the rank of its first true
 * match. Same protocol as ranking.ts, whose code this reuses: gallery items are ordered by
 * ascending distance with ties by index (the stable argsort), junk and same-identity-same-camera
 * items are removed (keptInRanking), and AP / first-match rank come from RankingAccumulator, so
 * they are exactly the numbers behind the lab's mAP.
 *
 * Works row chunk by row chunk, like evaluateModel: only k entries per query are kept, never the
 * whole distance matrix.
 */
import { CancelledError, LabError } from '../errors';
import { Float32Argsort } from './argsort';
import { distanceRowChunks, type DistanceOptions, type FeatureMatrix } from './distance';
import { keptInRanking, RankingAccumulator, type ApVariant } from './ranking';

/** One retrieved gallery item. */
export interface RankedEntry {
  /** Gallery index. */
  index: number;
  distance: number;
  /** Same identity as the query (a true match); distractors and other identities are false. */
  match: boolean;
}

export interface RankedList {
  /** Query index. */
  query: number;
  /** The first k items of the cleaned list (fewer if the cleaned gallery is shorter). */
  top: RankedEntry[];
  /** The query's AP; NaN where the protocol skips the query (no match from another camera). */
  ap: number;
  /** 1-based rank of the first true match in the cleaned list; 0 for skipped queries. */
  firstMatchRank: number;
}

export interface RankedListsLabels {
  queryIds: ArrayLike<number>;
  galleryIds: ArrayLike<number>;
  queryCams: ArrayLike<number>;
  galleryCams: ArrayLike<number>;
  /** Entries kept per query (e.g. 10). */
  topK: number;
  apVariant?: ApVariant;
}

export interface RankedListsResult {
  lists: RankedList[];
  /** Mean AP over the queries that are not skipped (the evaluation's mAP). */
  mAP: number;
  numValidQueries: number;
}

function checkTopK(topK: number): void {
  if (!Number.isInteger(topK) || topK < 1) {
    throw new LabError('bad-argument', `Expected the number of gallery items per query (topK) to be a positive whole number; got ${topK}.`);
  }
}

/** Builds ranked lists from distance rows as they arrive (any order, each query once). */
export class RankedListsBuilder {
  private readonly acc: RankingAccumulator;
  private readonly qIds: Int32Array;
  private readonly qCams: Int32Array;
  private readonly gIds: Int32Array;
  private readonly gCams: Int32Array;
  private readonly topK: number;
  private readonly tops: RankedEntry[][];
  private readonly sorter: Float32Argsort;
  private readonly order: Uint32Array;

  constructor(labels: RankedListsLabels) {
    checkTopK(labels.topK);
    // The accumulator checks the labels (lengths, non-empty) and owns AP and first-match rank.
    this.acc = new RankingAccumulator({ ...labels, maxRank: 1 });
    this.qIds = Int32Array.from(labels.queryIds);
    this.qCams = Int32Array.from(labels.queryCams);
    this.gIds = Int32Array.from(labels.galleryIds);
    this.gCams = Int32Array.from(labels.galleryCams);
    this.topK = labels.topK;
    this.tops = new Array<RankedEntry[]>(this.qIds.length);
    this.sorter = new Float32Argsort(this.gIds.length);
    this.order = new Uint32Array(this.gIds.length);
  }

  /** Distances of queries [start, start + rows), row-major [rows, numGallery]. */
  addRows(start: number, dist: Float32Array): void {
    const ng = this.gIds.length;
    for (let i = 0; i < dist.length; i++) {
      if (dist[i] !== dist[i]) throw new LabError('bad-argument', `The distance matrix has NaN at query ${start + Math.floor(i / ng)}, gallery item ${i % ng}; distances must be numbers.`);
    }
    // The accumulator refuses malformed rows (length, range, repeats) before anything is kept.
    this.acc.addRows(start, dist);
    const rows = dist.length / ng;
    for (let r = 0; r < rows; r++) {
      const row = dist.subarray(r * ng, (r + 1) * ng);
      this.tops[start + r] = this.top(start + r, row);
    }
  }

  private top(q: number, row: Float32Array): RankedEntry[] {
    const { gIds, gCams, order } = this;
    const qid = this.qIds[q];
    const qcam = this.qCams[q];
    this.sorter.sort(row, order);
    const out: RankedEntry[] = [];
    for (let i = 0; i < order.length && out.length < this.topK; i++) {
      const g = order[i];
      if (!keptInRanking(qid, qcam, gIds[g], gCams[g])) continue;
      // Identities -1 (junk, already removed) and 0 (distractor) never match, even each other.
      out.push({ index: g, distance: row[g], match: qid > 0 && gIds[g] === qid });
    }
    return out;
  }

  /** Throws (LabError) if a query was never ranked or no query has a valid match. */
  finish(): RankedListsResult {
    const r = this.acc.finish();
    const lists = this.tops.map((top, q) => ({ query: q, top, ap: r.ap[q], firstMatchRank: r.firstMatchRank[q] }));
    return { lists, mAP: r.mAP, numValidQueries: r.numValidQueries };
  }
}

/** Ranked lists from a whole row-major [numQueries, numGallery] distance matrix. */
export function rankedLists(input: RankedListsLabels & { distmat: Float32Array }): RankedListsResult {
  if (!(input.distmat instanceof Float32Array)) throw new LabError('bad-argument', 'The distance matrix must be a Float32Array.');
  const nq = input.queryIds.length;
  const ng = input.galleryIds.length;
  const b = new RankedListsBuilder(input);
  if (input.distmat.length !== nq * ng) {
    throw new LabError('bad-argument', `Expected a ${nq} x ${ng} distance matrix (${nq * ng} values) for ${nq} queries and ${ng} gallery items; got ${input.distmat.length} values.`);
  }
  b.addRows(0, input.distmat);
  return b.finish();
}

/**
 * Ranked lists straight from embeddings (distance.ts, in query-row chunks). `shouldCancel` is
 * polled between chunks.
 */
export async function rankedListsFromFeatures(
  queryFeatures: FeatureMatrix,
  galleryFeatures: FeatureMatrix,
  labels: RankedListsLabels,
  opts: DistanceOptions & { shouldCancel?: () => boolean } = {},
): Promise<RankedListsResult> {
  if (queryFeatures.rows !== labels.queryIds.length || galleryFeatures.rows !== labels.galleryIds.length) {
    throw new LabError(
      'bad-argument',
      `Expected features for ${labels.queryIds.length} queries and ${labels.galleryIds.length} gallery items; got ${queryFeatures.rows} and ${galleryFeatures.rows}.`,
    );
  }
  const b = new RankedListsBuilder(labels);
  for await (const chunk of distanceRowChunks(queryFeatures, galleryFeatures, opts)) {
    if (opts.shouldCancel?.()) throw new CancelledError('Ranking');
    b.addRows(chunk.start, chunk.data);
  }
  return b.finish();
}

/**
 * Query indices, worst first: lowest AP first, ties by query index; queries the protocol skips
 * (AP NaN: nothing to retrieve) come last, in index order.
 */
export function worstQueriesFirst(ap: ArrayLike<number>): number[] {
  const idx = Array.from({ length: ap.length }, (_, i) => i);
  const key = (i: number) => (Number.isNaN(ap[i]) ? Infinity : ap[i]);
  return idx.sort((a, b) => key(a) - key(b) || a - b);
}
