/**
 * BatchNorm scale, after network slimming (Liu et al., ICCV 2017): the BatchNorm that follows a
 * conv multiplies channel j by gamma_j, so |gamma_j| is how much of the channel reaches the next
 * layer. Network slimming trains with an L1 penalty on gamma to push unneeded channels to zero;
 * used as a plain criterion, |gamma| ranks channels of an already trained model.
 *
 * Groups: a trunk channel is normalised by one BatchNorm per producer conv (the projection
 * shortcut's and every block's last BN, and the stem's bn1 in basic nets); its score is the SUM of
 * |gamma_j| over them. The BNNeck, which reads the last trunk, is a consumer and is not counted.
 */
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { scoreEachGroup } from './context';
import { checkGroupAgainstModel, producerGammas } from './filters';

export const bnScale: Criterion = {
  id: 'bn-scale',
  name: 'BatchNorm scale',
  needs: 'weights',
  explanation:
    "Scores each channel by the absolute value of the BatchNorm scale (gamma) that multiplies it right after its conv. Whatever the filter computes, the BatchNorm first normalises it and then scales it by gamma, so a channel with gamma near zero hardly reaches the next layer. Network slimming pushes gammas towards zero during training to make this ranking sharp.",
  formula: 'score_j = Σ_producer BNs |γ_j|',
  globalNormalisation: 'none (gammas of normalised channels are on a common scale across layers)',
  score(ctx: CriterionContext): Promise<GroupScores> {
    return scoreEachGroup(ctx, 'BatchNorm scale', async (g) => {
      checkGroupAgainstModel(ctx.model, g);
      const gammas = await producerGammas(ctx.model, g);
      const out = new Float32Array(g.channels);
      for (const gm of gammas) for (let j = 0; j < g.channels; j++) out[j] += Math.abs(gm[j]);
      return out;
    });
  },
};
