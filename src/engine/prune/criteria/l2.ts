/**
 * L2 norm of each filter: the same idea as Hao Li's L1 criterion with the Euclidean norm, which
 * weighs a few large weights more than many small ones. It is also the norm soft filter pruning
 * (SFP/PSFP) ranks by.
 *
 * Groups: channel j's filter is the concatenation of W[:, :, :, j] over the group's producer
 * convs (filters.ts), so a trunk channel scores sqrt(Σ over producers of ||W_p[:, :, :, j]||²),
 * the l2 norm of everything the channel's removal deletes on the producing side.
 */
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { scoreEachGroup } from './context';
import { groupFilters } from './filters';

export const l2: Criterion = {
  id: 'l2',
  name: 'L2 norm',
  needs: 'weights',
  explanation:
    "Scores each filter by the Euclidean (L2) length of its weights. Like the L1 criterion it assumes small filters matter little, but squaring favours filters with a few strong weights over filters with many weak ones. Soft filter pruning (SFP, PSFP) ranks filters this way every epoch.",
  formula: 'score_j = sqrt( Σ_producers Σ_{kh,kw,i} W[kh, kw, i, j]² )',
  globalNormalisation: 'none (raw L2 norms; rank locally, per layer)',
  score(ctx: CriterionContext): Promise<GroupScores> {
    return scoreEachGroup(ctx, 'L2 norm', async (g) => {
      const { rows } = await groupFilters(ctx.model, g);
      return Float32Array.from(rows, (r) => Math.sqrt(r.reduce((s, v) => s + v * v, 0)));
    });
  },
};
