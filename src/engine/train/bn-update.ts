/**
 * BatchNorm running-statistics update, PyTorch style: running = (1 - momentum) * running +
 * momentum * batch, with the batch variance made unbiased (x count / (count - 1)) for
 * running_var. Applied after the optimiser step so a cancelled step changes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchStat } from '../model/forward';

export const BN_MOMENTUM = 0.1;

export function updateRunningStats(params: ReadonlyMap<string, tf.Variable>, stats: readonly BatchStat[], momentum = BN_MOMENTUM): void {
  for (const w of runningStatsUpdate(params, stats, momentum)) {
    w.target.assign(w.value);
    w.value.dispose();
  }
}

/** The new running statistics, computed but not assigned (the caller assigns or disposes them). */
export function runningStatsUpdate(params: ReadonlyMap<string, tf.Variable>, stats: readonly BatchStat[], momentum = BN_MOMENTUM): { target: tf.Variable; value: tf.Tensor }[] {
  const out: { target: tf.Variable; value: tf.Tensor }[] = [];
  try {
    for (const s of stats) {
      const rm = params.get(`${s.name}.running_mean`);
      const rv = params.get(`${s.name}.running_var`);
      if (!rm || !rv) throw new Error(`Missing running statistics for ${s.name}`);
      const [m, v] = tf.tidy(() => {
        const unbiased = s.count > 1 ? tf.mul(s.variance, s.count / (s.count - 1)) : s.variance;
        return [tf.add(tf.mul(rm, 1 - momentum), tf.mul(s.mean, momentum)), tf.add(tf.mul(rv, 1 - momentum), tf.mul(unbiased, momentum))];
      });
      out.push({ target: rm, value: m }, { target: rv, value: v });
    }
  } catch (e) {
    for (const w of out) w.value.dispose();
    throw e;
  }
  return out;
}
