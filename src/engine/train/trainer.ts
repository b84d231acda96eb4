/**
 * The training loop shared by from-scratch training and fine-tuning.
 *
 * One step: draw a P×K batch, augment the bytes, normalise, forward in training mode, loss =
 * w_t * triplet(pooled features) + w_id * CE(logits), gradients, optimiser step, then the
 * BatchNorm running statistics. A step's updates are applied together at its end, and
 * cancellation is checked between steps, so a cancelled run leaves the model as it was after the
 * last completed step. `checkpoint()` / `restore()` continue a run exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../model/model';
import type { ResNetSpec } from '../model/spec';
import { embeddingDim } from '../model/spec';
import { forward, stageInput, type BatchStat, type ParamTensors } from '../model/forward';
import type { ReidSplit } from '../data/types';
import { normalizeImages } from '../data/preprocess';
import { checkSplitLayout } from '../data/check-split';
import { Prng } from '../util/prng';
import { CancelledError, LabError } from '../errors';
import { resolveTrainConfig, type TrainConfig, type TrainConfigInput } from './config';
import { PKSampler } from './sampler';
import { augmentBatch } from './augment';
import { batchHardTripletLoss, crossEntropyLabelSmooth, randomTriplets, tripletLoss } from './losses';
import { Optimizer } from './optimizer';
import { learningRateAt } from './schedule';
import { runningStatsUpdate } from './bn-update';
import { labelMap } from './identities';
import { CHECKPOINT_FORMAT, type NamedArray, type TrainCheckpoint } from './checkpoint';

export interface StepMetrics {
  /** Optimiser steps completed (1-based after the first step). */
  step: number;
  epoch: number;
  lr: number;
  loss: number;
  triplet: number;
  id: number;
  /** Mean hardest-positive / hardest-negative distance in the batch (pooled features). */
  meanPos: number;
  meanNeg: number;
  /** Wall time of this step, ms. */
  stepMs: number;
}

export interface TrainProgress extends StepMetrics {
  totalSteps: number;
  /** Training throughput over the steps since the previous report. */
  imagesPerSec: number;
  etaSec: number;
}

/** Anything with `aborted` (an AbortSignal works). */
export interface CancelSignal {
  readonly aborted: boolean;
}

export interface TrainHooks {
  onProgress?: (p: TrainProgress) => void;
  /** Minimum ms between progress reports (the last step is always reported). Default 250. */
  progressIntervalMs?: number;
  signal?: CancelSignal;
  /** Called with a checkpoint every `checkpointEvery` steps. */
  onCheckpoint?: (c: TrainCheckpoint) => void | Promise<void>;
  checkpointEvery?: number;
  /** Called after every completed step (soft pruning re-applies its masks here, for example). */
  afterStep?: (m: StepMetrics, trainer: Trainer) => void | Promise<void>;
}

export interface TrainerOptions {
  /** Channel masks applied in the forward pass (forward.ts). */
  masks?: ReadonlyMap<string, tf.Tensor1D>;
  /** Extra loss term on the parameters (e.g. a sparsity regulariser), added to the loss. */
  regularizer?: (params: ParamTensors) => tf.Scalar;
  /**
   * Extra tensors the forward pass reads (e.g. PTL's side branch), trained jointly with the
   * model's (the trainable ones) and given to the running-statistics update (their BatchNorms). Owned by
   * the caller; names must not clash with the model's. Checkpoints do not include them.
   */
  extraParams?: ReadonlyMap<string, tf.Variable>;
  /** The forward pass to train (default forward.ts's); e.g. the model plus a side branch. */
  forward?: typeof forward;
}

const CLASSIFIER_W = 'classifier.weight';
const CLASSIFIER_B = 'classifier.bias';

export class Trainer {
  readonly model: ReidModel;
  readonly split: ReidSplit;
  readonly config: TrainConfig;
  /** Training identities in ascending pid order; class index = position. */
  readonly ids: number[];
  private readonly labelOf: Map<number, number>;
  private readonly sampler: PKSampler;
  private readonly augmentRng: Prng;
  private readonly tripletRng: Prng;
  private readonly optimizer: Optimizer;
  /** The spec the forward pass sees (numClasses of the classifier in use). */
  private readonly trainSpec: ResNetSpec;
  /** Trainer-owned classifier (classifier: "fresh"). */
  private readonly head = new Map<string, tf.Variable>();
  /** Every tensor the forward pass reads, by parameter name. */
  private readonly all = new Map<string, tf.Variable>();
  /** Parameters the optimiser updates, by tf.Variable name. */
  private readonly trainable = new Map<string, { name: string; v: tf.Variable }>();
  private readonly opts: TrainerOptions;
  private completed = 0;
  private disposed = false;

  constructor(model: ReidModel, split: ReidSplit, config: TrainConfigInput | TrainConfig, opts: TrainerOptions = {}) {
    if (model.isDisposed) throw new LabError('bad-argument', 'The model to train has been disposed.');
    const cfg = resolveTrainConfig(config as TrainConfigInput);
    checkSplitLayout(split, 'training');
    if (split.height !== model.spec.input.height || split.width !== model.spec.input.width) {
      throw new LabError('bad-dataset', `Training images are ${split.height}x${split.width}, but the model expects ${model.spec.input.height}x${model.spec.input.width}.`);
    }
    const { ids, index } = labelMap(split.pids);
    const useId = cfg.loss.id > 0;
    if (useId && cfg.classifier === 'model' && model.spec.head.numClasses !== ids.length) {
      throw new LabError(
        'bad-argument',
        `The model's classifier has ${model.spec.head.numClasses} classes but the training set has ${ids.length} identities; build the model with numClasses = ${ids.length}, or train with a fresh classifier.`,
      );
    }
    if (cfg.trainFromStage > 0 && opts.forward) {
      throw new LabError('bad-argument', 'Training the last stages only is not available with a side branch (PTL), which reads every stage; train the whole network instead.');
    }
    for (const name of opts.extraParams?.keys() ?? []) {
      if (model.params.has(name) || name.startsWith('classifier.')) throw new LabError('bad-argument', `The extra parameter ${name} has the same name as one of the model's parameters.`);
    }
    this.sampler = new PKSampler(split.pids, cfg.p, cfg.k, cfg.seed);
    this.model = model;
    this.split = split;
    this.config = cfg;
    this.ids = ids;
    this.labelOf = index;
    this.opts = opts;
    const seeds = new Prng(cfg.seed);
    this.augmentRng = seeds.fork('augment');
    this.tripletRng = seeds.fork('triplet');
    this.optimizer = new Optimizer(cfg.optimizer);

    const numClasses = useId ? ids.length : 0;
    this.trainSpec = { ...model.spec, head: { ...model.spec.head, numClasses } };
    for (const [name, v] of model.params) if (!name.startsWith('classifier.') || (useId && cfg.classifier === 'model')) this.all.set(name, v);
    if (useId && cfg.classifier === 'fresh') {
      // torchreid/init.ts: N(0, 0.001) weights, zero bias; seeded from the run's seed.
      const rng = seeds.fork('classifier');
      const d = embeddingDim(model.spec);
      const w = new Float32Array(d * numClasses).map(() => rng.normal(0, 0.001));
      this.head.set(CLASSIFIER_W, ownedVariable(tf.tensor2d(w, [d, numClasses]), true));
      this.head.set(CLASSIFIER_B, ownedVariable(tf.zeros([numClasses]), true));
      for (const [n, v] of this.head) this.all.set(n, v);
    }
    for (const [name, v] of opts.extraParams ?? []) this.all.set(name, v);
    for (const [name, v] of this.all) if (v.trainable && !isFrozen(name, cfg.trainFromStage)) this.trainable.set(v.name, { name, v });
  }

  /** Steps completed so far. */
  get step(): number {
    return this.completed;
  }

  get epoch(): number {
    return this.sampler.epoch;
  }

  get batchesPerEpoch(): number {
    return this.sampler.batchesPerEpoch;
  }

  get done(): boolean {
    return this.completed >= this.config.steps;
  }

  /** Tensors the trainer holds beyond the model (optimiser state, fresh classifier). */
  get numOwnedTensors(): number {
    return this.optimizer.numStateTensors + this.head.size;
  }

  /** Run one optimiser step and report its metrics. */
  async runStep(): Promise<StepMetrics> {
    if (this.disposed) throw new LabError('bad-argument', 'This trainer has been disposed.');
    const t0 = now();
    const cfg = this.config;
    // Snapshot the PRNG positions so a failed step leaves the run where it was.
    const before = { sampler: this.sampler.getState(), aug: this.augmentRng.getState(), tri: this.tripletRng.getState() };
    const kept: tf.Tensor[] = [];
    try {
      const batch = this.sampler.next();
      const { height: h, width: w } = this.split;
      const size = h * w * 3;
      const bytes = new Uint8Array(batch.length * size);
      batch.forEach((src, i) => bytes.set(this.split.images.subarray(src * size, (src + 1) * size), i * size));
      const aug = augmentBatch(bytes, batch.length, h, w, cfg.augment, this.augmentRng);
      const labels = batch.map((i) => this.labelOf.get(this.split.pids[i])!);
      const triplets = cfg.loss.triplet > 0 && cfg.loss.mining === 'random' ? randomTriplets(labels, () => this.tripletRng.next()) : null;
      const lr = learningRateAt(cfg.optimizer.lr, this.completed, cfg.steps, cfg.schedule);

      let stats: BatchStat[] = [];
      let terms: { triplet: tf.Scalar; id: tf.Scalar; pos: tf.Scalar; neg: tf.Scalar } | undefined;
      const x = normalizeImages(aug, batch.length, h, w);
      const vars = [...this.trainable.values()].map((t) => t.v);
      // A frozen prefix runs once, outside the tape: no gradients, no saved activations.
      const from = cfg.trainFromStage - 1;
      const start = from >= 0 ? { stage: from, h: tf.tidy(() => stageInput(this.trainSpec, this.all, x, from, { masks: this.opts.masks })) } : undefined;
      if (start) kept.push(start.h);
      const { value, grads } = tf.variableGrads(() => {
        const out = (this.opts.forward ?? forward)(this.trainSpec, this.all, x, { training: true, withLogits: cfg.loss.id > 0, masks: this.opts.masks, start });
        const zero = tf.scalar(0);
        let loss: tf.Scalar = zero;
        let tri = zero;
        let pos = zero;
        let neg = zero;
        if (cfg.loss.triplet > 0) {
          const t = triplets ? tripletLoss(out.pooled, triplets, cfg.loss.margin) : batchHardTripletLoss(out.pooled, labels, cfg.loss.margin);
          tri = t.loss;
          pos = t.meanPos;
          neg = t.meanNeg;
          loss = tf.add(loss, tf.mul(tri, cfg.loss.triplet));
        }
        let id = zero;
        if (cfg.loss.id > 0) {
          id = crossEntropyLabelSmooth(out.logits!, labels, cfg.loss.labelSmoothing);
          loss = tf.add(loss, tf.mul(id, cfg.loss.id));
        }
        if (this.opts.regularizer) loss = tf.add(loss, this.opts.regularizer(this.all));
        stats = out.bnStats;
        terms = { triplet: tri, id, pos, neg };
        kept.push(...[...stats.flatMap((s) => [s.mean, s.variance]), tri, id, pos, neg].map((t) => tf.keep(t)));
        return loss;
      }, vars);
      x.dispose();
      kept.push(value, ...Object.values(grads));
      const named: Record<string, tf.Tensor> = {};
      for (const [vname, g] of Object.entries(grads)) named[this.trainable.get(vname)!.name] = g;
      // The step's updates are computed, checked for NaN/Infinity, then applied all at once:
      // a diverging run stops with the model as after its last finite step.
      const prepared = this.optimizer.prepare(this.all, named, lr);
      const running = (() => {
        try {
          return runningStatsUpdate(this.all, stats);
        } catch (e) {
          prepared.discard();
          throw e;
        }
      })();
      // x * 0 is 0 for every finite x and NaN otherwise, so one sum flags any non-finite value.
      const probe = tf.tidy(() => tf.addN([...Object.values(grads), ...prepared.params, ...running.map((r) => r.value)].map((t) => tf.sum(tf.mul(t, 0)))));
      kept.push(probe);
      const tv = terms!;
      let read: number[];
      try {
        read = await Promise.all([value, tv.triplet, tv.id, tv.pos, tv.neg, probe].map(async (t) => (await t.data())[0]));
      } catch (e) {
        prepared.discard();
        running.forEach((r) => r.value.dispose());
        throw e;
      }
      const [loss, tri, id, pos, neg, finite] = read;
      if (!Number.isFinite(loss) || !Number.isFinite(finite)) {
        prepared.discard();
        running.forEach((r) => r.value.dispose());
        const what = !Number.isFinite(loss) ? `the loss became ${loss}` : 'the gradients or the updated weights became NaN or infinite';
        throw new LabError(
          'training-diverged',
          `Training diverged at step ${this.completed + 1} of ${cfg.steps}: ${what} (learning rate ${lr}). That step was not applied; the model is as after step ${this.completed}. Lower the learning rate and train again.`,
          { step: this.completed + 1, loss, lr },
        );
      }
      prepared.commit();
      for (const r of running) {
        r.target.assign(r.value);
        r.value.dispose();
      }
      this.completed++;
      return { step: this.completed, epoch: this.sampler.epoch, lr, loss, triplet: tri, id, meanPos: pos, meanNeg: neg, stepMs: now() - t0 };
    } catch (e) {
      this.sampler.setState(before.sampler);
      this.augmentRng.setState(before.aug);
      this.tripletRng.setState(before.tri);
      throw e;
    } finally {
      new Set(kept).forEach((t) => t.dispose());
    }
  }

  /** Everything needed to continue this run exactly (parameters read back asynchronously). */
  async checkpoint(): Promise<TrainCheckpoint> {
    const read = async (m: ReadonlyMap<string, tf.Variable>): Promise<Record<string, NamedArray>> => {
      const out: Record<string, NamedArray> = {};
      const entries = [...m];
      const datas = await Promise.all(entries.map(([, v]) => v.data() as Promise<Float32Array>));
      entries.forEach(([n, v], i) => (out[n] = { shape: v.shape.slice(), values: new Float32Array(datas[i]) }));
      return out;
    };
    return {
      format: CHECKPOINT_FORMAT,
      config: structuredClone(this.config),
      spec: structuredClone(this.model.spec),
      step: this.completed,
      params: await read(this.model.params),
      headParams: await read(this.head),
      optimizer: await this.optimizer.getState(),
      sampler: this.sampler.getState(),
      augmentRng: this.augmentRng.getState(),
      tripletRng: this.tripletRng.getState(),
    };
  }

  /**
   * Continue from a checkpoint of the same run (same config and model shape): parameters,
   * optimiser state, step and PRNG positions. Everything is validated before anything changes.
   */
  restore(c: TrainCheckpoint): void {
    if (c.format !== CHECKPOINT_FORMAT) throw new LabError('bad-argument', 'This is not a training checkpoint.');
    if (JSON.stringify(c.spec) !== JSON.stringify(this.model.spec)) {
      throw new LabError('bad-argument', 'The checkpoint was taken from a model with a different architecture or channel counts.');
    }
    const check = (arrays: Record<string, NamedArray>, vars: ReadonlyMap<string, tf.Variable>, what: string) => {
      for (const [n, v] of vars) {
        const a = arrays[n];
        if (!a || a.values.length !== v.size) throw new LabError('bad-argument', `The checkpoint's ${what} ${n} is missing or has the wrong size.`);
        const bad = a.values.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) {
          throw new LabError('bad-weights', `The checkpoint's ${what} ${n} holds ${a.values[bad]} at index ${bad}; a checkpoint with NaN or infinite values cannot be trained from. Resume from an earlier checkpoint.`, { tensor: n });
        }
      }
    };
    check(c.params, this.model.params, 'parameter');
    check(c.headParams, this.head, 'classifier parameter');
    for (const [n, slot] of Object.entries(c.optimizer?.slots ?? {})) {
      if (slot.values.some((vs) => vs.some((x) => !Number.isFinite(x)))) {
        throw new LabError('bad-weights', `The checkpoint's optimiser state for ${n} holds NaN or infinite values; resume from an earlier checkpoint.`, { tensor: n });
      }
    }
    this.optimizer.setState(c.optimizer, this.all); // validates before replacing
    this.sampler.setState(c.sampler);
    const assign = (arrays: Record<string, NamedArray>, vars: ReadonlyMap<string, tf.Variable>) => {
      for (const [n, v] of vars) tf.tidy(() => v.assign(tf.tensor(arrays[n].values, v.shape, 'float32')));
    };
    assign(c.params, this.model.params);
    assign(c.headParams, this.head);
    this.augmentRng.setState(c.augmentRng);
    this.tripletRng.setState(c.tripletRng);
    this.completed = c.step;
  }

  /** Release the optimiser state and any trainer-owned classifier (the model is untouched). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    for (const v of this.head.values()) v.dispose();
    this.head.clear();
  }
}

/** Whether a parameter belongs to the stem or a stage before `trainFromStage` (1-based). */
export function isFrozen(name: string, trainFromStage: number): boolean {
  if (trainFromStage <= 0) return false;
  if (name === 'conv1.weight' || name.startsWith('bn1.')) return true;
  const m = /^layer(\d+)\./.exec(name);
  return m !== null && Number(m[1]) < trainFromStage;
}

function ownedVariable(init: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(init, trainable);
  init.dispose();
  return v;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Let other tasks run (a worker's cancel message, UI updates) between steps. */
function yieldToEventLoop(): Promise<void> {
  const si = (globalThis as { setImmediate?: (cb: () => void) => void }).setImmediate;
  return new Promise((resolve) => (si ? si(resolve) : setTimeout(resolve, 0)));
}

export interface TrainResult {
  steps: number;
  epochs: number;
  /** Metrics of every step run in this call. */
  history: StepMetrics[];
  /** Mean training throughput of this call, images/s. */
  imagesPerSec: number;
}

export interface TrainOptions extends TrainerOptions {
  /** Continue from this checkpoint instead of starting fresh. */
  resume?: TrainCheckpoint;
}

/**
 * Train `model` in place on `trainSplit` for config.steps steps. Throws CancelledError when the
 * signal is aborted (the model keeps the last completed step's weights), LabError for bad input.
 */
export async function train(model: ReidModel, trainSplit: ReidSplit, config: TrainConfigInput | TrainConfig, hooks: TrainHooks = {}, opts: TrainOptions = {}): Promise<TrainResult> {
  const trainer = new Trainer(model, trainSplit, config, opts);
  try {
    if (opts.resume) trainer.restore(opts.resume);
    return await runTrainer(trainer, hooks);
  } finally {
    trainer.dispose();
  }
}

/** Drive a trainer to its configured step count with progress, checkpoints and cancellation. */
export async function runTrainer(trainer: Trainer, hooks: TrainHooks = {}): Promise<TrainResult> {
  const cfg = trainer.config;
  const batch = cfg.p * cfg.k;
  const interval = hooks.progressIntervalMs ?? 250;
  const history: StepMetrics[] = [];
  const start = now();
  let lastReport = -Infinity;
  let sinceImages = 0;
  let sinceMs = 0;
  let emaMs = 0;
  while (!trainer.done) {
    if (hooks.signal?.aborted) throw new CancelledError('Training');
    const m = await trainer.runStep();
    history.push(m);
    sinceImages += batch;
    sinceMs += m.stepMs;
    emaMs = emaMs === 0 ? m.stepMs : 0.9 * emaMs + 0.1 * m.stepMs;
    if (hooks.afterStep) await hooks.afterStep(m, trainer);
    if (hooks.onCheckpoint && hooks.checkpointEvery && m.step % hooks.checkpointEvery === 0) await hooks.onCheckpoint(await trainer.checkpoint());
    const t = now();
    if (hooks.onProgress && (t - lastReport >= interval || trainer.done)) {
      hooks.onProgress({
        ...m,
        totalSteps: cfg.steps,
        imagesPerSec: sinceMs > 0 ? (sinceImages * 1000) / sinceMs : 0,
        etaSec: ((cfg.steps - m.step) * emaMs) / 1000,
      });
      lastReport = t;
      sinceImages = 0;
      sinceMs = 0;
    }
    await yieldToEventLoop();
  }
  const ms = now() - start;
  return { steps: trainer.step, epochs: trainer.epoch, history, imagesPerSec: ms > 0 ? (history.length * batch * 1000) / ms : 0 };
}
