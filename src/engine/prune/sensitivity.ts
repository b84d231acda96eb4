/**
 * Sensitivity analysis (Hao Li et al.'s Figure 2): prune ONE group alone at several rates,
 * keeping its top-scoring channels, and evaluate each; the groups x rates matrix of mAP and
 * rank-1 is the heat map that shows which layers tolerate pruning.
 *
 * Each cell is evaluated with channel masks on the unpruned model (masked == pruned, the surgery
 * invariant), so no model is built per cell. Scores are computed once on the unpruned model.
 */
import { CancelledError, LabError } from '../errors';
import type { ReidModel } from '../model/model';
import type { ReidSplit } from '../data/types';
import { evaluateModel, type EvaluateOptions } from '../eval/evaluate';
import type { CancelSignal } from '../train/trainer';
import type { Criterion, CriterionData, GroupScores } from './criterion';
import { prunableGroups, type Protection, type PruneScope } from './groups';
import { keepSetsFromScores, prunedSpec } from './keep-set';
import { disposeMasks, masksFromKeepSets } from './masks';
import { checkScores, legalKeptCount } from './ranking';
import type { RoundTo } from './settings';
import { specCost } from './target';

export interface SensitivityOptions {
  criterion: Criterion;
  /** Rates to try for every group, each in (0, 1). */
  rates: number[];
  scope?: PruneScope;
  protection?: Protection;
  floor?: number;
  roundTo?: RoundTo;
  seed?: number;
  /** Only these groups (default: every prunable group). */
  groups?: string[];
  criterionData?: CriterionData;
  evaluation: { query: ReidSplit; gallery: ReidSplit };
  evaluateOptions?: Omit<EvaluateOptions, 'onProgress' | 'masks' | 'signal' | 'shouldCancel'>;
  signal?: CancelSignal;
  /** After every evaluated cell (including the unpruned baseline, group "" and rate 0). */
  onProgress?: (done: number, total: number, cell: SensitivityCell) => void;
  /**
   * Awaited before each cell. A worker yields to its event loop here: on wasm, evaluation never
   * waits for a macrotask, so without it a cancel message would only arrive after the last cell.
   */
  beforeCell?: () => Promise<void>;
}

export interface SensitivityCell {
  group: string;
  rate: number;
  kept: number;
  mAP: number;
  rank1: number;
  /** MACs of the network with only this group pruned. */
  macs: number;
}

export interface SensitivityResult {
  groups: { id: string; channels: number }[];
  rates: number[];
  baseline: { mAP: number; rank1: number; macs: number };
  /** [group][rate] */
  mAP: number[][];
  rank1: number[][];
  kept: number[][];
  macs: number[][];
}

export async function sensitivity(model: ReidModel, opts: SensitivityOptions): Promise<SensitivityResult> {
  const rates = opts.rates;
  if (!Array.isArray(rates) || rates.length === 0) throw new LabError('bad-argument', 'Sensitivity analysis needs at least one pruning rate.');
  for (const r of rates) {
    if (typeof r !== 'number' || !(r > 0 && r < 1)) throw new LabError('bad-argument', `Every sensitivity rate must be above 0 and below 1; found ${String(r)}.`);
  }
  const floor = opts.floor ?? 1;
  const roundTo = opts.roundTo ?? 1;
  let groups = prunableGroups(model.spec, opts.scope ?? 'inner', opts.protection);
  if (opts.groups) {
    const known = new Set(groups.map((g) => g.id));
    for (const id of opts.groups) if (!known.has(id)) throw new LabError('bad-argument', `Group "${id}" is not a prunable group of this model with this scope and protection.`);
    const wanted = new Set(opts.groups);
    groups = groups.filter((g) => wanted.has(g.id));
  }
  const cancelled = () => opts.signal?.aborted === true;
  const check = () => {
    if (cancelled()) throw new CancelledError('Sensitivity analysis');
  };
  check();
  const scores: GroupScores = await opts.criterion.score({ model, groups, data: opts.criterionData, seed: opts.seed ?? 1, signal: opts.signal });
  checkScores(groups, scores);

  const total = 1 + groups.length * rates.length;
  let done = 0;
  const evalOpts = { ...opts.evaluateOptions, shouldCancel: cancelled };
  check();
  const b = await evaluateModel(model, opts.evaluation, evalOpts);
  const baseline = { mAP: b.mAP, rank1: b.rank1, macs: specCost(model.spec).macs };
  opts.onProgress?.(++done, total, { group: '', rate: 0, kept: 0, ...baseline });

  const out: SensitivityResult = { groups: groups.map((g) => ({ id: g.id, channels: g.channels })), rates: rates.slice(), baseline, mAP: [], rank1: [], kept: [], macs: [] };
  for (const g of groups) {
    const rowM: number[] = [];
    const rowR: number[] = [];
    const rowK: number[] = [];
    const rowC: number[] = [];
    for (const rate of rates) {
      await opts.beforeCell?.();
      check();
      const kept = legalKeptCount(g.channels - Math.round(rate * g.channels), g.channels, { floor, roundTo });
      const counts = new Map([[g.id, kept]]);
      const masks = masksFromKeepSets(model.spec, keepSetsFromScores(model.spec, scores, counts));
      let r;
      try {
        r = await evaluateModel(model, opts.evaluation, { ...evalOpts, masks });
      } catch (e) {
        if (cancelled()) throw new CancelledError('Sensitivity analysis');
        throw e;
      } finally {
        disposeMasks(masks);
      }
      const macs = specCost(prunedSpec(model.spec, counts)).macs;
      rowM.push(r.mAP);
      rowR.push(r.rank1);
      rowK.push(kept);
      rowC.push(macs);
      opts.onProgress?.(++done, total, { group: g.id, rate, kept, mAP: r.mAP, rank1: r.rank1, macs });
    }
    out.mAP.push(rowM);
    out.rank1.push(rowR);
    out.kept.push(rowK);
    out.macs.push(rowC);
  }
  return out;
}
