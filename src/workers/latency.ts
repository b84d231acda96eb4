/**
 * Measured inference latency of the loaded model on the active backend: wall time of one
 * batched forward pass including the read-back of the embeddings (what a user waits for).
 * Warm-up runs absorb shader compilation and wasm/XNNPACK set-up and are not counted.
 */
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../engine/errors';
import type { ReidModel } from '../engine/model/model';
import type { BackendName, LatencyOptions, LatencyResult } from './api';
import { yieldToEventLoop, type Job } from './jobs';

function positiveInt(v: number | undefined, dflt: number, what: string, max: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new LabError('bad-argument', `${what} must be a whole number from 1 to ${max}; got ${String(v)}.`);
  return n;
}

export async function measureLatency(model: ReidModel, backend: BackendName, opts: LatencyOptions, job: Job): Promise<LatencyResult> {
  const batch = positiveInt(opts.batch, 1, 'Batch size', 256);
  const runs = positiveInt(opts.runs, 10, 'Number of runs', 1000);
  const warmup = opts.warmup ?? 2;
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > 100) throw new LabError('bad-argument', `Warm-up runs must be a whole number from 0 to 100; got ${String(opts.warmup)}.`);
  const { height, width } = model.spec.input;
  // Fixed seed: the numbers do not matter, reproducible inputs do.
  const x = tf.randomUniform([batch, height, width, 3], -2, 2, 'float32', 1) as tf.Tensor4D;
  const times: number[] = [];
  try {
    const total = warmup + runs;
    for (let i = 0; i < total; i++) {
      job.throwIfCancelled();
      const t0 = performance.now();
      const y = model.embed(x);
      try {
        await y.data();
      } finally {
        y.dispose();
      }
      const dt = performance.now() - t0;
      if (i >= warmup) times.push(dt);
      job.progress((i + 1) / total, i < warmup ? `Warm-up ${i + 1}/${warmup}` : `Run ${i + 1 - warmup}/${runs}: ${dt.toFixed(1)} ms`);
      await yieldToEventLoop();
    }
  } finally {
    x.dispose();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const msMedian = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const msMean = times.reduce((a, b) => a + b, 0) / times.length;
  return {
    backend,
    batch,
    input: { height, width },
    runs,
    msMedian,
    msMin: sorted[0],
    msMean,
    imagesPerSecond: (batch * 1000) / msMedian,
  };
}
