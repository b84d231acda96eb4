/**
 * BatchNorm recalibration: recovery after pruning without gradients. Pruning removes channels,
 * so the layers after them see inputs with another mean and variance than the running
 * statistics the model was trained with; re-estimating those statistics on a few hundred images
 * of the target domain (forward passes only) recovers much of the loss, in seconds (Li et al.'s
 * AdaBN; Frankle et al. and EagleEye do the same after pruning).
 *
 * As PyTorch does it (reset_running_stats, momentum=None, model.train()): every BatchNorm
 * normalises with its batch's statistics, and its new running mean and variance are the average
 * over batches of the batch mean and of the unbiased batch variance, weighted by batch size.
 * Labels are not used, so any training split will do; identities stay disjoint from evaluation.
 * The statistics change only at the end: a cancel or an error leaves the model as it was.
 */
import * as tf from '@tensorflow/tfjs';
import { CancelledError, LabError } from '../errors';
import { gatherBatch } from '../data/preprocess';
import type { ReidSplit } from '../data/types';
import { forward } from '../model/forward';
import type { ReidModel } from '../model/model';
import { Prng } from '../util/prng';

export interface RecalibrateOptions {
  /** Images to run (a seeded sample of the split; default 256, at most the split's size). */
  images?: number;
  /** Images per forward pass (default 32); a last batch of one image is dropped (no variance). */
  batchSize?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Awaited between batches (a worker yields to its event loop here). */
  betweenBatches?: () => Promise<void>;
}

export interface RecalibrateResult {
  images: number;
  batches: number;
  /** BatchNorm layers re-estimated. */
  layers: number;
  ms: number;
}

export const DEFAULT_RECALIBRATION_IMAGES = 256;

export async function recalibrateBatchNorm(model: ReidModel, split: ReidSplit, opts: RecalibrateOptions = {}): Promise<RecalibrateResult> {
  const t0 = performance.now();
  const wanted = opts.images ?? DEFAULT_RECALIBRATION_IMAGES;
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(wanted) || wanted < 2) throw new LabError('bad-argument', `BatchNorm recalibration needs at least 2 images; got ${String(opts.images)}.`);
  if (!Number.isInteger(batchSize) || batchSize < 2) throw new LabError('bad-argument', `The recalibration batch must hold at least 2 images; got ${String(opts.batchSize)}.`);
  if (split.count < 2) throw new LabError('bad-dataset', `BatchNorm recalibration needs at least 2 training images; the training split has ${split.count}.`);
  if (split.height !== model.spec.input.height || split.width !== model.spec.input.width) {
    throw new LabError('bad-dataset', `The training images are ${split.height}×${split.width}; the model expects ${model.spec.input.height}×${model.spec.input.width}.`);
  }
  const n = Math.min(wanted, split.count);
  const order = new Prng(opts.seed ?? 1).fork('bn-recalibration').shuffle(Array.from({ length: split.count }, (_, i) => i)).slice(0, n);
  const batches: number[][] = [];
  for (let s = 0; s < n; s += batchSize) {
    const b = order.slice(s, s + batchSize);
    if (b.length >= 2) batches.push(b);
  }
  // Per BatchNorm: sum over batches of (batch size x mean) and (batch size x unbiased variance).
  const sums = new Map<string, { mean: tf.Tensor1D; variance: tf.Tensor1D }>();
  let used = 0;
  try {
    for (let i = 0; i < batches.length; i++) {
      if (opts.signal?.aborted) throw new CancelledError('BatchNorm recalibration');
      const b = batches[i];
      tf.tidy(() => {
        const { bnStats } = forward(model.spec, model.params, gatherBatch(split, b), { training: true });
        for (const st of bnStats) {
          const unbiased = st.count > 1 ? tf.mul(st.variance, st.count / (st.count - 1)) : st.variance;
          const prev = sums.get(st.name);
          const mean = tf.keep(tf.add(prev?.mean ?? tf.zerosLike(st.mean), tf.mul(st.mean, b.length)) as tf.Tensor1D);
          const variance = tf.keep(tf.add(prev?.variance ?? tf.zerosLike(st.variance), tf.mul(unbiased, b.length)) as tf.Tensor1D);
          prev?.mean.dispose();
          prev?.variance.dispose();
          sums.set(st.name, { mean, variance });
        }
      });
      used += b.length;
      // A read-back per batch keeps the backend's queue (and memory) from running ahead.
      const first = sums.values().next().value;
      if (first) await first.mean.data();
      opts.onProgress?.(used, n);
      await opts.betweenBatches?.();
    }
    if (opts.signal?.aborted) throw new CancelledError('BatchNorm recalibration');
    // Every statistic exists before anything is assigned: all layers change, or none.
    for (const name of sums.keys()) {
      if (!model.params.get(`${name}.running_mean`) || !model.params.get(`${name}.running_var`)) throw new Error(`Missing running statistics for ${name}`);
    }
    tf.tidy(() => {
      for (const [name, s] of sums) {
        model.params.get(`${name}.running_mean`)!.assign(tf.div(s.mean, used));
        model.params.get(`${name}.running_var`)!.assign(tf.div(s.variance, used));
      }
    });
  } finally {
    for (const s of sums.values()) {
      s.mean.dispose();
      s.variance.dispose();
    }
  }
  return { images: used, batches: batches.length, layers: sums.size, ms: performance.now() - t0 };
}
