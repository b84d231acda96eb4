/**
 * Fused training ops for the CPU-memory backends (wasm, cpu): BatchNorm with batch statistics
 * (optionally followed by ReLU) and the residual add + ReLU, each one tape node with a
 * hand-written backward.
 *
 * Why: on wasm, tfjs's Sum/Mean over the leading axes of an NHWC tensor transposes it first
 * (~40x slower than a GEMV over the same data), and autodiff through BatchNorm written as
 * broadcast ops records ~15 tape nodes per layer, each cloning its saved inputs. Here a
 * per-channel mean is a global average pool (XNNPACK, one pass) then a mean over the small
 * [B, C] result (a GEMV with ones would repack the whole activation as weights each call), the
 * affine (+ ReLU) is one depthwise 1x1 conv with bias, and only what the backward needs is saved.
 *
 * BatchNorm, with M values per channel, xc = x - mean, invstd = 1 / sqrt(var + eps):
 *   y = xc * (gamma * invstd) + beta                       (then ReLU if asked)
 *   dbeta = sum(dz), dgamma = invstd * sum(dz * xc)         (dz: dy through the ReLU)
 *   dx = gamma * invstd * (dz - dbeta / M - xc * invstd * dgamma / M)
 */
import * as tf from '@tensorflow/tfjs';

const fusedBackends = new Set<string>(['wasm', 'cpu']);
let enabled = true;

/** Whether forward.ts uses these ops on the active backend (WebGPU/WebGL keep plain ops). */
export function useFusedTrainOps(): boolean {
  return enabled && fusedBackends.has(tf.getBackend());
}

/** Switch the fused ops off (true: the plain-op path) so tests and benches can compare. */
export function setFusedTrainOps(on: boolean): void {
  enabled = on;
}

/**
 * Per-channel means of x [B, H, W, C] (or [N, C]) over every other axis: a global average pool
 * per image, then the mean over the batch; the same value as tf.mean(x, [0, 1, 2]) without
 * the transpose wasm's Mean does first.
 */
export function channelMeans(x: tf.Tensor): tf.Tensor1D {
  if (x.rank !== 4) return tf.mean(x, x.shape.slice(0, -1).map((_, i) => i)) as tf.Tensor1D;
  const [b, h, w, c] = x.shape;
  const perImage = tf.reshape(tf.avgPool(x as tf.Tensor4D, [h, w], 1, 'valid'), [b, c]);
  return tf.mean(perImage, 0) as tf.Tensor1D;
}

/** y = x * scale + shift per channel (then ReLU), in one pass: a depthwise 1x1 conv with bias. */
function affine(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D, relu: boolean): tf.Tensor {
  const c = x.shape[x.rank - 1];
  const x4 = (x.rank === 4 ? x : tf.reshape(x, [1, 1, x.size / c, c])) as tf.Tensor4D;
  const y = tf.fused.depthwiseConv2d({ x: x4, filter: tf.reshape(scale, [1, 1, c, 1]), strides: 1, pad: 'valid', bias: shift, activation: relu ? 'relu' : 'linear' });
  return x.rank === 4 ? y : tf.reshape(y, x.shape);
}

/** dy where y > 0, else 0 (the ReLU gradient given its output). */
function reluBackward(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.mul(dy, tf.step(y));
}

export interface BatchNormTrainResult<T extends tf.Tensor> {
  y: T;
  /** Batch mean and biased variance, for the running statistics (no gradient flows through). */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * BatchNorm over every axis but the last (channels), with batch statistics, optionally followed
 * by ReLU; one tape node. Same values as the plain-op BatchNorm within float rounding.
 */
export function batchNormTrain<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps: number, relu: boolean): BatchNormTrainResult<T> {
  const shape = x.shape;
  const c = shape[shape.length - 1];
  const m = x.size / c;
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const mean = channelMeans(xIn);
    const xc = tf.sub(xIn, mean);
    const variance = channelMeans(tf.mul(xc, xc));
    const invstd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor1D;
    const y = affine(xc, tf.mul(g, invstd) as tf.Tensor1D, b as tf.Tensor1D, relu);
    stats = [tf.keep(mean), tf.keep(variance)];
    save(relu ? [xc, g, invstd, y] : [xc, g, invstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sxc, sg, sinv, sy] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor | undefined];
        const dz = sy ? reluBackward(dy, sy) : dy;
        const meanDz = channelMeans(dz);
        const meanDzXc = channelMeans(tf.mul(dz, sxc));
        const a = tf.mul(sg, sinv) as tf.Tensor1D;
        // dx = a * dz + k1 * xc + k0, with k1 = -a * invstd^2 * mean(dz * xc), k0 = -a * mean(dz).
        const k1 = tf.neg(tf.mul(a, tf.mul(tf.square(sinv), meanDzXc))) as tf.Tensor1D;
        const k0 = tf.neg(tf.mul(a, meanDz)) as tf.Tensor1D;
        const dx = tf.add(tf.mul(dz, a), affine(sxc, k1, k0, false));
        const dgamma = tf.mul(tf.mul(meanDzXc, sinv), m);
        const dbeta = tf.mul(meanDz, m);
        return [dx, tf.reshape(dgamma, g.shape), tf.reshape(dbeta, b.shape)];
      },
    };
  });
  const y = op(x, gamma, beta) as T;
  const [km, kv] = stats!;
  // Hand the statistics to the caller's scope (tf.keep above let them out of the op's own).
  const result = { y, mean: tf.clone(km), variance: tf.clone(kv) };
  km.dispose();
  kv.dispose();
  return result;
}

/** relu(a + b) as one tape node that saves only its output (the residual join of a block). */
export function addRelu<T extends tf.Tensor>(a: T, b: T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, z, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const y = tf.relu(tf.add(x, z));
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const d = reluBackward(dy, saved[0]);
        // Two tensors (sharing data) so the tape may dispose each input's gradient on its own.
        return [d, tf.reshape(d, d.shape)];
      },
    };
  });
  return op(a, b) as T;
}
