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

function badArg(message: string): LabError {
  return new LabError('bad-argument', message);
}

function checkInput(input: RankingInput): { nq: number; ng: number } {
  const { distmat, queryIds, galleryIds, queryCams, galleryCams, maxRank } = input;
  const nq = queryIds.length;
  const ng = galleryIds.length;
  if (!(distmat instanceof Float32Array)) throw badArg('The distance matrix must be a Float32Array.');
  if (queryCams.length !== nq) {
    throw badArg(`Expected one camera per query (${nq}); got ${queryCams.length} query cameras.`);
  }
  if (galleryCams.length !== ng) {
    throw badArg(`Expected one camera per gallery item (${ng}); got ${galleryCams.length} gallery cameras.`);
  }
  if (distmat.length !== nq * ng) {
    throw badArg(`Expected a ${nq} x ${ng} distance matrix (${nq * ng} values) for ${nq} queries and ${ng} gallery items; got ${distmat.length} values.`);
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

/** Evaluate a distance matrix under the Market-1501 protocol (see the file comment). */
export function evaluateRanking(input: RankingInput): RankingResult {
  const { nq, ng } = checkInput(input);
  const { distmat, queryIds, galleryIds, queryCams, galleryCams, maxRank } = input;
  const apVariant = input.apVariant ?? 'non-interpolated';
  const official = apVariant === 'market1501-official';

  const gIds = Int32Array.from(galleryIds);
  const gCams = Int32Array.from(galleryCams);
  const ap = new Float64Array(nq).fill(NaN);
  const inp = new Float64Array(nq).fill(NaN);
  const firstMatchRank = new Int32Array(nq);
  const firstHitCount = new Float64Array(maxRank + 1); // histogram of first-hit ranks, capped
  const sorter = new Float32Argsort(ng);
  const order = new Uint32Array(ng);
  let numValid = 0;
  let apSum = 0;
  let inpSum = 0;

  for (let q = 0; q < nq; q++) {
    const qid = queryIds[q];
    const qcam = queryCams[q];
    if (!(qid > 0)) continue; // junk/distractor queries have no defined matches
    // Count matches first: queries without any are skipped before paying for the sort.
    let numMatches = 0;
    for (let g = 0; g < ng; g++) {
      if (gIds[g] === qid && gCams[g] !== qcam) numMatches++;
    }
    if (numMatches === 0) continue;

    const row = distmat.subarray(q * ng, (q + 1) * ng);
    for (let g = 0; g < ng; g++) {
      if (row[g] !== row[g]) {
        throw badArg(`The distance matrix has NaN at query ${q}, gallery item ${g}; distances must be numbers.`);
      }
    }
    sorter.sort(row, order);

    let rank = 0; // position in the cleaned list (1-based after increment)
    let found = 0;
    let sum = 0;
    for (let i = 0; i < ng && found < numMatches; i++) {
      const g = order[i];
      const gid = gIds[g];
      if (gid === -1) continue; // junk
      if (gid === qid && gCams[g] === qcam) continue; // same identity, same camera
      rank++;
      if (gid !== qid) continue;
      found++;
      if (found === 1) firstMatchRank[q] = rank;
      const precision = found / rank;
      if (official) {
        const before = rank === 1 ? 1 : (found - 1) / (rank - 1);
        sum += (before + precision) / 2;
      } else {
        sum += precision;
      }
    }
    ap[q] = sum / numMatches;
    inp[q] = numMatches / rank; // rank is now the hardest match's rank
    apSum += ap[q];
    inpSum += inp[q];
    firstHitCount[Math.min(firstMatchRank[q], maxRank + 1) - 1]++;
    numValid++;
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
    ap,
    inp,
    firstMatchRank,
    cmc,
    mAP: apSum / numValid,
    mINP: inpSum / numValid,
    numQueries: nq,
    numValidQueries: numValid,
    apVariant,
  };
}
