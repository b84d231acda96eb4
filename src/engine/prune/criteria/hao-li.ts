/**
 * Hao Li et al., "Pruning Filters for Efficient ConvNets" (ICLR 2017): a filter's importance is
 * the sum of its absolute weights (its L1 norm). Filters with small weights produce weak
 * activations, so removing them changes the next layer's input least.
 *
 * Groups: channel j's filter is the concatenation of W[:, :, :, j] over the group's producer
 * convs (filters.ts), so a trunk channel scores the SUM of its L1 norms over every producer conv
 * of the trunk (the projection shortcut, the last conv of every block, and the stem in basic
 * nets). The BatchNorm that follows each conv is ignored, as in the paper.
 */
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { scoreEachGroup } from './context';
import { groupFilters } from './filters';

export const haoLi: Criterion = {
  id: 'l1',
  name: 'Hao Li (L1)',
  needs: 'weights',
  explanation:
    "Scores each filter by the sum of the absolute values of its weights. A filter with small weights tends to produce weak responses, so removing it disturbs the next layer least. It needs no data and costs almost nothing, which is why it is the classic first baseline; its blind spot is that the following BatchNorm can rescale a small filter's output back up.",
  formula: 'score_j = Σ_producers Σ_{kh,kw,i} |W[kh, kw, i, j]|',
  globalNormalisation: 'none (raw L1 norms; rank locally, per layer, as the paper does)',
  score(ctx: CriterionContext): Promise<GroupScores> {
    return scoreEachGroup(ctx, 'Hao Li (L1)', async (g) => {
      const { rows } = await groupFilters(ctx.model, g);
      return Float32Array.from(rows, (r) => r.reduce((s, v) => s + Math.abs(v), 0));
    });
  },
};
