/**
 * The reproduction's cell loop, shared by `lab reproduce` (Node, a JSON file cache) and the lab
 * page's Reproduce view (worker, an IndexedDB cache): load the zoo models, work out the cost
 * target (ResNet-50 pruned to ResNet-18's MACs), run every (row, seed) cell that the cache does
 * not already hold, and summarise the rows with a verdict per claim.
 *
 * Where the models and data come from, and where finished cells are kept, are the caller's:
 * this file never touches files, the network or the DOM.
 */
import { LabError, isLabError } from '../errors';
import type { ReidModel } from '../model/model';
import type { ReidDataset } from '../data/types';
import { modelCost } from '../cost/macs';
import { evaluateModel } from '../eval/evaluate';
import type { CancelSignal } from '../train/trainer';
import { hashString } from '../util/prng';
import { equalCostKeep } from './budget';
import { evaluationSubset, selectFineTuneSubset } from './subset';
import { cutOnly, runScenario } from './run';
import type { ScenarioConfig, ScenarioResult, Snapshot } from './types';
import { REQUIRED_DEPTHS, cellKey, zooName, type ReproduceRow, type ReproduceSettings, type ZooDepth } from './reproduce-plan';
import { claimVerdicts, summarizeRow, type ClaimVerdict, type RowSummary } from './report';

/** One finished cell as the cache keeps it: the full key text (compared on reuse) and its result. */
export interface CachedCell {
  text: string;
  result: ScenarioResult;
}

/** Where finished cells (and each zoo model's score before fine-tuning) are kept between runs. */
export interface ReproduceCache {
  getCell(key: string): Promise<CachedCell | undefined>;
  putCell(key: string, cell: CachedCell): Promise<void>;
  getBefore(key: string): Promise<Snapshot | undefined>;
  putBefore(key: string, snapshot: Snapshot): Promise<void>;
}

/** A cache that lives as long as the object (tests, one-off runs). */
export function memoryCache(): ReproduceCache & { cells: Map<string, CachedCell>; before: Map<string, Snapshot> } {
  const cells = new Map<string, CachedCell>();
  const before = new Map<string, Snapshot>();
  return {
    cells,
    before,
    getCell: async (k) => cells.get(k),
    putCell: async (k, c) => void cells.set(k, c),
    getBefore: async (k) => before.get(k),
    putBefore: async (k, s) => void before.set(k, s),
  };
}

/** A zoo model as the caller loaded it, with a fingerprint that changes when its weights do. */
export interface ZooModel {
  model: ReidModel;
  fingerprint: string;
  /** Set when the model's card says its training is not finished. */
  partlyTrained?: { steps: number; plannedSteps: number };
}

export interface CellInfo {
  /** 1-based position among all cells, and their number. */
  index: number;
  total: number;
  row: ReproduceRow;
  seed: number;
}

export interface ReproduceProgress {
  /** The cell being run (1-based) and the number of cells. */
  cell: number;
  cells: number;
  /** Cells the cache did not hold at the start, and how many of those have finished. */
  toRun: number;
  ran: number;
  /** 0..1 of the cells to run (the current cell's own progress included). */
  fraction: number;
  /** Seconds left, from the pace of this run so far; NaN until there is a pace. */
  etaSec: number;
  message: string;
}

export interface ReproduceHooks {
  signal?: CancelSignal;
  /** Lines worth telling a user (a model evaluated before fine-tuning, a missing model). */
  log?: (line: string) => void;
  onCellStart?: (c: CellInfo) => void;
  /** Progress within the running cell (0..1) with the scenario's message. */
  onCellProgress?: (c: CellInfo, fraction: number, message: string) => void;
  onCellDone?: (c: CellInfo, result: ScenarioResult, reused: boolean) => void;
  /** Overall progress over the cells to run, with an ETA. */
  onProgress?: (p: ReproduceProgress) => void;
}

export interface ReproduceInput {
  /** The planned rows, in the report's order (rows whose model is missing included). */
  rows: readonly ReproduceRow[];
  settings: ReproduceSettings;
  /** A zoo model by depth, or null when the zoo has none. Called once per depth; the loop disposes them. */
  loadModel: (depth: ZooDepth) => Promise<ZooModel | null>;
  /**
   * The SynthReID target (and source, when a row prunes at the source) at the models' input
   * size; called once the models are loaded.
   */
  loadData: (need: { source: boolean; height: number; width: number }) => Promise<{ target: ReidDataset; source?: ReidDataset }>;
  cache: ReproduceCache;
  /**
   * Report only what the cache holds and run nothing: for a report whose rows have different
   * numbers of seeds (the headline rows 3, the others fewer) without starting the missing cells.
   */
  cachedOnly?: boolean;
  /**
   * Rows (one-shot pruning) whose cut alone is measured: the zoo model pruned as the row prunes,
   * scored before any fine-tuning (first seed's data; cached; run even with cachedOnly: it is
   * one pruning and one evaluation per row).
   */
  measureCuts?: readonly string[];
}

/** A zoo model pruned as a row prunes it, scored before any fine-tuning. */
export interface CutResult {
  rowId: string;
  label: string;
  depth: ZooDepth;
  seed: number;
  /** The zoo model and the cut model on the target evaluation set (fractions 0..1). */
  dense: Snapshot;
  cut: Snapshot;
}

export interface ReproduceOutcome {
  /** One per planned row (n = 0 for rows not run). */
  summaries: RowSummary[];
  verdicts: ClaimVerdict[];
  /** Rows whose zoo model is missing: they are shown, not run. */
  missingRows: string[];
  missingDepths: ZooDepth[];
  /** Share of ResNet-50's MACs its pruned rows keep (ResNet-18's MACs); NaN if not computed. */
  macsKeep: number;
  fingerprints: Partial<Record<ZooDepth, string>>;
  cells: number;
  ran: number;
  reused: number;
  /** Cells neither run nor reused (stopped early). */
  notRun: number;
  cancelled: boolean;
  evaluation: { queries: number; gallery: number; targetTrain: number };
  /** The cuts asked for with measureCuts (rows that were not runnable are left out). */
  cuts: CutResult[];
  notes: string[];
  /** Wall time of this call in seconds. */
  seconds: number;
}

const now = () => performance.now();

/** FNV-1a over a model's parameters in name order: a retrained model gets a new fingerprint. */
export async function weightsFingerprint(model: ReidModel): Promise<string> {
  const arrays = await model.toArrays();
  let h = 0x811c9dc5;
  for (const name of [...arrays.keys()].sort()) {
    h = Math.imul(h ^ hashString(name), 0x01000193);
    const bytes = new Uint8Array(arrays.get(name)!.buffer);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

async function snapshot(model: ReidModel, evaluation: { query: ReidDataset['query']; gallery: ReidDataset['gallery'] }): Promise<Snapshot> {
  const r = await evaluateModel(model, evaluation);
  const c = modelCost(model.spec);
  return { macs: c.macs, params: c.params, mAP: r.mAP, rank1: r.rank1, rank5: r.rank5 };
}

/** Nothing can run (a required model is missing): every row is reported as waiting for the zoo. */
function emptyOutcome(rows: readonly ReproduceRow[], missingDepths: ZooDepth[], notes: string[], started: number): ReproduceOutcome {
  const summaries = rows.map((r) => summarizeRow(r, []));
  return {
    summaries,
    verdicts: claimVerdicts(summaries),
    missingRows: rows.map((r) => r.id),
    missingDepths,
    macsKeep: NaN,
    fingerprints: {},
    cells: 0,
    ran: 0,
    reused: 0,
    notRun: 0,
    cancelled: false,
    evaluation: { queries: 0, gallery: 0, targetTrain: 0 },
    cuts: [],
    notes,
    seconds: (now() - started) / 1000,
  };
}

/**
 * Run every (row, seed) cell of the plan that the cache does not hold, seeds outermost (so a
 * stopped run has whole seeds' worth of rows), and summarise. A cancel stops before the next
 * cell (or inside the running one, whose work is dropped) and still returns what finished.
 * Without ResNet-18 and ResNet-50 no cell runs (the cost target needs both): every row is then
 * reported as missing its model. Rows of other missing depths are skipped and named.
 */
export async function runReproduction(input: ReproduceInput, hooks: ReproduceHooks = {}): Promise<ReproduceOutcome> {
  const started = now();
  const { settings, cache } = input;
  const rows = [...input.rows];
  const notes: string[] = [];
  const log = (l: string) => hooks.log?.(l);
  const models = new Map<ZooDepth, ZooModel>();
  try {
    const depths = [...new Set([...REQUIRED_DEPTHS, ...rows.map((r) => r.depth)])];
    const missingDepths: ZooDepth[] = [];
    for (const d of depths) {
      if (hooks.signal?.aborted) throw new LabError('cancelled', 'The reproduction was cancelled while loading the zoo models.');
      const m = await input.loadModel(d);
      if (m) models.set(d, m);
      else missingDepths.push(d);
    }
    const requiredMissing = missingDepths.filter((d) => REQUIRED_DEPTHS.includes(d));
    if (requiredMissing.length) {
      notes.push(`The reproduction needs ${requiredMissing.map((d) => zooName(d, settings.width, settings.regime)).join(' and ')} (the cost target is ResNet-50 pruned to ResNet-18's MACs), and the zoo does not have ${requiredMissing.length === 1 ? 'it' : 'them'} yet: no cell was run.`);
      return emptyOutcome(rows, missingDepths, notes, started);
    }
    for (const d of missingDepths) {
      const msg = `${zooName(d, settings.width, settings.regime)} is not in the zoo yet, so its row is not run.`;
      log(msg);
      notes.push(msg);
    }
    for (const [d, m] of models) {
      if (m.partlyTrained) notes.push(`${zooName(d, settings.width, settings.regime)} is only partly trained (${m.partlyTrained.steps} of ${m.partlyTrained.plannedSteps} steps); its numbers describe that model.`);
    }
    const runnable = rows.filter((r) => models.has(r.depth));
    const r50 = models.get(50)!.model;
    const r18 = models.get(18)!.model.spec;
    const macsKeep = equalCostKeep(r50.spec, r18);
    // A pruned row's target is ResNet-18's MACs, whichever depth it prunes (ResNet-50 or -34).
    const keepOf = (d: ZooDepth) => (d === 50 ? macsKeep : equalCostKeep(models.get(d)!.model.spec, r18));
    const size = { height: r50.spec.input.height, width: r50.spec.input.width };
    const data = await input.loadData({ source: !input.cachedOnly && runnable.some((r) => r.scenario === 'prune-at-source'), ...size });
    const target = data.target;
    const evaluation = evaluationSubset(target, settings.evalIds > 0 ? settings.evalIds : Number.MAX_SAFE_INTEGER, 1);

    // Every cell, its key, and whether the cache holds it (for an honest count and ETA).
    const planned = settings.seeds.flatMap((seed) => runnable.map((row) => ({ row, seed })));
    const cells: { info: CellInfo; key: string; text: string; hit?: CachedCell }[] = [];
    for (const [i, { row, seed }] of planned.entries()) {
      const { key, text } = cellKey(row, seed, settings, models.get(row.depth)!.fingerprint, row.scenario !== 'finetune-only' ? keepOf(row.depth) : undefined);
      const hit = await cache.getCell(key);
      cells.push({ info: { index: i + 1, total: planned.length, row, seed }, key, text, ...(hit && hit.text === text ? { hit } : {}) });
    }
    const toRun = cells.filter((c) => !c.hit).length;
    // Each zoo model's score before fine-tuning, computed once and cached.
    const denseBefore = async (d: ZooDepth): Promise<Snapshot> => {
      const key = `${zooName(d, settings.width, settings.regime)}/${models.get(d)!.fingerprint}/${settings.tier}/eval${settings.evalIds}`;
      let before = await cache.getBefore(key);
      if (!before) {
        log(`Evaluating ${zooName(d, settings.width, settings.regime)} on the target before fine-tuning...`);
        before = await snapshot(models.get(d)!.model, evaluation);
        await cache.putBefore(key, before);
      }
      return before;
    };
    const results = new Map<string, ScenarioResult[]>(runnable.map((r) => [r.id, []]));
    let ran = 0;
    let reused = 0;
    let cancelled = false;
    let runStart = NaN;
    const report = (c: CellInfo, within: number, message: string) => {
      const fraction = toRun > 0 ? Math.min(1, (ran + within) / toRun) : 1;
      const elapsed = (now() - runStart) / 1000;
      const etaSec = fraction > 0 && Number.isFinite(elapsed) ? (elapsed * (1 - fraction)) / fraction : NaN;
      hooks.onProgress?.({ cell: c.index, cells: c.total, toRun, ran, fraction, etaSec, message });
    };

    for (const c of cells) {
      const { row, seed } = c.info;
      if (c.hit) {
        results.get(row.id)!.push(c.hit.result);
        reused++;
        hooks.onCellDone?.(c.info, c.hit.result, true);
        continue;
      }
      // After a cancel (or with cachedOnly) later cached cells are still collected; none runs.
      if (hooks.signal?.aborted) cancelled = true;
      if (cancelled || input.cachedOnly) continue;
      if (Number.isNaN(runStart)) runStart = now();
      hooks.onCellStart?.(c.info);
      const label = `Cell ${c.info.index} of ${c.info.total}: ${row.label}, seed ${seed}`;
      report(c.info, 0, label);
      const model = models.get(row.depth)!;
      const before = await denseBefore(row.depth);
      const cfg: ScenarioConfig = {
        scenario: row.scenario,
        budget: settings.budget,
        scope: 'inner',
        ranking: 'local',
        criterionBatches: settings.criterionBatches,
        criterionBatchSize: settings.criterionBatchSize,
        softEpochs: settings.softEpochs,
        seed,
      };
      if (row.method) cfg.method = row.method;
      if (row.scenario !== 'finetune-only') cfg.macsKeep = keepOf(row.depth);
      const fineTune = selectFineTuneSubset(target, { identities: settings.fineTuneIds, imagesPerIdentity: settings.imagesPerId, seed });
      let result: ScenarioResult;
      try {
        ({ result } = await runScenario(model.model, { fineTune, evaluation, sourceTrain: data.source?.train }, cfg, {
          ...(hooks.signal ? { signal: hooks.signal } : {}),
          before,
          onProgress: (p) => {
            hooks.onCellProgress?.(c.info, p.fraction, p.message);
            report(c.info, p.fraction, `${label} (${p.message})`);
          },
        }));
      } catch (e) {
        if (isLabError(e, 'cancelled')) {
          cancelled = true;
          continue;
        }
        throw e;
      }
      await cache.putCell(c.key, { text: c.text, result });
      results.get(row.id)!.push(result);
      ran++;
      report(c.info, 0, `${label}: done`);
      hooks.onCellDone?.(c.info, result, false);
    }

    const cuts: CutResult[] = [];
    for (const row of runnable.filter((r) => input.measureCuts?.includes(r.id) && r.method)) {
      if (hooks.signal?.aborted) break;
      const seed = settings.seeds[0];
      const keep = keepOf(row.depth);
      const m = models.get(row.depth)!;
      const cutKey = `cut/${cellKey(row, seed, settings, m.fingerprint, keep).key}`;
      let cut = await cache.getBefore(cutKey);
      if (!cut) {
        if (row.scenario === 'prune-at-source' && !data.source) continue; // no source data in this call
        log(`Measuring the cut alone: ${row.label} on ${zooName(row.depth, settings.width, settings.regime)}, before fine-tuning...`);
        const fineTune = selectFineTuneSubset(target, { identities: settings.fineTuneIds, imagesPerIdentity: settings.imagesPerId, seed });
        const cfg: ScenarioConfig = { scenario: row.scenario, method: row.method, macsKeep: keep, budget: settings.budget, scope: 'inner', ranking: 'local', criterionBatches: settings.criterionBatches, criterionBatchSize: settings.criterionBatchSize, seed };
        try {
          cut = await cutOnly(m.model, { fineTune, evaluation, sourceTrain: data.source?.train }, cfg, hooks.signal ? { signal: hooks.signal } : {});
        } catch (e) {
          if (isLabError(e, 'cancelled')) break;
          throw e;
        }
        await cache.putBefore(cutKey, cut);
      }
      cuts.push({ rowId: row.id, label: row.label, depth: row.depth, seed, dense: await denseBefore(row.depth), cut });
    }

    const summaries = rows.map((r) => summarizeRow(r, results.get(r.id) ?? []));
    const notRun = cells.length - ran - reused;
    if (notRun > 0 && input.cachedOnly) {
      const short = summaries.filter((x) => runnable.includes(x.row) && x.n < settings.seeds.length).map((x) => `${x.row.label} (${x.n} of ${settings.seeds.length})`);
      notes.push(`Reported from the cache only: ${notRun} of ${cells.length} planned cells were not run. Rows with fewer seeds than planned: ${short.join(', ')}.`);
    } else if (notRun > 0) notes.push(`${notRun} of ${cells.length} cells have not run yet (stopped early); run again to finish them.`);
    const fingerprints: Partial<Record<ZooDepth, string>> = {};
    for (const [d, m] of models) fingerprints[d] = m.fingerprint;
    return {
      summaries,
      verdicts: claimVerdicts(summaries),
      missingRows: rows.filter((r) => !models.has(r.depth)).map((r) => r.id),
      missingDepths,
      macsKeep,
      fingerprints,
      cells: cells.length,
      ran,
      reused,
      notRun,
      cancelled,
      evaluation: { queries: evaluation.query.count, gallery: evaluation.gallery.count, targetTrain: target.train.count },
      cuts,
      notes,
      seconds: (now() - started) / 1000,
    };
  } finally {
    for (const m of models.values()) m.model.dispose();
  }
}
