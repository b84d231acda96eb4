/**
 * PTL's Batch-related Convolutional Cell (BConv-Cell; Yu et al., "Progressive Transfer Learning
 * for Person Re-identification", IJCAI 2019): an LSTM-like cell whose "time" axis is the
 * sequence of mini-batches, so its cell state accumulates information about the whole dataset.
 *
 *   [i, f, o, g] = split4(conv(x_t))      one bias-free conv with 4c output channels
 *   i, f, o = sigmoid(.),  g = tanh(.)
 *   C_t = f * C_{t-1} + i * g
 *   y_t = o * tanh(C_t)
 *
 * The gates depend on the input only (methods.md; the authors' public code does the same). The
 * previous state enters detached: no gradient flows through it into earlier batches, whose
 * graphs are gone anyway. Channel order of the split is i, f, o, g (the public code's chunk order).
 */
import * as tf from '@tensorflow/tfjs';

export interface BConvStep {
  /** The cell's output y_t, [B, H', W', c]. */
  y: tf.Tensor4D;
  /** The new cell state C_t, [B, H', W', c] (the caller decides what to carry). */
  c: tf.Tensor4D;
}

/**
 * Identity with a zero gradient: the carried state is a constant for this batch's loss. Between
 * steps the tape is new anyway; this also cuts the path when several steps share one tape.
 */
const detach = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: (args[0] as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
}));

export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}

/** Output size of the cell's conv along one axis (PyTorch's formula, symmetric padding). */
export function cellOutSize(n: number, kernel: number, stride: number): number {
  const pad = (kernel - 1) / 2;
  return Math.floor((n + 2 * pad - kernel) / stride) + 1;
}

/**
 * One BConv-Cell step. `kernel` is [k, k, inC, 4c] (odd k, "same"-style symmetric padding
 * (k-1)/2); `prevC` is the previous cell state, broadcastable to [B, H', W', c] (a batch-mean
 * state [1, H', W', c] broadcasts over the batch), or null for the zero state.
 */
export function bconvStep(x: tf.Tensor4D, kernel: tf.Tensor4D, stride: number, prevC: tf.Tensor4D | null): BConvStep {
  const k = kernel.shape[0];
  const pad = (k - 1) / 2;
  const gates =
    pad === 0
      ? tf.conv2d(x, kernel, stride, 'valid')
      : tf.conv2d(x, kernel, stride, [
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ]);
  const [gi, gf, go, gg] = tf.split(gates, 4, 3) as tf.Tensor4D[];
  const i = tf.sigmoid(gi);
  const f = tf.sigmoid(gf);
  const o = tf.sigmoid(go);
  const g = tf.tanh(gg);
  const fresh = tf.mul(i, g);
  const c = (prevC ? tf.add(tf.mul(f, stopGradient(prevC)), fresh) : fresh) as tf.Tensor4D;
  const y = tf.mul(o, tf.tanh(c)) as tf.Tensor4D;
  return { y, c };
}
