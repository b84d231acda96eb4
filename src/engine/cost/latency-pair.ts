/**
 * Latency of two models measured interleaved in one call (A B A B ...): on a shared machine the
 * load changes from second to second, and two models timed one after the other can differ by
 * the load alone (the lab once showed the same dense model at 20.8 and 125 ms in one visit).
 * Interleaving puts both models under the same load, so the speed-up comes from one run: the
 * median of the per-pair ratios. Each model gets its median and p10-p90 spread; a spread above
 * BUSY_SPREAD of the median says the machine was busy and the numbers are rough.
 */
import * as tf from '@tensorflow/tfjs';
import { CancelledError, LabError } from '../errors';
import type { ReidModel } from '../model/model';
import { checkTimingCounts, percentile } from './latency';

type Timed = Pick<ReidModel, 'spec' | 'embed'>;

/** (p90 - p10) / median above this: the machine was busy, the numbers are rough. */
export const BUSY_SPREAD = 0.2;

export interface LatencyStats {
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  runs: number;
  /** (p90 - p10) / median. */
  spread: number;
  samplesMs: number[];
}

export interface LatencyPair {
  a: LatencyStats;
  b: LatencyStats;
  /** Median over pairs of a's time / b's time (> 1: b is faster). */
  speedup: number;
  /** Either model's spread is above BUSY_SPREAD. */
  busy: boolean;
}

export interface PairOptions {
  batch?: number;
  warmup?: number;
  runs?: number;
  /** After each timed pair (progress), awaited: a worker yields here so a cancel can come in. */
  onPair?: (done: number, total: number) => void | Promise<void>;
  shouldCancel?: () => boolean;
}

export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new LabError('bad-argument', 'Latency needs at least one timed run.');
  const sorted = [...samples].sort((x, y) => x - y);
  const medianMs = percentile(sorted, 0.5);
  const p10Ms = percentile(sorted, 0.1);
  const p90Ms = percentile(sorted, 0.9);
  return { medianMs, p10Ms, p90Ms, runs: samples.length, spread: medianMs > 0 ? (p90Ms - p10Ms) / medianMs : 0, samplesMs: [...samples] };
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Time `a` and `b` alternately (the order within a pair alternates too, so neither always runs second). */
export async function measureLatencyPair(a: Timed, b: Timed, opts: PairOptions = {}): Promise<LatencyPair> {
  const batch = opts.batch ?? 1;
  const warmup = opts.warmup ?? 1;
  const runs = opts.runs ?? 9;
  checkTimingCounts(batch, warmup, runs);
  const sa = a.spec.input;
  const sb = b.spec.input;
  if (sa.height !== sb.height || sa.width !== sb.width) {
    throw new LabError('bad-argument', `Both models must take the same input to be timed together; got ${sa.height}×${sa.width} and ${sb.height}×${sb.width}.`);
  }
  const x = tf.randomNormal([batch, sa.height, sa.width, 3], 0, 1, 'float32', 1234) as tf.Tensor4D;
  const time = async (m: Timed) => {
    const t0 = now();
    const e = m.embed(x);
    await e.data();
    e.dispose();
    return now() - t0;
  };
  const ta: number[] = [];
  const tb: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) {
      await time(a);
      await time(b);
    }
    for (let i = 0; i < runs; i++) {
      if (opts.shouldCancel?.()) throw new CancelledError('Latency measurement');
      if (i % 2 === 0) {
        ta.push(await time(a));
        tb.push(await time(b));
      } else {
        tb.push(await time(b));
        ta.push(await time(a));
      }
      await opts.onPair?.(i + 1, runs);
    }
  } finally {
    x.dispose();
  }
  const ratios = ta.map((v, i) => v / tb[i]).sort((p, q) => p - q);
  const A = latencyStats(ta);
  const B = latencyStats(tb);
  return { a: A, b: B, speedup: percentile(ratios, 0.5), busy: A.spread > BUSY_SPREAD || B.spread > BUSY_SPREAD };
}
