/**
 * PTL's side branch: one BConv-Cell per ResNet stage, each fused with the backbone's stage
 * output, trained jointly with the backbone during fine-tuning (methods.md, PTL section).
 *
 * Wiring (after the authors' public MGN_PTL code, adapted to the lab's ResNet): for stage s with
 * output h_s (C_s channels),
 *   b_s = cell_s(u_s),  u_0 = h_0, u_s = z_{s-1}     (cell stride = the stage's stride)
 *   z_s = ReLU(BN(conv1x1(concat[h_s, b_s])))        (fusion, C_s channels)
 * and the fused features join the backbone as h_s <- h_s + gate_s * z_s (per-channel gate, see
 * PtlConfig.gateScale for its learning speed) at
 * the last stage ("last", default: the public code joins its branch only at the head, leaving
 * the backbone's own path untouched) or at every stage ("every").
 * Why the gate, initialised to 0 by default: fine-tuning then starts exactly from the given
 * (pre-trained or pruned) model and the branch's contribution grows as it learns. Replacing h_s
 * by a freshly initialised fusion would first destroy the embedding, which at the lab's small
 * fine-tuning budgets dominates the outcome. The fusion conv has no bias (a BN follows; the
 * public code's bias there is redundant).
 *
 * Carried state. C_t has a batch dimension, but consecutive P×K batches hold different images,
 * and the last batch of a split may be smaller. The public code keeps C per batch row (row j of
 * batch t continues row j of batch t-1; a smaller batch takes the first rows; it starts from
 * N(0, 0.001) noise) and resets it for every evaluation forward. Row j of shuffled batches are
 * unrelated images, so that per-row state is a noisy running summary of random samples. The
 * lab's default ("batch-mean") carries the mean of C_t over the batch, [1, H, W, c], broadcast
 * to the next batch: the same dataset-level summary without the row noise, independent of batch
 * size and order. "per-sample" is the public code's behaviour (a larger batch gets zero rows).
 * The state starts at zero, is reset at every epoch boundary, and evaluation always uses the
 * zero state, so an image's embedding depends on that image alone.
 * A training forward computes the next state as "pending"; commit() makes it the carried state
 * once the optimiser step has completed, so a failed or cancelled step changes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { featureSizes, type ResNetSpec } from '../model/spec';
import { BN_EPS, forward, type BatchStat, type ForwardOptions, type ForwardResult, type ParamTensors } from '../model/forward';
import type { ReidModel } from '../model/model';
import type { Embedder } from '../eval/extract';
import { Prng } from '../util/prng';
import { LabError } from '../errors';
import { bconvStep, cellOutSize } from './bconv-cell';

export interface PtlConfig {
  /** Cell channels as a fraction of the stage's output channels (public code: 1/4 to 1/2). */
  cellRatio: number;
  /** Cell conv kernel size (odd; the public code uses 3). */
  kernel: number;
  /** Where the fused features are added to the backbone's stage outputs. */
  fuseInto: 'last' | 'every';
  /** How the carried cell state loses its batch dimension (see the module comment). */
  carry: 'batch-mean' | 'per-sample';
  /** Initial value of the per-channel join gates (0: start from the backbone exactly). */
  gateInit: number;
  /**
   * The gates are stored divided by this factor, so under Adam (steps of about lr per
   * parameter) they move gateScale times faster than other weights: new layers learning faster
   * is usual in fine-tuning, and a zero gate must open within a budget of ~100 steps at lr 1e-4.
   */
  gateScale: number;
  /** Seed of the branch's initialisation. */
  seed: number;
}

export type PtlConfigInput = Partial<PtlConfig>;

export const DEFAULT_PTL_CONFIG: PtlConfig = { cellRatio: 0.25, kernel: 3, fuseInto: 'last', carry: 'batch-mean', gateInit: 0, gateScale: 100, seed: 1 };

export function resolvePtlConfig(input: PtlConfigInput = {}): PtlConfig {
  const cfg: PtlConfig = { ...DEFAULT_PTL_CONFIG, ...input };
  const bad = (msg: string): never => {
    throw new LabError('bad-argument', msg);
  };
  if (!(cfg.cellRatio > 0 && cfg.cellRatio <= 4)) bad(`The PTL cell ratio must be in (0, 4]; got ${cfg.cellRatio}.`);
  if (!Number.isInteger(cfg.kernel) || cfg.kernel < 1 || cfg.kernel % 2 === 0) bad(`The PTL cell kernel must be an odd whole number; got ${cfg.kernel}.`);
  if (cfg.fuseInto !== 'last' && cfg.fuseInto !== 'every') bad(`PTL fuses into "last" or "every" stage; got "${String(cfg.fuseInto)}".`);
  if (cfg.carry !== 'batch-mean' && cfg.carry !== 'per-sample') bad(`The PTL state is carried as "batch-mean" or "per-sample"; got "${String(cfg.carry)}".`);
  if (!Number.isFinite(cfg.gateInit)) bad(`The PTL gate's initial value must be a finite number; got ${cfg.gateInit}.`);
  if (!(cfg.gateScale > 0 && Number.isFinite(cfg.gateScale))) bad(`The PTL gate scale must be a positive number; got ${cfg.gateScale}.`);
  if (!Number.isInteger(cfg.seed) || cfg.seed < 0) bad(`The PTL seed must be a whole number >= 0; got ${cfg.seed}.`);
  return cfg;
}

/** One stage's cell and fusion. */
export interface PtlStageLayout {
  stage: number;
  /** The cell's input: the stage's own output for the first cell, the previous fusion after. */
  cellInC: number;
  cellInSize: [number, number];
  cellC: number;
  stride: number;
  /** The stage's output channels, which the fusion also produces. */
  outC: number;
  /** Spatial size of the stage's output (and of the cell's output). */
  size: [number, number];
  /** Whether the fused features are added to the backbone here. */
  joins: boolean;
}

/** The branch's shape for a (possibly pruned) spec: a pure function, shared with the cost model. */
export function ptlLayout(spec: ResNetSpec, cfg: PtlConfig): PtlStageLayout[] {
  const sizes = featureSizes(spec).stages;
  const last = spec.stages.length - 1;
  return spec.stages.map((stage, s) => {
    const outC = stage[stage.length - 1].outC;
    const cellInC = s === 0 ? outC : spec.stages[s - 1][spec.stages[s - 1].length - 1].outC;
    const cellInSize = s === 0 ? sizes[0] : sizes[s - 1];
    const stride = s === 0 ? 1 : stage[0].stride;
    const size: [number, number] = [cellOutSize(cellInSize[0], cfg.kernel, stride), cellOutSize(cellInSize[1], cfg.kernel, stride)];
    if (size[0] !== sizes[s][0] || size[1] !== sizes[s][1]) throw new Error(`PTL cell ${s} would produce ${size} but layer${s + 1} outputs ${sizes[s]}.`);
    return { stage: s, cellInC, cellInSize, cellC: Math.max(1, Math.round(cfg.cellRatio * outC)), stride, outC, size, joins: cfg.fuseInto === 'every' || s === last };
  });
}

export const ptlNames = {
  cell: (s: number) => `ptl.cells.${s}.weight`,
  fuseConv: (s: number) => `ptl.fuse.${s}.conv.weight`,
  fuseBn: (s: number) => `ptl.fuse.${s}.bn`,
  gate: (s: number) => `ptl.gate.${s}`,
};

let branchCounter = 0;

export class PtlSideBranch {
  readonly config: PtlConfig;
  readonly layout: readonly PtlStageLayout[];
  /** Every tensor of the branch by name; running statistics are non-trainable. */
  readonly params: Map<string, tf.Variable>;
  private state: (tf.Tensor4D | null)[];
  private pending: (tf.Tensor4D | null)[];
  private epoch: number | null = null;
  private disposed = false;

  private constructor(config: PtlConfig, layout: PtlStageLayout[], params: Map<string, tf.Variable>) {
    this.config = config;
    this.layout = layout;
    this.params = params;
    this.state = layout.map(() => null);
    this.pending = layout.map(() => null);
  }

  /** A freshly initialised branch for `spec` (seeded: Kaiming-normal fan-in convs as the public code). */
  static create(spec: ResNetSpec, input: PtlConfigInput = {}): PtlSideBranch {
    const cfg = resolvePtlConfig(input);
    const layout = ptlLayout(spec, cfg);
    const rng = new Prng(cfg.seed);
    const id = ++branchCounter;
    const params = new Map<string, tf.Variable>();
    const add = (name: string, shape: number[], values: Float32Array, trainable = true) => {
      const t = tf.tensor(values, shape, 'float32');
      params.set(name, tf.variable(t, trainable, `ptl${id}/${name}`));
      t.dispose();
    };
    const kaiming = (shape: number[], label: string) => {
      const fanIn = shape[0] * shape[1] * shape[2];
      const r = rng.fork(label);
      const std = Math.sqrt(2 / fanIn);
      return new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => r.normal(0, std));
    };
    for (const L of layout) {
      const s = L.stage;
      const k = cfg.kernel;
      const cellShape = [k, k, L.cellInC, 4 * L.cellC];
      add(ptlNames.cell(s), cellShape, kaiming(cellShape, ptlNames.cell(s)));
      const fuseShape = [1, 1, L.outC + L.cellC, L.outC];
      add(ptlNames.fuseConv(s), fuseShape, kaiming(fuseShape, ptlNames.fuseConv(s)));
      const bn = ptlNames.fuseBn(s);
      add(`${bn}.weight`, [L.outC], new Float32Array(L.outC).fill(1));
      add(`${bn}.bias`, [L.outC], new Float32Array(L.outC));
      add(`${bn}.running_mean`, [L.outC], new Float32Array(L.outC), false);
      add(`${bn}.running_var`, [L.outC], new Float32Array(L.outC).fill(1), false);
      if (L.joins) add(ptlNames.gate(s), [L.outC], new Float32Array(L.outC).fill(cfg.gateInit / cfg.gateScale));
    }
    return new PtlSideBranch(cfg, layout, params);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Whether a carried (committed) cell state exists, i.e. not at zero. */
  get hasState(): boolean {
    return this.state.some((t) => t !== null);
  }

  /** Tensors held beyond the parameters (carried and pending states). */
  get numStateTensors(): number {
    return [...this.state, ...this.pending].filter((t) => t !== null).length;
  }

  /** The committed cell state of one stage (null: zero). Read-only view for inspection. */
  carriedState(stage: number): tf.Tensor4D | null {
    return this.state[stage];
  }

  /** Called before a training batch: a new epoch starts from the zero state. */
  startEpoch(epoch: number): void {
    if (this.epoch !== epoch) this.reset();
    this.epoch = epoch;
  }

  /** Make the last training forward's states the carried ones (after its step completed). */
  commit(): void {
    this.pending.forEach((p, s) => {
      if (!p) return;
      this.state[s]?.dispose();
      this.state[s] = p;
      this.pending[s] = null;
    });
  }

  /** Back to the zero state (each epoch, and before evaluation). */
  reset(): void {
    for (const t of [...this.state, ...this.pending]) t?.dispose();
    this.state = this.layout.map(() => null);
    this.pending = this.layout.map(() => null);
    this.epoch = null;
  }

  /** Throws a LabError when `spec` is not the model this branch was built for. */
  checkSpec(spec: ResNetSpec): void {
    const found = spec.stages.map((st) => st[st.length - 1].outC);
    const sizes = featureSizes(spec).stages;
    const ok = this.layout.every((L, s) => found[s] === L.outC && sizes[s][0] === L.size[0] && sizes[s][1] === L.size[1]);
    if (!ok) {
      throw new LabError(
        'bad-argument',
        `This PTL side branch was built for stage outputs of ${this.layout.map((L) => L.outC).join('/')} channels at ${this.layout.map((L) => L.size.join('x')).join(', ')}; the model has ${found.join('/')} at ${sizes.map((z) => z.join('x')).join(', ')}.`,
      );
    }
  }

  /**
   * The model's forward pass with the branch (same signature as forward.ts's, so the trainer
   * can use it). Training mode uses and updates (as pending) the carried state and reports the
   * fusions' BatchNorm statistics with the model's; evaluation mode uses the zero state.
   */
  readonly forward = (spec: ResNetSpec, params: ParamTensors, x: tf.Tensor4D, opts: ForwardOptions = {}): ForwardResult => {
    if (this.disposed) throw new LabError('bad-argument', 'This PTL side branch has been disposed.');
    if (opts.stageHook) throw new Error('The PTL forward pass installs its own stageHook.');
    this.checkSpec(spec);
    const training = opts.training ?? false;
    const stats: BatchStat[] = [];
    const out = forward(spec, params, x, { ...opts, stageHook: this.hook(training, stats) });
    return stats.length > 0 ? { ...out, bnStats: [...out.bnStats, ...stats] } : out;
  };

  /** An evaluation embedder (extractFeatures / evaluateModel) for `model` with this branch. */
  embedder(model: Pick<ReidModel, 'spec' | 'params'>): Embedder {
    this.checkSpec(model.spec);
    return {
      spec: model.spec,
      embed: (x, masks) => tf.tidy(() => this.forward(model.spec, model.params, x, { training: false, masks }).embedding),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.reset();
    for (const v of this.params.values()) v.dispose();
    this.disposed = true;
  }

  private get(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`Missing PTL parameter ${name}`);
    return v;
  }

  private hook(training: boolean, stats: BatchStat[]): (s: number, h: tf.Tensor4D) => tf.Tensor4D {
    let z: tf.Tensor4D | null = null;
    return (s, h) => {
      const L = this.layout[s];
      const u = s === 0 ? h : z!;
      const prev = training ? this.previous(s, h.shape[0], L) : null;
      const { y, c } = bconvStep(u, this.get(ptlNames.cell(s)) as tf.Variable<tf.Rank.R4>, L.stride, prev);
      if (training) {
        this.pending[s]?.dispose();
        this.pending[s] = tf.keep(this.config.carry === 'batch-mean' ? (tf.mean(c, 0, true) as tf.Tensor4D) : c);
      }
      const fused = tf.conv2d(tf.concat([h, y], 3), this.get(ptlNames.fuseConv(s)) as tf.Variable<tf.Rank.R4>, 1, 'valid');
      z = tf.relu(this.batchNorm(fused, ptlNames.fuseBn(s), training, stats));
      return L.joins ? (tf.add(h, tf.mul(z, tf.mul(this.get(ptlNames.gate(s)), this.config.gateScale))) as tf.Tensor4D) : h;
    };
  }

  /** The carried state for a batch of `batch` rows (null: zero state). */
  private previous(s: number, batch: number, L: PtlStageLayout): tf.Tensor4D | null {
    const st = this.state[s];
    if (!st) return null;
    if (this.config.carry === 'batch-mean' || st.shape[0] === batch) return st;
    if (st.shape[0] > batch) return tf.slice(st, [0, 0, 0, 0], [batch, -1, -1, -1]);
    return tf.concat([st, tf.zeros<tf.Rank.R4>([batch - st.shape[0], L.size[0], L.size[1], L.cellC])], 0);
  }

  /** BatchNorm as forward.ts computes it (broadcast ops), with batch statistics in training. */
  private batchNorm(x: tf.Tensor4D, prefix: string, training: boolean, stats: BatchStat[]): tf.Tensor4D {
    const gamma = this.get(`${prefix}.weight`);
    const beta = this.get(`${prefix}.bias`);
    if (training) {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      stats.push({ name: prefix, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, count: x.shape[0] * x.shape[1] * x.shape[2] });
      return tf.add(tf.mul(tf.sub(x, mean), tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPS)))), beta) as tf.Tensor4D;
    }
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(this.get(`${prefix}.running_var`), BN_EPS)));
    return tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(this.get(`${prefix}.running_mean`), scale))) as tf.Tensor4D;
  }
}
