/**
 * FPGM, "Filter Pruning via Geometric Median" (He et al., CVPR 2019). Instead of assuming small
 * filters are unimportant, FPGM removes the filters that the others can best stand in for: those
 * nearest the geometric median of the layer's filters. The paper approximates "nearest the
 * geometric median" by the filter whose summed distance to all other filters is smallest.
 *
 * Groups: channel j's filter is the concatenation of W[:, :, :, j] over the group's producer
 * convs (filters.ts), so for a trunk the distance is taken over all producers at once (the
 * channel is removed from all of them together). FPGM is usually applied softly (zero the chosen
 * filters every epoch, let them regrow, remove at the end); the strategy decides that, this file
 * only scores.
 */
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { scoreEachGroup } from './context';
import { groupFilters, rowGram } from './filters';

/**
 * Sum of Euclidean distances from each row to every other row, from the Gram matrix:
 * ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b (norms in float64; clamped at 0 against rounding).
 */
export function summedDistances(rows: readonly Float64Array[], gram: Float64Array): Float32Array {
  const n = rows.length;
  const sq = rows.map((r) => r.reduce((s, v) => s + v * v, 0));
  const out = new Float64Array(n);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const dist = Math.sqrt(Math.max(0, sq[a] + sq[b] - 2 * gram[a * n + b]));
      out[a] += dist;
      out[b] += dist;
    }
  }
  return Float32Array.from(out);
}

export const fpgm: Criterion = {
  id: 'fpgm',
  name: 'FPGM (geometric median)',
  needs: 'weights',
  explanation:
    "Scores each filter by its summed distance to every other filter of the same layer. A filter close to the layer's geometric median is well represented by the others, so the network loses least when it goes, even if its weights are large. This targets redundancy rather than smallness, which norm-based criteria miss when all filters have similar norms.",
  formula: 'score_j = Σ_{j′} ‖F_j − F_{j′}‖₂   (F_j: filter j, all producers concatenated)',
  globalNormalisation: 'none (distances are in each layer\'s own weight units; rank locally)',
  score(ctx: CriterionContext): Promise<GroupScores> {
    return scoreEachGroup(ctx, 'FPGM', async (g) => {
      const { rows } = await groupFilters(ctx.model, g);
      return summedDistances(rows, await rowGram(rows));
    });
  },
};
