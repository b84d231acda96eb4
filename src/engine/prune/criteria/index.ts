/**
 * The registry of pruning criteria: one entry per CriterionId, each defined in its own file of
 * this folder next to its formula.
 */
import { LabError } from '../../errors';
import type { Criterion, CriterionId } from '../criterion';
import { random } from './random';
import { haoLi } from './hao-li';
import { l2 } from './l2';
import { bnScale } from './bn-scale';
import { molchanov } from './molchanov';
import { entropy } from './entropy';
import { fpgm } from './fpgm';
import { cop } from './cop';
import { thinet } from './thinet';
import { channelPruning } from './channel-pruning';

export const CRITERIA: Record<CriterionId, Criterion> = {
  random,
  l1: haoLi,
  l2,
  'bn-scale': bnScale,
  taylor: molchanov,
  entropy,
  fpgm,
  cop,
  thinet,
  'channel-pruning': channelPruning,
};

/** The criterion with this id; a LabError listing the known ids otherwise. */
export function getCriterion(id: string): Criterion {
  if (Object.prototype.hasOwnProperty.call(CRITERIA, id)) return CRITERIA[id as CriterionId];
  throw new LabError('bad-argument', `Unknown pruning criterion "${id}"; the lab has ${Object.keys(CRITERIA).map((k) => `"${k}"`).join(', ')}.`);
}

export { l2NormalisePerGroup } from './molchanov';
