/**
 * Feature extraction: a model's evaluation embeddings for every image of a split, in batches.
 *
 * Options as in torchreid/fast-reid test-time: flip-averaging (the mean of the embeddings of
 * the image and its horizontal mirror) and l2 normalisation (F.normalize, eps 1e-12), applied
 * after flip-averaging. Results are read back asynchronously per batch (GPU friendly), so at
 * most one batch of tensors lives at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { CancelledError, LabError } from '../errors';
import { splitBatch } from '../data/preprocess';
import type { ReidSplit } from '../data/types';
import type { ReidModel } from '../model/model';
import { embeddingDim } from '../model/spec';
import type { ForwardOptions } from '../model/forward';
import type { FeatureMatrix } from './distance';

export interface ExtractOptions {
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /** Average with the horizontally flipped image's embedding. */
  flip?: boolean;
  /** Scale each embedding to unit l2 norm. */
  normalize?: boolean;
  /** Channel masks for the forward pass (masked, i.e. soft-pruned, models). */
  masks?: ForwardOptions['masks'];
  /** Called after each batch with images done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Polled before each batch; true stops with a CancelledError. */
  shouldCancel?: () => boolean;
  signal?: AbortSignal;
}

export type Embedder = Pick<ReidModel, 'embed' | 'spec'>;

/** Embeddings of one normalised NHWC batch, with the test-time options applied. */
export function embedBatch(model: Embedder, x: tf.Tensor4D, opts: Pick<ExtractOptions, 'flip' | 'normalize' | 'masks'> = {}): tf.Tensor2D {
  return tf.tidy(() => {
    let e = model.embed(x, opts.masks);
    if (opts.flip) {
      // NHWC: axis 2 is the width, so this mirrors left-right.
      const ef = model.embed(tf.reverse(x, 2), opts.masks);
      e = e.add(ef).div(2);
    }
    if (opts.normalize) {
      e = e.div(e.norm('euclidean', 1, true).maximum(1e-12));
    }
    return e as tf.Tensor2D;
  });
}

export async function extractFeatures(model: Embedder, split: ReidSplit, opts: ExtractOptions = {}): Promise<FeatureMatrix> {
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new LabError('bad-argument', `Batch size must be a positive whole number; got ${batchSize}.`);
  }
  const dim = embeddingDim(model.spec);
  const n = split.count;
  const data = new Float32Array(n * dim);
  const cancelled = () => opts.shouldCancel?.() === true || opts.signal?.aborted === true;
  for (let start = 0; start < n; start += batchSize) {
    if (cancelled()) throw new CancelledError('Feature extraction');
    const rows = Math.min(batchSize, n - start);
    const e = tf.tidy(() => embedBatch(model, splitBatch(split, start, rows), opts));
    try {
      if (e.shape[1] !== dim) {
        throw new LabError('bad-argument', `The model produced ${e.shape[1]}-dimensional embeddings; its spec says ${dim}.`);
      }
      data.set((await e.data()) as Float32Array, start * dim);
    } finally {
      e.dispose();
    }
    opts.onProgress?.(start + rows, n);
  }
  return { data, rows: n, dim };
}
