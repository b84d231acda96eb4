/**
 * Random: every channel gets a uniform random score, so pruning keeps a random subset. The
 * baseline every pruning study needs: a criterion is only worth its cost if it beats this.
 *
 * Scores come from the lab's seeded PRNG, forked per group id, so a group's scores depend only on
 * the seed and the group (not on which other groups are scored, or in what order).
 */
import { Prng } from '../../util/prng';
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { scoreEachGroup } from './context';

export const random: Criterion = {
  id: 'random',
  name: 'Random',
  needs: 'nothing',
  explanation:
    'Gives every channel a random score, so pruning removes a random subset of channels. It uses no information at all, which makes it the yardstick: a criterion that does not clearly beat random pruning after fine-tuning is not earning its cost.',
  formula: 'score_j ~ U(0, 1), seeded',
  globalNormalisation: 'none (scores are uniform in every layer)',
  score(ctx: CriterionContext): Promise<GroupScores> {
    const root = new Prng(ctx.seed).fork('random-criterion');
    return scoreEachGroup(ctx, 'Random', (g) => {
      const rng = root.fork(g.id);
      return Float32Array.from({ length: g.channels }, () => rng.next());
    });
  },
};
