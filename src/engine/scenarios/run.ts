/**
 * Running one scenario: the pipelines of types.ts on a model, with the same fine-tuning budget
 * (images seen) and, for the pruning scenarios, a MACs target. The input model is never changed;
 * intermediate models are released; the result is plain data (and the final model on request).
 */
import { LabError } from '../errors';
import type { ReidModel } from '../model/model';
import { modelCost } from '../cost/macs';
import { evaluateModel } from '../eval/evaluate';
import { fineTune } from '../train/finetune';
import { NO_AUGMENT } from '../train/augment';
import { assertDisjointIdentities } from '../train/identities';
import type { TrainConfigInput } from '../train/config';
import type { CancelSignal, TrainResult } from '../train/trainer';
import { wantsData, type CriterionData, type CriterionId } from '../prune/criterion';
import { getCriterion } from '../prune/criteria/index';
import type { PruneSettingsInput } from '../prune/settings';
import { pruneOnce } from '../prune/strategies/once';
import { pruneSoft } from '../prune/strategies/soft';
import { pruneAutoBalanced } from '../prune/strategies/auto-balanced';
import type { StrategyProgress } from '../prune/strategies/common';
import type { PrunePlan } from '../prune/plan';
import type { ReidSplit } from '../data/types';
import { imagesFor, softEpochs, splitSteps, validateBudget } from './budget';
import { SCENARIO_NUMBER, SOFT_METHODS, type ScenarioConfig, type ScenarioData, type ScenarioResult, type ScenarioStep, type ScenarioStepKind, type Snapshot } from './types';

export interface ScenarioProgress {
  phase: ScenarioStepKind;
  /** Overall progress, 0..1 (by training steps done; evaluation and pruning are short). */
  fraction: number;
  message: string;
}

export interface RunScenarioOptions {
  signal?: CancelSignal;
  onProgress?: (p: ScenarioProgress) => void;
  /** The input model's snapshot on the same evaluation set, when already known (skips an evaluation). */
  before?: Snapshot;
  /** Return the final model (the caller disposes it); otherwise it is released. */
  keepModel?: boolean;
  /** Images per forward pass in evaluation. */
  evalBatchSize?: number;
}

const now = () => performance.now();

function bad(message: string): never {
  throw new LabError('bad-argument', message);
}

/** Check a config's scenario/method pairing and targets; returns the method's kind. */
export function validateScenarioConfig(c: ScenarioConfig): 'none' | 'one-shot' | 'auto-balanced' | 'soft' {
  if (!(c.scenario in SCENARIO_NUMBER)) bad(`Unknown scenario ${JSON.stringify(c.scenario)}; expected one of ${Object.keys(SCENARIO_NUMBER).join(', ')}.`);
  validateBudget(c.budget);
  if (!Number.isInteger(c.seed)) bad(`The seed must be a whole number; got ${String(c.seed)}.`);
  if (c.scenario === 'finetune-only') {
    if (c.method) bad(`Scenario 4 fine-tunes without pruning; it takes no pruning method (got "${c.method}").`);
    return 'none';
  }
  if (!c.method) bad(`Scenario ${SCENARIO_NUMBER[c.scenario]} prunes; give a pruning method.`);
  if (!(typeof c.macsKeep === 'number' && c.macsKeep > 0 && c.macsKeep <= 1)) {
    bad(`Scenario ${SCENARIO_NUMBER[c.scenario]} needs the share of MACs to keep, above 0 and at most 1; got ${String(c.macsKeep)}.`);
  }
  const soft = SOFT_METHODS.includes(c.method);
  if (c.scenario === 'prune-while-finetuning') {
    if (!soft) bad(`Scenario 3 prunes while fine-tuning, which needs a soft method (psfp or fpgm-soft); "${c.method}" prunes once.`);
    return 'soft';
  }
  if (soft) bad(`"${c.method}" prunes while training, which is scenario 3 (prune-while-finetuning), not scenario ${SCENARIO_NUMBER[c.scenario]}.`);
  if (c.method === 'auto-balanced') {
    if (c.scenario === 'prune-at-source') bad('AutoBalanced prunes after training with its penalty, so it runs as scenario 2 (the penalty training is the first target fine-tuning), not at the source.');
    return 'auto-balanced';
  }
  getCriterion(c.method);
  return 'one-shot';
}

/** Pids (> 0) of a split, ascending. */
function identitiesOf(split: Pick<ReidSplit, 'pids'>): number[] {
  return [...new Set([...split.pids].filter((p) => p > 0))].sort((a, b) => a - b);
}

/** Steps, images, identities and timings of one run, and its building blocks. */
class RunLog {
  readonly steps: ScenarioStep[] = [];
  readonly trained = new Set<number>();
  trainSteps = 0;
  readonly ms = { training: 0, pruning: 0, evaluation: 0 };

  constructor(
    private readonly cfg: ScenarioConfig,
    private readonly data: ScenarioData,
    private readonly opts: RunScenarioOptions,
  ) {}

  /** `extra`: steps done in the phase under way, not yet recorded. */
  progress(phase: ScenarioStepKind, message: string, extra = 0): void {
    this.opts.onProgress?.({ phase, fraction: Math.min(0.99, (this.trainSteps + extra) / this.cfg.budget.steps), message });
  }

  record(kind: ScenarioStepKind, domain: 'source' | 'target', label: string, trainSteps: number, ms: number, split?: ReidSplit): void {
    if (trainSteps > 0 && split) for (const p of identitiesOf(split)) this.trained.add(p);
    this.trainSteps += trainSteps;
    this.steps.push({ kind, domain, label, trainSteps, images: imagesFor(this.cfg.budget, trainSteps), ms });
    if (kind === 'evaluate') this.ms.evaluation += ms;
    else if (kind === 'prune') this.ms.pruning += ms;
    else this.ms.training += ms;
  }

  trainConfig(steps: number, seed: number): TrainConfigInput {
    const b = this.cfg.budget;
    const c: TrainConfigInput = { steps, p: b.p, k: b.k, seed, optimizer: { kind: 'adam', lr: b.lr } };
    if (b.augment === false) c.augment = NO_AUGMENT;
    return c;
  }

  get evaluationIds() {
    return this.data.evaluation;
  }

  async evaluate(model: ReidModel, label: string): Promise<Snapshot> {
    this.progress('evaluate', `Evaluating ${label} on the target query/gallery`);
    const t0 = now();
    const signal = this.opts.signal;
    const r = await evaluateModel(model, this.data.evaluation, { shouldCancel: () => !!signal?.aborted, batchSize: this.opts.evalBatchSize });
    this.record('evaluate', 'target', `evaluate ${label}`, 0, now() - t0);
    const cost = modelCost(model.spec);
    return { macs: cost.macs, params: cost.params, mAP: r.mAP, rank1: r.rank1, rank5: r.rank5 };
  }

  /** Fine-tune `model` in place on the target subset. */
  async fineTune(model: ReidModel, steps: number, seed: number, label: string): Promise<void> {
    if (steps <= 0) return;
    const t0 = now();
    const r = await fineTune(
      model,
      this.data.fineTune,
      this.trainConfig(steps, seed),
      { signal: this.opts.signal, onProgress: (p) => this.progress('fine-tune', `${label}: step ${p.step} of ${p.totalSteps}`, p.step) },
      { withIdLoss: this.cfg.budget.withIdLoss, evaluation: this.data.evaluation },
    );
    this.record('fine-tune', 'target', label, r.steps, now() - t0, this.data.fineTune);
  }

  strategyProgress(phase: ScenarioStepKind, base: number) {
    return (p: StrategyProgress) => {
      if (p.train) this.opts.onProgress?.({ phase, fraction: Math.min(0.99, (base + p.train.step) / this.cfg.budget.steps), message: p.message });
    };
  }

  recordTraining(kind: ScenarioStepKind, label: string, r: TrainResult | undefined, ms: number): void {
    this.record(kind, 'target', label, r?.steps ?? 0, ms, this.data.fineTune);
  }
}

function criterionData(cfg: ScenarioConfig, split: ReidSplit): CriterionData {
  return { split, batches: cfg.criterionBatches ?? 4, batchSize: cfg.criterionBatchSize ?? 32 };
}

function pruneSettings(cfg: ScenarioConfig, criterion: CriterionId): PruneSettingsInput {
  return { criterion, macsTarget: cfg.macsKeep!, scope: cfg.scope ?? 'inner', ranking: cfg.ranking ?? 'local', seed: cfg.seed };
}

/** Prune once with a criterion, scoring on `split` (a training split of `domain`). */
async function pruneWith(log: RunLog, model: ReidModel, cfg: ScenarioConfig, split: ReidSplit, domain: 'source' | 'target', signal?: CancelSignal): Promise<{ model: ReidModel; plan: PrunePlan }> {
  const criterion = getCriterion(cfg.method!);
  log.progress('prune', `Pruning with ${criterion.name} on ${domain} data`);
  const t0 = now();
  const r = await pruneOnce(model, {
    criterion,
    settings: pruneSettings(cfg, criterion.id),
    criterionData: wantsData(criterion) ? criterionData(cfg, split) : undefined,
    evaluation: log.evaluationIds,
    signal,
  });
  log.record('prune', domain, `prune with ${criterion.name} (${domain} data)`, 0, now() - t0);
  return { model: r.model, plan: r.plans[0] };
}

/**
 * Run one scenario on `model` (unchanged). Throws LabError for a bad config or an identity
 * leak (before any work), CancelledError when `signal` is aborted (everything created released).
 */
export async function runScenario(model: ReidModel, data: ScenarioData, cfg: ScenarioConfig, opts: RunScenarioOptions = {}): Promise<{ result: ScenarioResult; model?: ReidModel }> {
  const kind = validateScenarioConfig(cfg);
  if (model.isDisposed) bad('The model for the scenario has been disposed.');
  assertDisjointIdentities(data.fineTune, data.evaluation.query, data.evaluation.gallery);
  if (cfg.scenario === 'prune-at-source' && !data.sourceTrain) bad('Scenario 1 prunes with source-domain data; give the source training split.');
  const t0 = now();
  const log = new RunLog(cfg, data, opts);
  const b = cfg.budget;
  const signal = opts.signal;
  const before = opts.before ?? (await log.evaluate(model, 'the input model'));
  let plan: PrunePlan | undefined;
  let current: ReidModel | undefined;
  try {
    switch (cfg.scenario) {
      case 'finetune-only': {
        current = await model.clone();
        await log.fineTune(current, b.steps, cfg.seed, 'fine-tune');
        break;
      }
      case 'prune-at-source': {
        ({ model: current, plan } = await pruneWith(log, model, cfg, data.sourceTrain!, 'source', signal));
        await log.fineTune(current, b.steps, cfg.seed, 'fine-tune the pruned model');
        break;
      }
      case 'finetune-prune-finetune': {
        const { pre, post } = splitSteps(b);
        if (kind === 'auto-balanced') {
          const t1 = now();
          const r = await pruneAutoBalanced(model, {
            settings: { macsTarget: cfg.macsKeep!, scope: cfg.scope ?? 'inner', ranking: cfg.ranking ?? 'local', seed: cfg.seed },
            alpha: cfg.alpha,
            penalty: { split: data.fineTune, config: log.trainConfig(pre, cfg.seed), withIdLoss: b.withIdLoss },
            retrain: { split: data.fineTune, config: log.trainConfig(post, cfg.seed + 1), withIdLoss: b.withIdLoss },
            evaluation: data.evaluation,
            signal,
            onProgress: log.strategyProgress('penalty-train', 0),
          });
          const ms = now() - t1;
          // One call does penalty training, surgery and retraining; its time is split by steps.
          const share = (steps: number) => (ms * steps) / Math.max(1, pre + post);
          log.recordTraining('penalty-train', 'fine-tune with the balanced penalty', r.penaltyTraining, share(r.penaltyTraining.steps));
          log.record('prune', 'target', 'prune the penalised filters (AutoBalanced)', 0, 0);
          log.recordTraining('fine-tune', 'retrain the pruned model', r.retraining, share(r.retraining?.steps ?? 0));
          current = r.model;
          plan = r.plans[0];
        } else {
          const tuned = await model.clone();
          try {
            await log.fineTune(tuned, pre, cfg.seed, 'fine-tune before pruning');
            ({ model: current, plan } = await pruneWith(log, tuned, cfg, data.fineTune, 'target', signal));
          } finally {
            tuned.dispose();
          }
          await log.fineTune(current, post, cfg.seed + 1, 'fine-tune the pruned model');
        }
        break;
      }
      case 'prune-while-finetuning': {
        const variant = cfg.method === 'psfp' ? 'psfp' : 'fpgm';
        const criterion = getCriterion(variant === 'psfp' ? 'l2' : 'fpgm');
        const epochs = softEpochs(b.steps, cfg.softEpochs);
        const t1 = now();
        const r = await pruneSoft(model, {
          variant,
          criterion,
          settings: pruneSettings(cfg, criterion.id),
          train: { split: data.fineTune, config: log.trainConfig(b.steps, cfg.seed), withIdLoss: b.withIdLoss },
          epochs,
          stepsPerEpoch: b.steps / epochs,
          evaluation: data.evaluation,
          signal,
          onProgress: log.strategyProgress('soft-prune-train', 0),
        });
        log.recordTraining('soft-prune-train', `soft pruning (${variant === 'psfp' ? 'PSFP' : 'soft FPGM'}) while fine-tuning, ${epochs} epochs`, r.training, now() - t1);
        current = r.model;
        plan = r.plans[0];
        break;
      }
    }
    const after = await log.evaluate(current!, 'the result');
    const result: ScenarioResult = {
      scenario: cfg.scenario,
      scenarioNumber: SCENARIO_NUMBER[cfg.scenario],
      seed: cfg.seed,
      config: structuredClone(cfg),
      steps: log.steps,
      imagesSeen: imagesFor(b, log.trainSteps),
      trainSteps: log.trainSteps,
      trainingIdentities: [...log.trained].sort((x, y) => x - y),
      before,
      after,
      timingsMs: { total: now() - t0, ...log.ms },
    };
    if (cfg.method) result.method = cfg.method;
    if (plan) {
      result.macsKeepRequested = cfg.macsKeep;
      result.macsKeepReached = after.macs / before.macs;
      result.pruneRate = plan.rate;
      result.targetMet = plan.targetMet;
    }
    opts.onProgress?.({ phase: 'evaluate', fraction: 1, message: 'Done' });
    if (opts.keepModel) return { result, model: current };
    current!.dispose();
    return { result };
  } catch (e) {
    current?.dispose();
    throw e;
  }
}

/**
 * The cut alone: prune `model` as `cfg`'s scenario would (its criterion, cost target and the
 * pruning domain's data: the target fine-tuning subset, or the source for scenario 1) and score
 * the result before any fine-tuning. The reproduction reports it as a precondition: how far
 * pruning drops accuracy before the budget has to recover it. `model` is unchanged.
 */
export async function cutOnly(model: ReidModel, data: ScenarioData, cfg: ScenarioConfig, opts: Pick<RunScenarioOptions, 'signal'> = {}): Promise<Snapshot> {
  const kind = validateScenarioConfig(cfg);
  if (kind !== 'one-shot') bad('Only one-shot criteria (not soft pruning or AutoBalanced) have a cut to measure on its own.');
  const atSource = cfg.scenario === 'prune-at-source';
  if (atSource && !data.sourceTrain) bad('Scenario 1 prunes with source-domain data; give the source training split.');
  const log = new RunLog(cfg, data, opts);
  const { model: pruned } = await pruneWith(log, model, cfg, atSource ? data.sourceTrain! : data.fineTune, atSource ? 'source' : 'target', opts.signal);
  try {
    return await log.evaluate(pruned, 'the pruned model, before fine-tuning');
  } finally {
    pruned.dispose();
  }
}
