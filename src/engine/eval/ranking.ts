/**
 * ReID ranking metrics (mAP, CMC, mINP) from a query x gallery distance matrix, under the
 * Market-1501 protocol as torchreid's `eval_market1501` and fast-reid's `evaluate_rank` compute
 * it. For each query:
 *
 * 1. Rank the gallery by ascending distance; ties keep gallery index order (a stable sort, as
 *    numpy's argsort(kind='stable'), MATLAB's sort).
 * 2. Remove gallery items with the query's identity AND the query's camera (same-view shots
 *    would make retrieval trivial), and junk items (identity -1).
 * 3. Matches are the remaining items with the query's identity; distractors (identity 0) stay
 *    in the list as non-matches.
 * 4. A query with no remaining match is skipped (not counted in any average). Queries whose
 *    own identity is -1 or 0 have no defined matches and are skipped too.
 *
 * With M matches at 1-based ranks r_1 < ... < r_M in the cleaned list:
 * - CMC(k) = 1 if r_1 <= k (clipped at 1: one hit is enough), averaged over valid queries.
 *   Where the cleaned list is shorter than maxRank, CMC stays at 1 past its end (every match
 *   has been found by then).
 * - AP, 'non-interpolated' (torchreid/fast-reid): (1/M) * sum_k k / r_k, i.e. the mean of the
 *   precision at each match.
 * - AP, 'market1501-official' (Zheng et al.'s MATLAB compute_AP.m): a trapezoid over the
 *   precision/recall curve. Walking the cleaned list with old_precision = 1 initially, at each
 *   position `ap += (recall - old_recall) * (old_precision + precision) / 2`, then old_* are
 *   updated at every position. Recall only moves at a match (by 1/M), so
 *   AP = (1/M) * sum_k ((k-1)/(r_k-1) + k/r_k) / 2, with (k-1)/(r_k-1) read as 1 when r_k = 1.
 *   It is never above the non-interpolated AP: (k-1)/(r_k-1) <= k/r_k because k <= r_k; the two
 *   agree only when every match precedes every non-match.
 * - INP (fast-reid's mINP): M / r_M, the fraction of the list up to the hardest match that
 *   are matches.
 */
import { LabError } from '../errors';
import { Float32Argsort } from './argsort';

export type ApVariant = 'non-interpolated' | 'market1501-official';

export interface RankingInput {
  /** Row-major [numQueries, numGallery] distances (smaller = more similar). */
  distmat: Float32Array;
  queryIds: ArrayLike<number>;
  galleryIds: ArrayLike<number>;
  queryCams: ArrayLike<number>;
  galleryCams: ArrayLike<number>;
  /** Length of the CMC curve (e.g. 50). */
  maxRank: number;
  apVariant?: ApVariant;
}

export interface RankingResult {
  /** Per query AP; NaN for skipped queries. */
  ap: Float64Array;
  /** Per query INP; NaN for skipped queries. */
  inp: Float64Array;
  /** Per query 1-based rank of the first match in the cleaned list; 0 for skipped queries. */
  firstMatchRank: Int32Array;
  /** CMC curve, cmc[k-1] = fraction of valid queries with a match within the top k. */
  cmc: Float64Array;
  mAP: number;
  mINP: number;
  numQueries: number;
  numValidQueries: number;
  apVariant: ApVariant;
}

/**
 * Whether gallery item (gid, gcam) stays in the ranked list of query (qid, qcam): junk (identity
 * -1) and shots of the query's identity from the query's camera are removed (step 2 above).
 * Shared with ranked-lists.ts so the lists the lab shows follow the same protocol as the scores.
 */
export function keptInRanking(qid: number, qcam: number, gid: number, gcam: number): boolean {
  return gid !== -1 && !(gid === qid && gcam === qcam);
}

function badArg(message: string): LabError {
  return new LabError('bad-argument', message);
}

type LabelInput = Omit<RankingInput, 'distmat'>;

function checkLabels(input: LabelInput): { nq: number; ng: number } {
  const { queryIds, galleryIds, queryCams, galleryCams, maxRank } = input;
  const nq = queryIds.length;
  const ng = galleryIds.length;
  if (queryCams.length !== nq) {
    throw badArg(`Expected one camera per query (${nq}); got ${queryCams.length} query cameras.`);
  }
  if (galleryCams.length !== ng) {
    throw badArg(`Expected one camera per gallery item (${ng}); got ${galleryCams.length} gallery cameras.`);
  }
  if (nq === 0) throw badArg('Expected at least one query; got none.');
  if (ng === 0) throw badArg('Expected at least one gallery item; got none.');
  if (!Number.isInteger(maxRank) || maxRank < 1) {
    throw badArg(`Expected maxRank to be a positive integer; got ${maxRank}.`);
  }
  const v = input.apVariant;
  if (v !== undefined && v !== 'non-interpolated' && v !== 'market1501-official') {
    throw badArg(`Unknown AP variant "${String(v)}"; expected "non-interpolated" or "market1501-official".`);
  }
  return { nq, ng };
}

/**
 * Ranks query rows as their distances arrive (in any order, each once), so a caller can compute
 * the distance matrix in chunks and never hold all of it: 3,368 x 19,732 floats is 266 MB.
 */
export class RankingAccumulator {
  private readonly nq: number;
  private readonly ng: number;
  private readonly queryIds: Int32Array;
  private readonly queryCams: Int32Array;
  private readonly gIds: Int32Array;
  private readonly gCams: Int32Array;
  private readonly maxRank: number;
  private readonly official: boolean;
  private readonly apVariant: ApVariant;
  private readonly ap: Float64Array;
  private readonly inp: Float64Array;
  private readonly firstMatchRank: Int32Array;
  private readonly done: Uint8Array;
  private readonly sorter: Float32Argsort;
  private readonly order: Uint32Array;

  constructor(input: LabelInput) {
    const { nq, ng } = checkLabels(input);
    this.nq = nq;
    this.ng = ng;
    this.queryIds = Int32Array.from(input.queryIds);
    this.queryCams = Int32Array.from(input.queryCams);
    this.gIds = Int32Array.from(input.galleryIds);
    this.gCams = Int32Array.from(input.galleryCams);
    this.maxRank = input.maxRank;
    this.apVariant = input.apVariant ?? 'non-interpolated';
    this.official = this.apVariant === 'market1501-official';
    this.ap = new Float64Array(nq).fill(NaN);
    this.inp = new Float64Array(nq).fill(NaN);
    this.firstMatchRank = new Int32Array(nq);
    this.done = new Uint8Array(nq);
    this.sorter = new Float32Argsort(ng);
    this.order = new Uint32Array(ng);
  }

  /** Distances of queries [start, start + rows), row-major [rows, numGallery]. */
  addRows(start: number, dist: Float32Array): void {
    const ng = this.ng;
    if (dist.length % ng !== 0) {
      throw badArg(`Expected whole rows of ${ng} gallery distances; got ${dist.length} values.`);
    }
    const rows = dist.length / ng;
    if (!Number.isInteger(start) || start < 0 || start + rows > this.nq) {
      throw badArg(`Rows ${start}..${start + rows - 1} are outside the ${this.nq} queries.`);
    }
    for (let r = 0; r < rows; r++) {
      const q = start + r;
      if (this.done[q]) throw badArg(`Query ${q} was ranked twice.`);
      this.done[q] = 1;
      this.rankQuery(q, dist.subarray(r * ng, (r + 1) * ng));
    }
  }

  private rankQuery(q: number, row: Float32Array): void {
    const { ng, gIds, gCams, order } = this;
    const qid = this.queryIds[q];
    const qcam = this.queryCams[q];
    if (!(qid > 0)) return; // junk/distractor queries have no defined matches
    // Count matches first: queries without any are skipped before paying for the sort.
    let numMatches = 0;
    for (let g = 0; g < ng; g++) {
      if (gIds[g] === qid && gCams[g] !== qcam) numMatches++;
    }
    if (numMatches === 0) return;
    for (let g = 0; g < ng; g++) {
      if (row[g] !== row[g]) {
        throw badArg(`The distance matrix has NaN at query ${q}, gallery item ${g}; distances must be numbers.`);
      }
    }
    this.sorter.sort(row, order);

    let rank = 0; // position in the cleaned list (1-based after increment)
    let found = 0;
    let sum = 0;
    for (let i = 0; i < ng && found < numMatches; i++) {
      const g = order[i];
      const gid = gIds[g];
      if (!keptInRanking(qid, qcam, gid, gCams[g])) continue; // junk, or same identity and camera
      rank++;
      if (gid !== qid) continue;
      found++;
      if (found === 1) this.firstMatchRank[q] = rank;
      const precision = found / rank;
      if (this.official) {
        const before = rank === 1 ? 1 : (found - 1) / (rank - 1);
        sum += (before + precision) / 2;
      } else {
        sum += precision;
      }
    }
    this.ap[q] = sum / numMatches;
    this.inp[q] = numMatches / rank; // rank is now the hardest match's rank
  }

  finish(): RankingResult {
    const missing = this.done.indexOf(0);
    if (missing >= 0) throw badArg(`Query ${missing} has not been ranked yet.`);
    const { nq, maxRank } = this;
    const firstHitCount = new Float64Array(maxRank + 1); // histogram of first-hit ranks, capped
    let numValid = 0;
    let apSum = 0;
    let inpSum = 0;
    for (let q = 0; q < nq; q++) {
      if (Number.isNaN(this.ap[q])) continue;
      numValid++;
      apSum += this.ap[q];
      inpSum += this.inp[q];
      firstHitCount[Math.min(this.firstMatchRank[q], maxRank + 1) - 1]++;
    }
    if (numValid === 0) {
      throw new LabError(
        'bad-dataset',
        `None of the ${nq} queries has a matching gallery image from a different camera, so mAP and CMC are undefined.`,
      );
    }
    const cmc = new Float64Array(maxRank);
    let acc = 0;
    for (let k = 0; k < maxRank; k++) {
      acc += firstHitCount[k];
      cmc[k] = acc / numValid;
    }
    return {
      ap: this.ap.slice(),
      inp: this.inp.slice(),
      firstMatchRank: this.firstMatchRank.slice(),
      cmc,
      mAP: apSum / numValid,
      mINP: inpSum / numValid,
      numQueries: nq,
      numValidQueries: numValid,
      apVariant: this.apVariant,
    };
  }
}

/** Evaluate a whole distance matrix under the Market-1501 protocol (see the file comment). */
export function evaluateRanking(input: RankingInput): RankingResult {
  if (!(input.distmat instanceof Float32Array)) throw badArg('The distance matrix must be a Float32Array.');
  const acc = new RankingAccumulator(input);
  const nq = input.queryIds.length;
  const ng = input.galleryIds.length;
  if (input.distmat.length !== nq * ng) {
    throw badArg(`Expected a ${nq} x ${ng} distance matrix (${nq * ng} values) for ${nq} queries and ${ng} gallery items; got ${input.distmat.length} values.`);
  }
  acc.addRows(0, input.distmat);
  return acc.finish();
}
