/**
 * What the user chooses when pruning: the criterion, the target (a channel rate, or a share of
 * the MACs or parameters to keep), the scope, local or global ranking with its per-layer
 * normalisation, the per-group floor, rounding of kept counts, protected layers and the seed.
 *
 * Settings are plain JSON (they travel to the worker and are stored in a PrunePlan).
 * `resolvePruneSettings` fills in defaults and rejects bad values with a sentence naming the
 * setting, the allowed range and what was given.
 */
import { LabError } from '../errors';
import type { CriterionId } from './criterion';
import type { Protection, PruneScope } from './groups';

export type RankingMode = 'local' | 'global';

/**
 * How scores of different groups are made comparable for global ranking:
 * - 'none': raw scores (a layer with larger weights keeps more of its channels);
 * - 'l2': each group's scores divided by their l2 norm (Molchanov et al.'s layer-wise l2);
 * - 'max': each group's scores divided by their largest absolute value;
 * - 'criterion': the scores as the criterion returns them, for criteria that already make them
 *   comparable across layers (COP's normalisation); the plan names the criterion's own rule.
 */
export type Normalisation = 'none' | 'l2' | 'max' | 'criterion';

export type RoundTo = 1 | 4 | 8;

/** The target of a pruning run; exactly one kind. */
export type PruneTarget =
  /** Fraction of the prunable groups' channels to remove, in [0, 1). */
  | { kind: 'rate'; rate: number }
  /** Fraction of the model's MACs to keep, in (0, 1]. */
  | { kind: 'macs'; keep: number }
  /** Fraction of the model's parameters (extractor, no ID classifier) to keep, in (0, 1]. */
  | { kind: 'params'; keep: number };

export interface PruneSettings {
  criterion: CriterionId;
  target: PruneTarget;
  scope: PruneScope;
  ranking: RankingMode;
  normalisation: Normalisation;
  /** Minimum channels every pruned group keeps (a group smaller than this is left whole). */
  floor: number;
  /** Kept counts are multiples of this (or the whole group), for hardware-friendly widths. */
  roundTo: RoundTo;
  protection: Protection;
  seed: number;
  /** Criterion-specific options (documented in the criterion's file). */
  criterionOptions?: Record<string, number | string | boolean>;
}

/** What a caller may give: the criterion, one of rate / macsTarget / paramsTarget, the rest optional. */
export interface PruneSettingsInput {
  criterion: CriterionId;
  rate?: number;
  macsTarget?: number;
  paramsTarget?: number;
  scope?: PruneScope;
  ranking?: RankingMode;
  normalisation?: Normalisation;
  floor?: number;
  roundTo?: number;
  protection?: Partial<Protection>;
  seed?: number;
  criterionOptions?: Record<string, number | string | boolean>;
}

export const DEFAULT_PRUNE_SETTINGS: Omit<PruneSettings, 'criterion' | 'target'> = {
  scope: 'inner',
  ranking: 'local',
  normalisation: 'l2',
  floor: 1,
  roundTo: 1,
  protection: { stem: false, lastStage: false },
  seed: 1,
};

const CRITERIA: readonly CriterionId[] = ['random', 'l1', 'l2', 'bn-scale', 'taylor', 'entropy', 'fpgm', 'cop', 'thinet', 'channel-pruning'];

function bad(message: string): never {
  throw new LabError('bad-argument', message);
}

const pct = (v: number) => `${+(v * 100).toFixed(4)}%`;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Validate and complete settings. Accepts a resolved PruneSettings too (it re-validates). */
export function resolvePruneSettings(input: PruneSettingsInput | PruneSettings): PruneSettings {
  if (input === null || typeof input !== 'object') bad('Pruning settings must be an object with at least a criterion and a target.');
  const given = input as Partial<PruneSettingsInput & PruneSettings>;
  if (!CRITERIA.includes(given.criterion as CriterionId)) {
    bad(`The pruning criterion must be one of ${CRITERIA.join(', ')}; found ${JSON.stringify(given.criterion)}.`);
  }

  let target: PruneTarget;
  if (given.target !== undefined) {
    target = given.target;
  } else {
    const named = (['rate', 'macsTarget', 'paramsTarget'] as const).filter((k) => given[k] !== undefined);
    if (named.length === 0) bad('Pruning needs a target: a channel rate (e.g. 0.3), or a share of the MACs or parameters to keep (e.g. 0.5).');
    if (named.length > 1) bad(`Give one pruning target, not several; found ${named.join(' and ')}.`);
    const k = named[0];
    target = k === 'rate' ? { kind: 'rate', rate: given.rate! } : { kind: k === 'macsTarget' ? 'macs' : 'params', keep: given[k]! };
  }
  if (target.kind === 'rate') {
    if (!isNum(target.rate) || target.rate < 0 || target.rate >= 1) {
      bad(`The pruning rate is the fraction of channels to remove, from 0 up to (not including) 1; found ${String(target.rate)}.`);
    }
  } else if (target.kind === 'macs' || target.kind === 'params') {
    const what = target.kind === 'macs' ? 'MACs' : 'parameters';
    if (!isNum(target.keep) || target.keep <= 0 || target.keep > 1) {
      bad(`The ${what} target is the fraction of the model's ${what} to keep, above 0 and at most 1 (e.g. 0.5 keeps half); found ${String(target.keep)}.`);
    }
  } else {
    bad(`Unknown pruning target kind ${JSON.stringify((target as { kind: unknown }).kind)}; expected rate, macs or params.`);
  }

  const scope = given.scope ?? DEFAULT_PRUNE_SETTINGS.scope;
  if (scope !== 'inner' && scope !== 'inner+trunk') bad(`The pruning scope must be "inner" or "inner+trunk"; found ${JSON.stringify(scope)}.`);
  const ranking = given.ranking ?? DEFAULT_PRUNE_SETTINGS.ranking;
  if (ranking !== 'local' && ranking !== 'global') bad(`The ranking must be "local" (same rate in every group) or "global" (one ranking across groups); found ${JSON.stringify(ranking)}.`);
  const normalisation = given.normalisation ?? DEFAULT_PRUNE_SETTINGS.normalisation;
  if (!['none', 'l2', 'max', 'criterion'].includes(normalisation)) {
    bad(`The per-layer normalisation must be "none", "l2", "max" or "criterion"; found ${JSON.stringify(normalisation)}.`);
  }
  const floor = given.floor ?? DEFAULT_PRUNE_SETTINGS.floor;
  if (!Number.isInteger(floor) || floor < 1) bad(`The floor is the fewest channels a pruned group keeps, a whole number of at least 1; found ${String(floor)}.`);
  const roundTo = given.roundTo ?? DEFAULT_PRUNE_SETTINGS.roundTo;
  if (roundTo !== 1 && roundTo !== 4 && roundTo !== 8) bad(`Kept channel counts can be rounded to multiples of 1, 4 or 8; found ${String(roundTo)}.`);
  const protection: Protection = { ...DEFAULT_PRUNE_SETTINGS.protection, ...given.protection };
  if (typeof protection.stem !== 'boolean' || typeof protection.lastStage !== 'boolean') bad('Protection flags (stem, lastStage) must be true or false.');
  const seed = given.seed ?? DEFAULT_PRUNE_SETTINGS.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) bad(`The seed must be a whole number of at least 0; found ${String(seed)}.`);

  const out: PruneSettings = { criterion: given.criterion!, target, scope, ranking, normalisation, floor, roundTo: roundTo as RoundTo, protection, seed };
  if (given.criterionOptions) out.criterionOptions = { ...given.criterionOptions };
  return out;
}

/** "remove 30% of the channels", "keep 50% of the MACs": for messages and the UI. */
export function describeTarget(t: PruneTarget): string {
  if (t.kind === 'rate') return `remove ${pct(t.rate)} of the channels`;
  return `keep ${pct(t.keep)} of the ${t.kind === 'macs' ? 'MACs' : 'parameters'}`;
}
