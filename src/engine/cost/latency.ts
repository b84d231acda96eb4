/**
 * Measured forward latency on the active tfjs backend: batched evaluation-mode forwards of a
 * fixed synthetic input, after warm-up (the first runs compile kernels / allocate). Each timed
 * run ends with `await data()` on the embedding, so asynchronous backends (WebGPU, WebGL) are
 * timed to completion rather than to kernel submission.
 */
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../errors';
import type { ReidModel } from '../model/model';

export interface LatencyOptions {
  batch?: number;
  warmup?: number;
  repeats?: number;
  /** Called after each timed run (progress bars). */
  onRun?: (done: number, total: number) => void;
}

export interface LatencyResult {
  backend: string;
  batch: number;
  /** Milliseconds per batched forward. */
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  /** batch / median. */
  imagesPerSecond: number;
  samplesMs: number[];
}

/** Percentile of ascending-sorted values, linear interpolation between ranks (numpy's default). */
/** Refuse a batch size, warm-up or run count that would make a timing meaningless. */
export function checkTimingCounts(batch: number, warmup: number, runs: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new LabError('bad-argument', `Latency batch size must be a positive integer; got ${batch}.`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new LabError('bad-argument', `Warm-up runs must be a non-negative integer; got ${warmup}.`);
  if (!Number.isInteger(runs) || runs < 1) throw new LabError('bad-argument', `Timed runs must be a positive integer; got ${runs}.`);
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty list');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** `model`: anything that embeds a batch (a ReidModel, or a model with its PTL side branch). */
export async function measureLatency(model: Pick<ReidModel, 'spec' | 'embed'>, opts: LatencyOptions = {}): Promise<LatencyResult> {
  const batch = opts.batch ?? 1;
  const warmup = opts.warmup ?? 2;
  const repeats = opts.repeats ?? 10;
  checkTimingCounts(batch, warmup, repeats);
  const { height, width } = model.spec.input;
  // Seeded tfjs random input: values do not change the work done, only avoid degenerate zeros.
  const x = tf.randomNormal([batch, height, width, 3], 0, 1, 'float32', 1234) as tf.Tensor4D;
  const run = async () => {
    const e = model.embed(x);
    await e.data();
    e.dispose();
  };
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) await run();
    for (let i = 0; i < repeats; i++) {
      const t0 = now();
      await run();
      samples.push(now() - t0);
      opts.onRun?.(i + 1, repeats);
    }
  } finally {
    x.dispose();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const medianMs = percentile(sorted, 0.5);
  return {
    backend: tf.getBackend(),
    batch,
    medianMs,
    p10Ms: percentile(sorted, 0.1),
    p90Ms: percentile(sorted, 0.9),
    imagesPerSecond: (batch * 1000) / medianMs,
    samplesMs: samples,
  };
}
