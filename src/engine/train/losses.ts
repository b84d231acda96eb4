/**
 * ReID training losses: triplet loss on Euclidean distances (batch-hard mining, Hermans et al.
 * 2017, or given triplets) and ID cross-entropy with label smoothing (Szegedy et al. 2016), as
 * in the BNNeck "bag of tricks" recipe (Luo et al. 2019). Call inside tf.tidy or a gradient.
 */
import * as tf from '@tensorflow/tfjs';

/** Squared distances below this are clamped before the sqrt, whose gradient is infinite at 0. */
export const DIST_EPS = 1e-12;

/**
 * Pairwise Euclidean distances [n, n] of the rows of x [n, d]. The diagonal is exactly 0 (with a
 * zero gradient), and off-diagonal squared distances are clamped at DIST_EPS before the sqrt.
 */
export function pairwiseDistances(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const n = x.shape[0];
    // Distances are translation invariant; centring shrinks the norms, and with them the
    // cancellation error of |a|^2 + |b|^2 - 2ab in float32.
    const xc = tf.sub(x, tf.mean(x, 0, true));
    const sq = tf.sum(tf.square(xc), 1, true); // [n, 1]
    const d2 = tf.sub(tf.add(sq, tf.transpose(sq)), tf.mul(2, tf.matMul(xc, xc, false, true)));
    const offDiag = tf.sub(1, tf.eye(n));
    return tf.mul(tf.sqrt(tf.maximum(d2, DIST_EPS)), offDiag) as tf.Tensor2D;
  });
}

/** 1 where labels[i] === labels[j] (the diagonal included), else 0. */
function sameLabelMask(labels: ArrayLike<number>): tf.Tensor2D {
  const n = labels.length;
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = labels[i] === labels[j] ? 1 : 0;
  return tf.tensor2d(m, [n, n]);
}

export interface TripletTerms {
  loss: tf.Scalar;
  /** Mean hardest-positive and hardest-negative distances (diagnostics). */
  meanPos: tf.Scalar;
  meanNeg: tf.Scalar;
}

/**
 * Batch-hard triplet loss: for each anchor, the farthest positive and the nearest negative in the
 * batch; loss = mean(max(0, d(a,p) - d(a,n) + margin)). Needs at least one other image of the
 * anchor's identity (K >= 2) and one other identity in the batch.
 */
export function batchHardTripletLoss(features: tf.Tensor2D, labels: ArrayLike<number>, margin = 0.3): TripletTerms {
  return tf.tidy(() => {
    const dist = pairwiseDistances(features);
    const pos = sameLabelMask(labels);
    // Distances are >= 0, so masking negatives to 0 leaves the max over positives.
    const dap = tf.max(tf.mul(dist, pos), 1);
    // Push positives beyond any real distance so the min picks a negative.
    const big = tf.add(tf.max(dist), 1);
    const dan = tf.min(tf.add(dist, tf.mul(pos, big)), 1);
    const loss = tf.mean(tf.relu(tf.add(tf.sub(dap, dan), margin))) as tf.Scalar;
    return { loss, meanPos: tf.mean(dap) as tf.Scalar, meanNeg: tf.mean(dan) as tf.Scalar };
  });
}

/** Triplet loss over given (anchor, positive, negative) index triplets. */
export function tripletLoss(features: tf.Tensor2D, triplets: ReadonlyArray<readonly [number, number, number]>, margin = 0.3): TripletTerms {
  return tf.tidy(() => {
    const dist = pairwiseDistances(features);
    const n = features.shape[0];
    // Pick d(a,p) and d(a,n) with one-hot selection matrices (wasm lacks the kernel behind
    // tf.gather's gradient).
    const t = triplets.length;
    const selP = new Float32Array(t * n * n);
    const selN = new Float32Array(t * n * n);
    triplets.forEach(([a, p, q], i) => {
      selP[i * n * n + a * n + p] = 1;
      selN[i * n * n + a * n + q] = 1;
    });
    const flat = tf.reshape(dist, [n * n, 1]);
    const ap = tf.matMul(tf.tensor2d(selP, [t, n * n]), flat);
    const an = tf.matMul(tf.tensor2d(selN, [t, n * n]), flat);
    const loss = tf.mean(tf.relu(tf.add(tf.sub(ap, an), margin))) as tf.Scalar;
    return { loss, meanPos: tf.mean(ap) as tf.Scalar, meanNeg: tf.mean(an) as tf.Scalar };
  });
}

/**
 * Random triplets: for each anchor, a random other image of its identity and a random image of
 * another identity (anchors without either are skipped). `rand` returns uniform [0, 1).
 */
export function randomTriplets(labels: ArrayLike<number>, rand: () => number): [number, number, number][] {
  const out: [number, number, number][] = [];
  const n = labels.length;
  for (let a = 0; a < n; a++) {
    const pos: number[] = [];
    const neg: number[] = [];
    for (let j = 0; j < n; j++) {
      if (j === a) continue;
      (labels[j] === labels[a] ? pos : neg).push(j);
    }
    if (pos.length === 0 || neg.length === 0) continue;
    out.push([a, pos[Math.floor(rand() * pos.length)], neg[Math.floor(rand() * neg.length)]]);
  }
  return out;
}

/**
 * Cross-entropy with label smoothing: targets (1 - eps) on the true class plus eps / C on every
 * class; mean over the batch. Labels are contiguous class indices in [0, C).
 */
export function crossEntropyLabelSmooth(logits: tf.Tensor2D, labels: ArrayLike<number>, epsilon = 0.1): tf.Scalar {
  return tf.tidy(() => {
    const c = logits.shape[1];
    const oneHot = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), c).toFloat();
    const targets = tf.add(tf.mul(oneHot, 1 - epsilon), epsilon / c);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, logp), 1))) as tf.Scalar;
  });
}
