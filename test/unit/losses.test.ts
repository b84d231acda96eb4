/** ReID losses against hand-worked values. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { batchHardTripletLoss, crossEntropyLabelSmooth, pairwiseDistances, randomTriplets, tripletLoss } from '../../src/engine/train/losses';
import { Prng } from '../../src/engine/util/prng';

beforeAll(async () => {
  await initBackend('wasm');
});

// Four 2-D points: identity 0 at (0,0) and (3,0); identity 1 at (0,4) and (6,8).
const PTS = [[0, 0], [3, 0], [0, 4], [6, 8]];
const LABELS = [0, 0, 1, 1];
// Distances: d01=3, d02=4, d03=10, d12=5, d13=sqrt(9+64)=sqrt(73), d23=sqrt(36+16)=sqrt(52).

describe('pairwiseDistances', () => {
  it('gives Euclidean distances with an exact zero diagonal', () => {
    const d = tf.tidy(() => pairwiseDistances(tf.tensor2d(PTS)).arraySync());
    expect(d[0][1]).toBeCloseTo(3, 5);
    expect(d[0][3]).toBeCloseTo(10, 5);
    expect(d[1][3]).toBeCloseTo(Math.sqrt(73), 5);
    expect(d[3][2]).toBeCloseTo(Math.sqrt(52), 5);
    for (let i = 0; i < 4; i++) expect(d[i][i]).toBe(0);
  });

  it('has finite gradients for identical points (safe sqrt)', () => {
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(pairwiseDistances(x as tf.Tensor2D)))(tf.tensor2d([[1, 2], [1, 2], [4, 6]])).arraySync() as number[][]);
    for (const row of g) for (const v of row) expect(Number.isFinite(v)).toBe(true);
    // Point 2 is pulled by both others along the unit vector (3,4)/5, twice (d_ij and d_ji).
    expect(g[2][0]).toBeCloseTo(2 * 2 * 0.6, 4);
    expect(g[2][1]).toBeCloseTo(2 * 2 * 0.8, 4);
  });
});

describe('batchHardTripletLoss', () => {
  it('uses the farthest positive and the nearest negative per anchor', () => {
    // Anchor 0: pos 3, nearest neg min(4, 10) = 4 -> max(0, 3-4+0.3) = 0
    // Anchor 1: pos 3, neg min(5, sqrt73) = 5 -> 0
    // Anchor 2: pos sqrt52, neg min(4, 5) = 4 -> sqrt52 - 4 + 0.3
    // Anchor 3: pos sqrt52, neg min(10, sqrt73) = sqrt73 -> max(0, sqrt52 - sqrt73 + 0.3) = 0
    const [loss, pos, neg] = tf.tidy(() => {
      const t = batchHardTripletLoss(tf.tensor2d(PTS), LABELS, 0.3);
      return [t.loss.dataSync()[0], t.meanPos.dataSync()[0], t.meanNeg.dataSync()[0]];
    });
    expect(loss).toBeCloseTo((Math.sqrt(52) - 4 + 0.3) / 4, 5);
    expect(pos).toBeCloseTo((3 + 3 + 2 * Math.sqrt(52)) / 4, 5);
    expect(neg).toBeCloseTo((4 + 5 + 4 + Math.sqrt(73)) / 4, 5);
  });

  it('is zero when every identity is far apart, and grows with the margin', () => {
    const far = [[0, 0], [0.1, 0], [10, 0], [10.1, 0]];
    const at = (m: number) => tf.tidy(() => batchHardTripletLoss(tf.tensor2d(far), LABELS, m).loss.dataSync()[0]);
    expect(at(0.3)).toBe(0);
    // With margin 20 every anchor is active; nearest negatives: 10, 9.9, 9.9, 10.
    expect(at(20)).toBeCloseTo((2 * (0.1 - 10 + 20) + 2 * (0.1 - 9.9 + 20)) / 4, 3);
  });
});

describe('tripletLoss with given triplets', () => {
  it('averages max(0, d(a,p) - d(a,n) + margin) over the triplets', () => {
    const v = tf.tidy(() => tripletLoss(tf.tensor2d(PTS), [[0, 1, 3], [2, 3, 0]], 1).loss.dataSync()[0]);
    // (3 - 10 + 1 -> 0) and (sqrt52 - 4 + 1)
    expect(v).toBeCloseTo((Math.sqrt(52) - 4 + 1) / 2, 5);
  });

  it('randomTriplets draws a same-identity positive and a different-identity negative per anchor', () => {
    const labels = [0, 0, 1, 1, 1, 2];
    const trips = randomTriplets(labels, () => new Prng(3).next());
    const rng = new Prng(5);
    const t2 = randomTriplets(labels, () => rng.next());
    // Anchor 5 (identity 2) has no positive and is skipped.
    expect(t2.map((t) => t[0])).toEqual([0, 1, 2, 3, 4]);
    for (const [a, p, n] of [...trips, ...t2]) {
      expect(p).not.toBe(a);
      expect(labels[p]).toBe(labels[a]);
      expect(labels[n]).not.toBe(labels[a]);
    }
  });
});

describe('crossEntropyLabelSmooth', () => {
  it('matches the smoothed-target cross-entropy computed by hand', () => {
    const logits = [[2, 0, -1], [0.5, 0.5, 3]];
    const labels = [0, 2];
    const eps = 0.1;
    let expected = 0;
    logits.forEach((row, i) => {
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      row.forEach((v, c) => {
        const target = (c === labels[i] ? 1 - eps : 0) + eps / 3;
        expected -= target * (v - lse);
      });
    });
    expected /= 2;
    const got = tf.tidy(() => crossEntropyLabelSmooth(tf.tensor2d(logits), labels, eps).dataSync()[0]);
    expect(got).toBeCloseTo(expected, 5);
  });

  it('equals plain cross-entropy without smoothing, and log(C) for uniform logits', () => {
    const plain = tf.tidy(() => crossEntropyLabelSmooth(tf.tensor2d([[1, 2]]), [1], 0).dataSync()[0]);
    expect(plain).toBeCloseTo(Math.log(1 + Math.exp(-1)), 5);
    const uniform = tf.tidy(() => crossEntropyLabelSmooth(tf.zeros([3, 5]) as tf.Tensor2D, [0, 1, 4], 0.1).dataSync()[0]);
    expect(uniform).toBeCloseTo(Math.log(5), 5);
  });
});
