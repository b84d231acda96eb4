/**
 * The sensitivity scan as a worker job: the engine's scan (engine/prune/sensitivity.ts) on the
 * dense model, on an optional seeded subset of the queries (a scan is 1 + groups x rates
 * evaluations, hundreds on a ResNet-50), with progress, an ETA from the evaluations done so far,
 * and cancel between evaluations.
 */
import { LabError } from '../engine/errors';
import type { ReidDataset, ReidSplit } from '../engine/data/types';
import { subsetSplit } from '../engine/data/types';
import type { ReidModel } from '../engine/model/model';
import { getCriterion } from '../engine/prune/criteria';
import { requiresData, wantsData, type CriterionData } from '../engine/prune/criterion';
import { prunableGroups } from '../engine/prune/groups';
import { sensitivity } from '../engine/prune/sensitivity';
import { Prng } from '../engine/util/prng';
import { evaluationSubset, evaluationSubsetRows } from '../engine/scenarios/subset';
import { extractFeatures } from '../engine/eval/extract';
import type { EvaluateOptions } from '../engine/eval/evaluate';
import type { EmbeddingCache } from '../engine/eval/embedding-cache';
import type { SensitivityOutcome, SensitivityPlan, SensitivityRequest } from './api';
import { yieldToEventLoop, type Job } from './jobs';

/** "layer3.2.conv1" -> "layer3.2 conv1", "trunk3" -> "layer3 trunk", "stem" -> "stem". */
export function groupLabel(id: string): string {
  const inner = /^(layer\d+\.\d+)\.(conv\d+)$/.exec(id);
  if (inner) return `${inner[1]} ${inner[2]}`;
  const trunk = /^trunk(\d+)$/.exec(id);
  if (trunk) return `layer${trunk[1]} trunk`;
  return id;
}

/**
 * At most `maxQueries` query images, a seeded choice kept in dataset order (0 or more than there
 * are: all). The gallery is not touched, so a query's ranking means what it means in a full run.
 */
export function querySubset(query: ReidSplit, maxQueries: number, seed: number): ReidSplit {
  const rows = querySubsetRows(query.count, maxQueries, seed);
  return rows ? subsetSplit(query, rows) : query;
}

/** The rows querySubset keeps, ascending (null: all). */
function querySubsetRows(count: number, maxQueries: number, seed: number): number[] | null {
  if (maxQueries === 0 || maxQueries >= count) return null;
  const all = Array.from({ length: count }, (_, i) => i);
  return new Prng(seed).fork('sensitivity-queries').shuffle(all).slice(0, maxQueries).sort((a, b) => a - b);
}

/** The dataset rows a scan evaluates on (null: all of that split), for the embedding cache. */
export function sensitivityRows(dataset: ReidDataset, req: SensitivityRequest): { query: number[] | null; gallery: number[] | null } {
  const ids = req.maxIdentities ?? 0;
  const sub = ids === 0 ? null : evaluationSubsetRows(dataset, ids, req.seed);
  const q = querySubsetRows(sub ? sub.query.length : dataset.query.count, req.maxQueries, req.seed);
  const query = sub ? (q ? q.map((i) => sub.query[i]) : sub.query) : q;
  return { query, gallery: sub ? sub.gallery : null };
}

function checkRequest(req: SensitivityRequest): void {
  if (!Array.isArray(req.rates) || req.rates.length === 0) throw new LabError('bad-argument', 'A sensitivity scan needs at least one pruning rate.');
  for (const r of req.rates) {
    if (typeof r !== 'number' || !(r > 0 && r < 1)) throw new LabError('bad-argument', `Every sensitivity rate must be above 0 and below 1; found ${String(r)}.`);
  }
  if (new Set(req.rates).size !== req.rates.length) throw new LabError('bad-argument', `The sensitivity rates must differ from each other; got ${req.rates.join(', ')}.`);
  const ids = req.maxIdentities ?? 0;
  if (!Number.isInteger(ids) || ids < 0 || ids === 1) throw new LabError('bad-argument', `The identity limit must be a whole number of at least 2 (0 for all identities); got ${String(req.maxIdentities)}.`);
  if (!Number.isInteger(req.maxQueries) || req.maxQueries < 0) throw new LabError('bad-argument', `The query limit must be a whole number (0 for all queries); got ${String(req.maxQueries)}.`);
  if (req.scope !== 'inner' && req.scope !== 'inner+trunk') throw new LabError('bad-argument', `The scope must be "inner" or "inner+trunk"; got "${String(req.scope)}".`);
}

/** The images a scan evaluates on: the identity subset, then at most maxQueries of its queries. */
export function sensitivityEvaluation(dataset: ReidDataset, req: SensitivityRequest): { query: ReidSplit; gallery: ReidSplit } {
  const ids = req.maxIdentities ?? 0;
  const sub = ids === 0 ? { query: dataset.query, gallery: dataset.gallery } : evaluationSubset(dataset, ids, req.seed);
  return { query: querySubset(sub.query, req.maxQueries, req.seed), gallery: sub.gallery };
}

export function planSensitivity(model: ReidModel, dataset: ReidDataset, req: SensitivityRequest): SensitivityPlan {
  checkRequest(req);
  const groups = prunableGroups(model.spec, req.scope).length;
  const ev = sensitivityEvaluation(dataset, req);
  return { groups, rates: req.rates.length, evaluations: 1 + groups * req.rates.length, queries: ev.query.count, gallery: ev.gallery.count };
}

function eta(sec: number): string {
  if (!Number.isFinite(sec)) return '';
  return sec < 60 ? ` · about ${Math.ceil(sec)} s left` : ` · about ${Math.floor(sec / 60)} min ${Math.ceil(sec % 60)} s left`;
}

export async function runSensitivity(
  dense: { model: ReidModel; name: string },
  dataset: ReidDataset,
  fineTuneSplit: ReidSplit | undefined,
  req: SensitivityRequest,
  job: Job,
  /** The dense model's embeddings: the scan's unpruned baseline reuses (and fills) them; masked cells never do. */
  cache?: { embeddings: EmbeddingCache; stateKey: string },
): Promise<SensitivityOutcome> {
  const criterion = getCriterion(req.criterion);
  const plan = planSensitivity(dense.model, dataset, req);
  const needsData = requiresData(criterion);
  if (needsData && !fineTuneSplit) throw new LabError('bad-dataset', `${criterion.name} scores channels on images; load a dataset with a training split first.`);
  const criterionData: CriterionData | undefined = wantsData(criterion) && fineTuneSplit ? { split: fineTuneSplit, batches: 2, batchSize: Math.min(16, fineTuneSplit.count) } : undefined;
  const evaluation = sensitivityEvaluation(dataset, req);
  let extract: EvaluateOptions['extract'];
  if (cache) {
    const rows = sensitivityRows(dataset, req);
    extract = (split, which, o) =>
      o.masks ? extractFeatures(dense.model, split, o) : cache.embeddings.features(dense.model, cache.stateKey, which === 'query' ? dataset.query : dataset.gallery, rows[which], o);
  }
  const t0 = performance.now();
  job.progress(0, `Scoring channels with ${criterion.name}`);
  let firstEvalAt = NaN;
  const r = await sensitivity(dense.model, {
    criterion,
    rates: req.rates,
    scope: req.scope,
    seed: req.seed,
    criterionData,
    evaluation,
    evaluateOptions: { batchSize: 32, ...(extract ? { extract } : {}) },
    signal: job.signal,
    beforeCell: yieldToEventLoop,
    onProgress: (done, total, cell) => {
      // The first evaluation includes scoring and warm-up; the ETA uses the ones after it.
      if (done === 1) firstEvalAt = performance.now();
      const per = done > 1 ? (performance.now() - firstEvalAt) / (done - 1) / 1000 : NaN;
      const what = cell.group === '' ? 'unpruned baseline' : `${groupLabel(cell.group)} at ${Math.round(cell.rate * 100)}%`;
      job.progress(done / total, `Evaluation ${done} of ${total} (${what})${eta(per * (total - done))}`, undefined, done === total);
    },
  });
  return {
    model: dense.name,
    criterion: criterion.id,
    criterionName: criterion.name,
    scope: req.scope,
    groups: r.groups.map((g) => ({ id: g.id, label: groupLabel(g.id), channels: g.channels })),
    rates: r.rates,
    baseline: r.baseline,
    mAP: r.mAP,
    rank1: r.rank1,
    kept: r.kept,
    macs: r.macs,
    evaluations: plan.evaluations,
    queries: evaluation.query.count,
    gallery: evaluation.gallery.count,
    ms: performance.now() - t0,
  };
}
