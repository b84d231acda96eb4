/**
 * The ResNet ReID forward pass on tfjs, NHWC.
 *
 * Pure function of (spec, params, input): BatchNorm in training mode uses batch statistics and
 * reports them in `bnStats` so the trainer can update running statistics after its step
 * (keeping the forward pass free of side effects, which gradients and cancellation need).
 *
 * Channel masks (soft pruning, and the reference side of the surgery invariant) are keyed by
 * dependency group id (names.ts). A masked channel's activation is forced to zero after its
 * BatchNorm and ReLU; for a trunk group the mask is applied after every residual add of the
 * stage (and after the stem for "trunk1" of basic-block nets), and to the embedding for the last
 * trunk, so a masked model computes exactly what the physically pruned model computes.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResNetSpec } from './spec';
import { blockPrefix, innerGroupId, stemGroupId, trunkGroupId } from './names';
import { addRelu, batchNormTrain, useFusedTrainOps } from './fused-train-ops';

export const BN_EPS = 1e-5;

export type ParamTensors = ReadonlyMap<string, tf.Tensor>;

export interface ForwardOptions {
  /** BatchNorm with batch statistics (true) or running statistics (false). */
  training?: boolean;
  /** Per dependency group, a 0/1 vector over the group's channels. */
  masks?: ReadonlyMap<string, tf.Tensor1D>;
  /** Also compute ID logits (needs a classifier in the spec). */
  withLogits?: boolean;
  /**
   * Called with the activation at every mask site (after its mask, if any), under the key a
   * mask would use, whether or not a mask is given: data-driven pruning criteria read a group's
   * activations here. The tensor belongs to the forward pass; tf.keep what must outlive it.
   */
  onMaskSite?: (key: string, activation: tf.Tensor) => void;
  /**
   * Called with each stage's output (after its last block and trunk mask); the returned tensor,
   * which must keep the shape, replaces it for the rest of the network. A side branch (PTL)
   * reads and fuses the backbone's stage outputs here. Return `h` itself to only read it.
   */
  stageHook?: (stageIndex: number, h: tf.Tensor4D) => tf.Tensor4D;
  /**
   * Start at stage `stage` (0-based) with its input `h` (from stageInput()), skipping the stem
   * and the stages before: a frozen prefix computed once outside the gradient tape.
   */
  start?: { stage: number; h: tf.Tensor4D };
}

export interface BatchStat {
  /** BatchNorm prefix, e.g. "layer1.0.bn1". */
  name: string;
  mean: tf.Tensor1D;
  /** Biased batch variance (PyTorch stores the unbiased one in running_var; see trainer). */
  variance: tf.Tensor1D;
  /** Number of values each statistic was computed over (for the unbiased correction). */
  count: number;
}

export interface ForwardResult {
  /** Globally pooled features before the BNNeck ("features" for the triplet loss). */
  pooled: tf.Tensor2D;
  /** The evaluation embedding: BNNeck output if present, else the pooled features. */
  embedding: tf.Tensor2D;
  logits?: tf.Tensor2D;
  /** Batch statistics of every BatchNorm, only in training mode. */
  bnStats: BatchStat[];
}

function get(params: ParamTensors, name: string): tf.Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`Missing parameter ${name}`);
  return t;
}

/**
 * ImageNet-normalised NHWC images in, embeddings out. Call inside tf.tidy (or dispose the
 * result's tensors yourself).
 */
export function forward(spec: ResNetSpec, params: ParamTensors, x: tf.Tensor4D, opts: ForwardOptions = {}): ForwardResult {
  return run(spec, params, x, opts, spec.stages.length) as ForwardResult;
}

/**
 * The input of stage `stage` (0-based; the stem's output for 0): the frozen prefix of a
 * fine-tune that trains the last stages only, always with BatchNorm's running statistics.
 */
export function stageInput(spec: ResNetSpec, params: ParamTensors, x: tf.Tensor4D, stage: number, opts: Pick<ForwardOptions, 'masks' | 'onMaskSite'> = {}): tf.Tensor4D {
  if (!Number.isInteger(stage) || stage < 0 || stage >= spec.stages.length) throw new Error(`No stage ${stage} in a ${spec.stages.length}-stage network.`);
  return run(spec, params, x, { masks: opts.masks, onMaskSite: opts.onMaskSite, training: false }, stage) as tf.Tensor4D;
}

/** The forward pass up to the input of stage `until` (returned), or whole (until = #stages). */
function run(spec: ResNetSpec, params: ParamTensors, x: tf.Tensor4D, opts: ForwardOptions, until: number): ForwardResult | tf.Tensor4D {
  const training = opts.training ?? false;
  const masks = opts.masks;
  const bnStats: BatchStat[] = [];
  // One tape node per BatchNorm (+ReLU) and residual join on wasm/cpu (fused-train-ops.ts).
  const fused = training && useFusedTrainOps();

  const conv = (input: tf.Tensor4D, name: string, stride: number, pad: number): tf.Tensor4D => {
    const w = get(params, name) as tf.Tensor4D;
    const padding: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ];
    return tf.conv2d(input, w, stride, pad === 0 ? 'valid' : padding);
  };

  // BatchNorm as plain broadcast ops: faster than tf.batchNorm's gradient on wasm (design.md).
  const bn = (input: tf.Tensor, prefix: string, axes: number[]): tf.Tensor => {
    const gamma = get(params, `${prefix}.weight`);
    const beta = get(params, `${prefix}.bias`);
    if (fused) {
      const r = batchNormTrain(input, gamma, beta, BN_EPS, false);
      bnStats.push({ name: prefix, mean: r.mean, variance: r.variance, count: input.size / input.shape[input.rank - 1] });
      return r.y;
    }
    if (training) {
      const { mean, variance } = tf.moments(input, axes);
      const count = axes.reduce((n, a) => n * input.shape[a], 1);
      bnStats.push({ name: prefix, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, count });
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPS)));
      return tf.add(tf.mul(tf.sub(input, mean), scale), beta);
    }
    const mean = get(params, `${prefix}.running_mean`);
    const variance = get(params, `${prefix}.running_var`);
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPS)));
    const shift = tf.sub(beta, tf.mul(mean, scale));
    return tf.add(tf.mul(input, scale), shift);
  };
  const bn2d = (input: tf.Tensor4D, prefix: string) => bn(input, prefix, [0, 1, 2]) as tf.Tensor4D;
  const bnRelu = (input: tf.Tensor4D, prefix: string): tf.Tensor4D => {
    if (!fused) return tf.relu(bn2d(input, prefix));
    const r = batchNormTrain(input, get(params, `${prefix}.weight`), get(params, `${prefix}.bias`), BN_EPS, true);
    bnStats.push({ name: prefix, mean: r.mean, variance: r.variance, count: input.size / input.shape[3] });
    return r.y;
  };
  const residualRelu = (y: tf.Tensor4D, shortcut: tf.Tensor4D): tf.Tensor4D => (fused ? addRelu(y, shortcut) : tf.relu(tf.add(y, shortcut) as tf.Tensor4D));

  const mask = <T extends tf.Tensor>(input: T, groupId: string): T => {
    const m = masks?.get(groupId);
    const out = m ? (tf.mul(input, m) as T) : input;
    opts.onMaskSite?.(groupId, out);
    return out;
  };

  let h: tf.Tensor4D;
  const first = opts.start?.stage ?? 0;
  if (opts.start) {
    h = opts.start.h;
  } else {
    // Stem.
    h = bnRelu(conv(x, 'conv1.weight', 2, 3), 'bn1');
    h = mask(h, stemGroupId(spec));
    h = tf.maxPool(h, 3, 2, 1);
  }

  for (let s = first; s < spec.stages.length; s++) {
    if (s === until) return h;
    spec.stages[s].forEach((b, i) => {
      const p = blockPrefix(s, i);
      let y: tf.Tensor4D;
      if (spec.block === 'basic') {
        y = mask(bnRelu(conv(h, `${p}.conv1.weight`, b.stride, 1), `${p}.bn1`), innerGroupId(s, i, 1));
        y = bn2d(conv(y, `${p}.conv2.weight`, 1, 1), `${p}.bn2`);
      } else {
        y = mask(bnRelu(conv(h, `${p}.conv1.weight`, 1, 0), `${p}.bn1`), innerGroupId(s, i, 1));
        y = mask(bnRelu(conv(y, `${p}.conv2.weight`, b.stride, 1), `${p}.bn2`), innerGroupId(s, i, 2));
        y = bn2d(conv(y, `${p}.conv3.weight`, 1, 0), `${p}.bn3`);
      }
      const shortcut = b.downsample ? bn2d(conv(h, `${p}.downsample.0.weight`, b.stride, 0), `${p}.downsample.1`) : h;
      h = mask(residualRelu(y, shortcut), trunkGroupId(s));
    });
    if (opts.stageHook) {
      const out = opts.stageHook(s, h);
      if (out.rank !== 4 || out.shape.some((d, j) => d !== h.shape[j])) {
        throw new Error(`stageHook changed layer${s + 1}'s output from [${h.shape}] to [${out.shape}]; it must keep the shape.`);
      }
      h = out;
    }
  }

  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
  let embedding = pooled;
  if (spec.head.bnneck) embedding = mask(bn(pooled, 'bnneck', [0]) as tf.Tensor2D, trunkGroupId(spec.stages.length - 1));
  let logits: tf.Tensor2D | undefined;
  if (opts.withLogits) {
    if (spec.head.numClasses <= 0) throw new Error('This model has no ID classifier (numClasses = 0).');
    logits = tf.add(tf.matMul(embedding, get(params, 'classifier.weight') as tf.Tensor2D), get(params, 'classifier.bias')) as tf.Tensor2D;
  }
  return { pooled, embedding, logits, bnStats };
}
