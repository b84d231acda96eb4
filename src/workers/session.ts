/**
 * What the worker holds between calls: the dense model (loaded from the zoo or opened by the
 * user), the current model (pruned and/or fine-tuned from it), the dataset, and the fine-tuning
 * subset. Every operation either completes and replaces the current model, or leaves it as it
 * was (the engine's strategies work on copies; a cancelled fine-tune keeps its finished steps).
 */
import { LabError, isLabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import type { ReidDataset, ReidSplit } from '../engine/data/types';
import { evaluateKind, type EvaluationKind } from '../engine/eval/quick';
import { EmbeddingCache } from '../engine/eval/embedding-cache';
import { fineTune } from '../engine/train/finetune';
import { recalibrateBatchNorm } from '../engine/train/bn-recalibrate';
import { fineTunePtl } from '../engine/ptl/ptl-finetune';
import { PtlSideBranch } from '../engine/ptl/side-branch';
import type { Embedder, ExtractOptions } from '../engine/eval/extract';
import type { FeatureMatrix } from '../engine/eval/distance';
import { CRITERIA, getCriterion } from '../engine/prune/criteria';
import { pruneOnce } from '../engine/prune/strategies/once';
import { applyPlan, type PrunePlan } from '../engine/prune/plan';
import { parsePlan } from '../engine/prune/plan-json';
import { pruneIterative } from '../engine/prune/strategies/iterative';
import { pruneSoft } from '../engine/prune/strategies/soft';
import type { StrategyProgress, StrategyResult } from '../engine/prune/strategies/common';
import type { PruneSettingsInput } from '../engine/prune/settings';
import { requiresData, wantsData, type CriterionData } from '../engine/prune/criterion';
import type {
  BackendName,
  CostPoint,
  CriterionInfo,
  EvalSummary,
  FineTuneOutcome,
  FineTuneRequest,
  FineTuneSplitSummary,
  LatencyResult,
  Lineage,
  ModelState,
  ModelSummary,
  PruneOutcome,
  PruneRecord,
  PruneRequest,
  RecalibrateOutcome,
  RecalibrateRequest,
} from './api';
import { yieldToEventLoop, type Job } from './jobs';
import { measureLatency } from './latency';
import { measureLatencyPair } from '../engine/cost/latency-pair';
import { summarizeSpec } from './summary';
import { copyBranch, ptlConfigFor, ptlInfo, sameBranchShape } from './ptl';

/**
 * The page never keeps a model with NaN or infinite weights: a loss can stay finite while the
 * gradients are not (a ReLU of NaN is 0), so the trained copy is read back once and checked.
 */
async function requireFiniteWeights(model: ReidModel, branch: PtlSideBranch | null, steps: number, lr: number): Promise<void> {
  const arrays = [...(await model.toArrays())];
  if (branch) for (const [name, v] of branch.params) arrays.push([name, (await v.data()) as Float32Array]);
  const bad = arrays.find(([, v]) => v.some((x) => !Number.isFinite(x)));
  if (bad) {
    throw new LabError('training-diverged', `Fine-tuning diverged within ${steps} step${steps === 1 ? '' : 's'}: ${bad[0]} became NaN or infinite (learning rate ${lr}). Lower the learning rate and fine-tune again.`, { tensor: bad[0], lr });
  }
}

/** Latency runs taken automatically for every new model state (batch 1). */
const AUTO_LATENCY = { batch: 1, runs: 9, warmup: 1 };

export interface DenseModel {
  model: ReidModel;
  name: string;
  source: ModelSummary['source'];
  /** The file's own account of the model's past (safetensors from the PyTorch companion). */
  history?: string;
}

export class LabSession {
  private dense: DenseModel | null = null;
  private current: ReidModel | null = null;
  private state: ModelState | null = null;
  private stateCounter = 0;
  /** Unique to this worker, so state keys (and the runs keyed by them) never collide across workers or visits. */
  private readonly nonce = `${Date.now().toString(36)}-${(globalThis.crypto?.randomUUID?.() ?? '').slice(0, 8)}`;
  /** The current model's PTL side branch, if its last fine-tune used PTL (see ptl.ts). */
  private branch: PtlSideBranch | null = null;
  dataset: ReidDataset | null = null;
  fineTuneSplit: { split: ReidSplit; summary: FineTuneSplitSummary } | null = null;
  /** Embeddings per model state and split: evaluations and ranked lists of one state embed each image once. */
  readonly embeddings = new EmbeddingCache();
  /** Counts dense models, so the dense model's cache key outlives resets (which make new states of the same weights). */
  private denseCounter = 0;

  constructor(private readonly backend: () => BackendName) {}

  get modelState(): ModelState | null {
    return this.state;
  }

  /** The dense model (loaded or opened), which pruning and the sensitivity scan start from. */
  requireDense(): DenseModel {
    if (!this.dense) throw new LabError('bad-argument', 'No model is loaded yet.');
    return this.dense;
  }

  /** For persistence (model-store.ts): the dense model and the current one. */
  get denseModel(): DenseModel | null {
    return this.dense;
  }

  get currentModel(): ReidModel | null {
    return this.current;
  }

  /** Put back a saved model derived from the dense one, with its lineage and its state key. */
  restoreCurrent(m: ReidModel, lineage: Lineage, key: string): ModelState {
    this.setCurrent(m, lineage);
    this.state = { ...this.state!, key };
    return this.state;
  }

  requireModel(): ReidModel {
    if (!this.current) throw new LabError('bad-argument', 'No model is loaded yet.');
    return this.current;
  }

  /** What evaluation and latency run: the current model, with its PTL branch when it has one. */
  embedder(): Embedder {
    const m = this.requireModel();
    return this.branch ? this.branch.embedder(m) : m;
  }

  /** Keep `b` as the current model's branch, disposing the one it replaces. */
  private setBranch(b: PtlSideBranch | null): void {
    if (this.branch && this.branch !== b) this.branch.dispose();
    this.branch = b;
  }

  requireDataset(): ReidDataset {
    if (!this.dataset) throw new LabError('bad-dataset', 'No dataset is loaded yet: generate SynthReID or drop a dataset folder first.');
    return this.dataset;
  }

  requireFineTuneSplit(): ReidSplit {
    if (!this.fineTuneSplit) throw new LabError('bad-dataset', 'No fine-tuning subset yet: load a dataset with a training split first.');
    return this.fineTuneSplit.split;
  }

  private newState(lineage: Lineage): ModelState {
    const m = this.requireModel();
    this.state = { stateId: ++this.stateCounter, summary: summarizeSpec(m.spec, this.dense!.name, this.dense!.source), lineage, latency: null };
    this.state.key = `${this.nonce}.${this.state.stateId}`;
    return this.state;
  }

  /** The part of every lineage that describes the dense model. */
  private denseLineage(): Pick<Lineage, 'base' | 'baseSource' | 'history'> {
    const d = this.dense!;
    return d.history ? { base: d.name, baseSource: d.source, history: d.history } : { base: d.name, baseSource: d.source };
  }

  /** The embedding-cache key of the dense model (pinned: its gallery is embedded once per dataset). */
  get denseEmbeddingKey(): string {
    return `${this.nonce}.dense${this.denseCounter}`;
  }

  /** The embedding-cache key of what evaluation runs: the dense key while the current model is the dense one. */
  embeddingKey(): string {
    if (this.dense && this.current === this.dense.model && !this.branch) return this.denseEmbeddingKey;
    return this.state?.key ?? `${this.nonce}.none`;
  }

  /**
   * Embeddings for the ranked lists, from the cache: after an evaluation of this state (or of
   * the dense model) nothing is embedded again. The lists rank with the backbone alone, while a
   * PTL model's evaluation adds its branch, so a PTL state's backbone embeddings are kept apart.
   */
  rankedListFeatures(): (m: ReidModel, split: ReidSplit, o: ExtractOptions) => Promise<FeatureMatrix> {
    const dense = this.requireDense().model;
    const current = this.embeddingKey() + (this.state?.lineage.ptl ? '|backbone' : '');
    return (m, split, o) => this.embeddings.features(m, m === dense ? this.denseEmbeddingKey : current, split, null, o);
  }

  /** Replace the dense model (and with it the current one). */
  setDense(d: DenseModel): ModelState {
    if (this.current && this.current !== this.dense?.model) this.current.dispose();
    this.dense?.model.dispose();
    this.setBranch(null);
    this.embeddings.forget(this.denseEmbeddingKey);
    this.denseCounter++;
    this.embeddings.pin(this.denseEmbeddingKey);
    this.dense = d;
    this.current = d.model;
    return this.newState({ ...this.denseLineage(), fineTuneSteps: 0 });
  }

  /** Swap in a new current model (never the dense one), disposing the old current. */
  private setCurrent(m: ReidModel, lineage: Lineage, branch: PtlSideBranch | null = null): ModelState {
    if (this.current && this.current !== this.dense?.model && this.current !== m) this.current.dispose();
    this.setBranch(branch);
    // A lineage that names a PTL branch this model no longer has (e.g. restored from storage,
    // which keeps the backbone only) would count a cost the evaluation does not run.
    if (!branch && lineage.ptl) {
      lineage = { ...lineage };
      delete lineage.ptl;
    }
    this.current = m;
    return this.newState(lineage);
  }

  reset(): ModelState {
    if (!this.dense) throw new LabError('bad-argument', 'No model is loaded yet.');
    if (this.current !== this.dense.model) this.current?.dispose();
    this.setBranch(null);
    this.current = this.dense.model;
    return this.newState({ ...this.denseLineage(), fineTuneSteps: 0 });
  }

  /**
   * Latency of the current model (batch 1), remembered in its state. A pruned or fine-tuned model
   * is timed interleaved with the dense one in the same call (engine/cost/latency-pair.ts), so its
   * speed-up is a ratio from one run under one load, and the dense model's figure is refreshed too.
   */
  async measureLatency(job: Job): Promise<ModelState> {
    const state = this.state;
    const dense = this.dense;
    const current = this.embedder();
    let r: LatencyResult;
    if (!dense || current === dense.model) {
      r = await measureLatency(current, this.backend(), AUTO_LATENCY, job);
    } else {
      const pair = await measureLatencyPair(dense.model, current, {
        batch: AUTO_LATENCY.batch,
        warmup: AUTO_LATENCY.warmup,
        runs: AUTO_LATENCY.runs,
        shouldCancel: () => job.signal.aborted,
        onPair: async (done, total) => {
          job.progress(done / total, `Timing the dense and the current model in turn: ${done} of ${total}`);
          await yieldToEventLoop();
        },
      });
      const c = pair.b;
      r = {
        backend: this.backend(),
        batch: AUTO_LATENCY.batch,
        input: { ...current.spec.input },
        runs: c.runs,
        medianMs: c.medianMs,
        p10Ms: c.p10Ms,
        p90Ms: c.p90Ms,
        imagesPerSecond: (AUTO_LATENCY.batch * 1000) / c.medianMs,
        spread: c.spread,
        busy: pair.busy,
        dense: { medianMs: pair.a.medianMs, p10Ms: pair.a.p10Ms, p90Ms: pair.a.p90Ms, runs: pair.a.runs, spread: pair.a.spread },
        speedup: pair.speedup,
      };
      const summary = summarizeSpec(dense.model.spec, dense.name, dense.source);
      this.denseCost = { macs: summary.macs, params: summary.params, latencyMs: pair.a.medianMs };
    }
    if (state && this.state === state) this.state = { ...state, latency: r };
    return this.state!;
  }

  /** Quick (a seeded subset of the query identities, whole gallery) or full evaluation, with a 95% interval. */
  async evaluate(job: Job, kind: EvaluationKind = 'full'): Promise<EvalSummary> {
    if (kind !== 'quick' && kind !== 'full') throw new LabError('bad-argument', `An evaluation is "quick" or "full"; got "${String(kind)}".`);
    const d = this.requireDataset();
    const t0 = performance.now();
    let queries = d.query.count;
    const r = await evaluateKind(this.embedder(), d, {
      kind,
      batchSize: 32,
      signal: job.signal,
      cache: { embeddings: this.embeddings, stateKey: this.embeddingKey() },
      onProgress: (p) => {
        if (p.phase === 'query') queries = p.total;
        const total = queries + d.gallery.count;
        const done = p.phase === 'query' ? p.done : p.phase === 'gallery' ? queries + p.done : total;
        job.progress((0.95 * done) / total + (p.phase === 'ranking' ? (0.05 * p.done) / p.total : 0), p.phase === 'ranking' ? 'Ranking the gallery' : `Embedding ${p.phase} images: ${p.done} of ${p.total}`);
      },
    });
    return {
      kind,
      interval: { mAP: r.interval.mAP, rank1: r.interval.rank1, level: r.interval.level, identities: r.interval.identities },
      testIdentities: r.testIdentities,
      ofTestIdentities: r.ofTestIdentities,
      mAP: r.mAP,
      rank1: r.rank1,
      rank5: r.rank5,
      rank10: r.rank10,
      mINP: r.mINP,
      numQueries: r.numQueries,
      numValidQueries: r.numValidQueries,
      numGallery: r.numGallery,
      dataset: d.name,
      ms: performance.now() - t0,
    };
  }

  criteria(): CriterionInfo[] {
    return Object.values(CRITERIA).map((c) => ({
      id: c.id,
      name: c.name,
      needs: c.needs,
      usesDataWhenGiven: !!c.usesDataWhenGiven,
      explanation: c.explanation,
      formula: c.formula,
      globalNormalisation: c.globalNormalisation,
    }));
  }

  private costOf(state: ModelState): CostPoint {
    return { macs: state.summary.macs, params: state.summary.params, latencyMs: state.latency?.medianMs ?? null };
  }

  /** Prune the DENSE model with the request's criterion, target and strategy. */
  async prune(req: PruneRequest, job: Job): Promise<PruneOutcome> {
    if (!this.dense) throw new LabError('bad-argument', 'No model is loaded yet.');
    const criterion = getCriterion(req.criterion);
    const strategy = req.strategy ?? 'once';
    if (!['once', 'iterative', 'soft'].includes(strategy)) throw new LabError('bad-argument', `Unknown pruning strategy "${String(strategy)}"; expected once, iterative or soft.`);
    const settings: PruneSettingsInput = {
      criterion: criterion.id,
      ...(req.target?.kind === 'macs' ? { macsTarget: req.target.keep } : { rate: req.target?.kind === 'rate' ? req.target.rate : NaN }),
      scope: req.scope,
      ranking: req.ranking,
      seed: req.seed,
    };
    // Required data is an error without a split; optional data (COP) is used when there is one.
    const needsData = requiresData(criterion);
    const ftSplit = this.fineTuneSplit?.split;
    if ((needsData || strategy !== 'once') && !ftSplit) {
      throw new LabError('bad-dataset', `${needsData ? `${criterion.name} scores channels on images` : `The ${strategy} strategy fine-tunes while pruning`}; load a dataset with a training split first.`);
    }
    const criterionData: CriterionData | undefined = wantsData(criterion) && ftSplit ? { split: ftSplit, batches: 2, batchSize: Math.min(16, ftSplit.count) } : undefined;
    const evaluation = this.dataset ? { query: this.dataset.query, gallery: this.dataset.gallery } : undefined;

    const onProgress = (p: StrategyProgress) => job.progress(0.9 * p.fraction, p.message);
    const base = { signal: job.signal, onProgress, evaluation, criterionData };
    const lr = req.lr ?? 1e-4;
    const p = ftSplit ? Math.min(8, new Set(ftSplit.pids).size) : 8;
    const ftConfig = { lr, p, k: 4 };
    const rounds = req.rounds ?? 3;
    let result: StrategyResult;
    if (strategy === 'once') {
      result = await pruneOnce(this.dense.model, { ...base, criterion, settings });
    } else if (strategy === 'iterative') {
      result = await pruneIterative(this.dense.model, {
        ...base,
        criterion,
        settings,
        rounds,
        fineTune: { split: ftSplit!, config: { optimizer: { lr: ftConfig.lr }, p: ftConfig.p, k: ftConfig.k }, imagesPerRound: (req.stepsPerRound ?? 5) * ftConfig.p * ftConfig.k },
      });
    } else {
      result = await pruneSoft(this.dense.model, {
        ...base,
        variant: criterion.id === 'fpgm' ? 'fpgm' : 'psfp',
        criterion,
        settings,
        train: { split: ftSplit!, config: { optimizer: { lr: ftConfig.lr }, p: ftConfig.p, k: ftConfig.k } },
        epochs: rounds,
        stepsPerEpoch: req.stepsPerRound ?? 5,
      });
    }
    const last = result.plans[result.plans.length - 1];
    const record: PruneRecord = {
      criterion: criterion.id,
      criterionName: criterion.name,
      strategy,
      target: req.target,
      scope: last.settings.scope,
      ranking: last.settings.ranking,
      rate: last.rate,
      removedFraction: last.removedFraction,
      targetMet: last.targetMet,
      ...(last.message ? { message: last.message } : {}),
    };
    const steps = strategy === 'once' ? 0 : undefined;
    let bnRecalibrated: number | undefined;
    if (req.recalibrateBn && this.dataset && this.dataset.train.count >= 2) {
      // The pruned model is a new one (never the dense): recalibrate it before it becomes current.
      try {
        const r = await recalibrateBatchNorm(result.model, this.dataset.train, {
          seed: req.seed,
          signal: job.signal,
          betweenBatches: yieldToEventLoop,
          onProgress: (done, total) => job.progress(0.9 + (0.02 * done) / total, `Recalibrating BatchNorm: ${done} of ${total} training images`),
        });
        bnRecalibrated = r.images;
      } catch (e) {
        result.model.dispose();
        throw e;
      }
    }
    this.setCurrent(result.model, { ...this.denseLineage(), prune: record, fineTuneSteps: steps ?? 0, ...(bnRecalibrated ? { bnRecalibrated } : {}) });
    job.progress(0.92, 'Timing the pruned and the dense model in turn');
    // Interleaved with the dense model: before and after latencies from one run under one load.
    const state = await this.measureLatency(job);
    const d = summarizeSpec(this.dense.model.spec, this.dense.name, this.dense.source);
    const before: CostPoint = { macs: d.macs, params: d.params, latencyMs: state.latency?.dense?.medianMs ?? this.denseCost?.latencyMs ?? null };
    job.progress(1, 'Pruned');
    return { before, after: this.costOf(state), state };
  }

  /**
   * A pruning plan JSON (docs/PRUNING_PLAN.md) applied to the DENSE model, as if it had been
   * pruned here with the plan's criterion and settings. The plan must be for exactly this
   * architecture (parsePlan says what differs); a reconstructing criterion needs its data.
   */
  async applyPlanJson(text: string, name: string, job: Job): Promise<PruneOutcome> {
    if (!this.dense) throw new LabError('bad-argument', 'No model is loaded yet.');
    let plan: PrunePlan;
    try {
      plan = parsePlan(text, this.dense.model.spec);
    } catch (e) {
      throw isLabError(e) ? new LabError(e.code, `${name} cannot be applied to ${this.dense.name}: ${e.message}`, e.detail) : e;
    }
    const criterion = getCriterion(plan.criterion);
    const ftSplit = this.fineTuneSplit?.split;
    if (plan.reconstructs && !ftSplit) {
      throw new LabError('bad-dataset', `${name} was made with ${plan.criterionName}, which rebuilds the next layers' weights from images; load a dataset with a training split first.`);
    }
    job.progress(0.3, `Applying ${name}`);
    const data = plan.reconstructs && ftSplit ? { split: ftSplit, batches: 2, batchSize: Math.min(16, ftSplit.count) } : undefined;
    const model = await applyPlan(this.dense.model, plan, { criterion, ...(data ? { data } : {}), signal: job.signal });
    if (job.signal.aborted) model.dispose();
    job.throwIfCancelled();
    const t = plan.settings.target;
    const record: PruneRecord = {
      criterion: criterion.id,
      criterionName: criterion.name,
      strategy: 'once',
      target: t.kind === 'macs' ? { kind: 'macs', keep: t.keep } : { kind: 'rate', rate: plan.rate },
      scope: plan.settings.scope,
      ranking: plan.settings.ranking,
      rate: plan.rate,
      removedFraction: plan.removedFraction,
      targetMet: plan.targetMet,
      message: `Applied the pruning plan ${name} (${plan.criterionName}, ${Math.round(plan.removedFraction * 100)}% of prunable channels removed).`,
    };
    this.setCurrent(model, { ...this.denseLineage(), prune: record, fineTuneSteps: 0 });
    job.progress(0.92, 'Timing the pruned and the dense model in turn');
    const state = await this.measureLatency(job);
    const d = summarizeSpec(this.dense.model.spec, this.dense.name, this.dense.source);
    const before: CostPoint = { macs: d.macs, params: d.params, latencyMs: state.latency?.dense?.medianMs ?? this.denseCost?.latencyMs ?? null };
    job.progress(1, 'Applied the plan');
    return { before, after: this.costOf(state), state };
  }

  /** The dense model's cost, its latency from the last interleaved measurement. */
  private denseCost: CostPoint | null = null;

  /** Forget the dense model's measured cost (a new dense model). */
  clearDenseCost(): void {
    this.denseCost = null;
  }

  /**
   * Re-estimate the current model's BatchNorm statistics on training images (forward only): a
   * new model state. The dense model itself is never changed (a copy is recalibrated); a PTL
   * model keeps its branch (whose statistics the backbone's do not include).
   */
  async recalibrateBn(req: RecalibrateRequest, job: Job, progressSpan: [number, number] = [0, 0.97]): Promise<RecalibrateOutcome> {
    const d = this.requireDataset();
    if (d.train.count < 2) throw new LabError('bad-dataset', `BatchNorm recalibration runs training images, and ${d.name} has ${d.train.count}; load a dataset with a training split.`);
    const copy = this.current === this.dense?.model;
    const model = copy ? await this.requireModel().clone() : this.requireModel();
    const [a, b] = progressSpan;
    try {
      const r = await recalibrateBatchNorm(model, d.train, {
        ...(req.images !== undefined ? { images: req.images } : {}),
        seed: req.seed,
        signal: job.signal,
        betweenBatches: yieldToEventLoop,
        onProgress: (done, total) => job.progress(a + ((b - a) * done) / total, `Recalibrating BatchNorm: ${done} of ${total} training images`),
      });
      const prior = this.state!.lineage;
      const state = this.setCurrent(model, { ...prior, bnRecalibrated: r.images }, this.branch);
      return { images: r.images, layers: r.layers, ms: r.ms, state };
    } catch (e) {
      if (copy) model.dispose();
      throw e;
    }
  }

  async fineTune(req: FineTuneRequest, job: Job): Promise<FineTuneOutcome> {
    const split = this.requireFineTuneSplit();
    const d = this.requireDataset();
    const steps = req.steps;
    if (!Number.isInteger(steps) || steps < 1 || steps > 100000) throw new LabError('bad-argument', `Fine-tuning steps must be a whole number from 1 to 100000; got ${String(steps)}.`);
    if (!(typeof req.lr === 'number' && req.lr > 0 && req.lr < 1)) throw new LabError('bad-argument', `The learning rate must be a number above 0 and below 1; got ${String(req.lr)}.`);
    const trainFromStage = req.trainFromStage ?? 0;
    if (!Number.isInteger(trainFromStage) || trainFromStage < 0 || trainFromStage > 4) throw new LabError('bad-argument', `The first fine-tuned stage must be a whole number from 1 to 4 (0: the whole network); got ${String(req.trainFromStage)}.`);
    if (trainFromStage > 0 && req.ptl) throw new LabError('bad-argument', 'PTL trains a side branch that reads every stage, so it cannot fine-tune the last stages only; switch one of them off.');
    const ids = new Set<number>();
    for (const p of split.pids) if (p > 0) ids.add(p);
    const p = Math.min(8, ids.size);
    const k = 4;
    if (req.recalibrateBn) {
      await this.recalibrateBn({ seed: req.seed }, job, [0, 0.1]);
      job.progress(0.1, 'BatchNorm recalibrated; fine-tuning');
    }
    const prior = this.state!.lineage;
    // PTL: continue the current branch when its shape matches, else a fresh one (seeded). A plain
    // fine-tune of a PTL model drops the branch: the model is a plain backbone again.
    const ptlCfg = req.ptl ? ptlConfigFor(req.ptl, req.seed) : null;
    const continued = ptlCfg && this.branch && sameBranchShape(this.branch.config, ptlCfg) ? this.branch : null;
    // Fine-tuning trains a copy, so a failure (a diverging run, out of memory) leaves the model as
    // it was; a continued PTL branch is copied for the same reason.
    const model = await this.requireModel().clone();
    const branch = ptlCfg ? (continued ? copyBranch(model.spec, continued) : PtlSideBranch.create(model.spec, ptlCfg)) : null;
    let done = 0;
    let buffer: { step: number; loss: number }[] = [];
    let lastLoss = NaN;
    const finish = () => {
      const lineage: Lineage = { ...prior, fineTuneSteps: prior.fineTuneSteps + done };
      delete lineage.ptl;
      if (branch) lineage.ptl = ptlInfo(model.spec, branch, (continued ? (prior.ptl?.steps ?? 0) : 0) + done);
      return this.setCurrent(model, lineage, branch);
    };
    const train = branch
      ? (...a: Parameters<typeof fineTune>) => fineTunePtl(a[0], a[1], a[2], a[3], { ...a[4], branch })
      : fineTune;
    try {
      const r = await train(
        model,
        split,
        { steps, seed: req.seed, p, k, optimizer: { lr: req.lr }, trainFromStage },
        {
          signal: job.signal,
          progressIntervalMs: 0,
          afterStep: async (m) => {
            // The trainer refuses non-finite steps itself (training-diverged); this is the worker's own net.
            if (!Number.isFinite(m.loss)) {
              throw new LabError('training-diverged', `Fine-tuning diverged at step ${m.step} of ${steps}: the loss became ${m.loss} (learning rate ${req.lr}). Lower the learning rate and fine-tune again.`, { step: m.step, lr: req.lr });
            }
            done = m.step;
            lastLoss = m.loss;
            buffer.push({ step: m.step, loss: m.loss });
            if (job.paused) {
              job.progress(done / steps, `Paused after step ${done} of ${steps}`, () => ({ train: { points: [], step: done, totalSteps: steps, etaSec: 0, imagesPerSec: 0, paused: true } }), true);
              await job.waitWhilePaused();
            }
          },
          onProgress: (tp) => {
            // The last step is always sent: the loss points buffered since the previous event
            // would otherwise never reach the page (the job's final event carries none).
            const last = tp.step >= tp.totalSteps;
            const sent = job.progress(
              0.97 * (tp.step / tp.totalSteps),
              `Step ${tp.step} of ${tp.totalSteps}, loss ${tp.loss.toFixed(3)}`,
              () => ({ train: { points: buffer, step: tp.step, totalSteps: tp.totalSteps, etaSec: tp.etaSec, imagesPerSec: tp.imagesPerSec, paused: false } }),
              last,
            );
            if (sent) buffer = [];
          },
        },
        { evaluation: { query: d.query, gallery: d.gallery } },
      );
      await requireFiniteWeights(model, branch, done, req.lr);
      const state = finish();
      job.progress(0.98, 'Measuring latency');
      const measured = await this.measureLatency(job).catch(() => state);
      job.progress(1, `Fine-tuned ${done} steps`);
      return { steps: r.steps, finalLoss: lastLoss, imagesPerSec: r.imagesPerSec, state: measured, ...(measured.lineage.ptl ? { ptl: measured.lineage.ptl } : {}) };
    } catch (e) {
      // Cancelled after some steps: keep them (and the branch they trained), as the trainer does.
      // Failed (diverged, out of memory, ...) or cancelled before the first step: drop the copy,
      // so the model is exactly as it was, and say so.
      if (done > 0 && isLabError(e, 'cancelled') && (await requireFiniteWeights(model, branch, done, req.lr).then(() => true, () => false))) {
        finish();
        throw e;
      }
      model.dispose();
      branch?.dispose();
      if (isLabError(e, 'cancelled')) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      const kept = ' The model was left as it was before this fine-tune.';
      throw isLabError(e) ? new LabError(e.code, msg + kept, e.detail) : new LabError('bad-argument', `Fine-tuning failed: ${msg}.${kept}`);
    }
  }
}
