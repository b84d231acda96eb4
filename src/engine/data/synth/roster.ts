/**
 * The people of one SynthReID dataset: training and test identities (disjoint, whole families
 * on one side) and "ghosts", extra family members of test families who appear in the gallery
 * only as distractors (pid 0), the hardest negatives a colour descriptor can meet.
 */
import { Prng } from '../../util/prng';
import { clothingPrior, sampleFamily, type Identity, type SynthDomain } from './identities';
import type { SynthTierSpec } from './tiers';

export interface Roster {
  train: Identity[];
  test: Identity[];
  ghosts: Identity[];
  /** Every identity with a pid, by pid. */
  byPid: Map<number, Identity>;
}

/**
 * First pid of each domain: source 1..1501, target 5001..6501 (identities never collide). The
 * pool numbers its own people from 1 (it is never mixed with a domain's labels; its people are
 * other people: see test/unit/synth-pool.test.ts).
 */
export function pidOffset(domain: SynthDomain): number {
  return domain === 'target' ? 5001 : 1;
}

/** Share of pool families dressed by the source's clothing prior; the rest by the broad prior. */
export const POOL_SOURCE_PRIOR_SHARE = 0.4;

export function buildRoster(root: Prng, domain: SynthDomain, spec: SynthTierSpec): Roster {
  const train: Identity[] = [];
  const test: Identity[] = [];
  const ghosts: Identity[] = [];
  let nextPid = pidOffset(domain);
  let family = 0;
  // Families alternate between the splits until both are full, so the two splits share the
  // same family statistics; a split's last family is cut to fit.
  while (train.length < spec.trainIds || test.length < spec.testIds) {
    const toTrain = family % 2 === 0 ? train.length < spec.trainIds : test.length >= spec.testIds;
    const target = toTrain ? train : test;
    const need = (toTrain ? spec.trainIds : spec.testIds) - target.length;
    const prng = root.fork(`family/${family}`);
    const size = Math.min(need, 1 + prng.weighted(spec.familySizeWeights));
    const ghost = !toTrain && prng.bool(spec.ghostRate) ? 1 : 0;
    const pids = Array.from({ length: size + ghost }, (_, k) => (k < size ? nextPid + k : 0));
    // Only the pool draws a prior per family (from its own fork, so the other domains' streams are untouched).
    const prior = domain === 'pool' ? clothingPrior(prng.fork('prior').bool(POOL_SOURCE_PRIOR_SHARE) ? 'source' : 'pool') : undefined;
    const members = sampleFamily(prng, family, size + ghost, pids, { domain, cuesPerSibling: spec.cuesPerSibling, prior });
    for (let k = 0; k < size; k++) target.push(members[k]);
    if (ghost) ghosts.push(members[size]);
    nextPid += size;
    family++;
  }
  const byPid = new Map<number, Identity>();
  for (const p of [...train, ...test]) byPid.set(p.pid, p);
  return { train, test, ghosts, byPid };
}
