/**
 * Latency as a worker job: the engine's measurement (src/engine/cost/latency.ts: batched
 * forwards of a fixed input, timed to the read-back of the embeddings, warm-up excluded), run
 * one timed forward at a time so the job can report progress and notice a cancel in between.
 */
import { LabError } from '../engine/errors';
import { measureLatency as measureOnce, percentile } from '../engine/cost/latency';
import { BUSY_SPREAD } from '../engine/cost/latency-pair';
import type { ReidModel } from '../engine/model/model';
import type { BackendName, LatencyOptions, LatencyResult } from './api';
import { yieldToEventLoop, type Job } from './jobs';

function wholeNumber(v: number | undefined, dflt: number, what: string, min: number, max: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min || n > max) throw new LabError('bad-argument', `${what} must be a whole number from ${min} to ${max}; got ${String(v)}.`);
  return n;
}

export async function measureLatency(model: Pick<ReidModel, 'spec' | 'embed'>, backend: BackendName, opts: LatencyOptions, job: Job): Promise<LatencyResult> {
  const batch = wholeNumber(opts.batch, 1, 'Batch size', 1, 256);
  const runs = wholeNumber(opts.runs, 10, 'Number of runs', 1, 1000);
  const warmup = wholeNumber(opts.warmup, 2, 'Warm-up runs', 0, 100);
  const samples: number[] = [];
  const total = warmup + runs;
  for (let i = 0; i < total; i++) {
    job.throwIfCancelled();
    const r = await measureOnce(model, { batch, warmup: 0, repeats: 1 });
    if (i >= warmup) samples.push(r.samplesMs[0]);
    const label = i < warmup ? `Warm-up ${i + 1}/${warmup}` : `Run ${i + 1 - warmup}/${runs}: ${r.samplesMs[0].toFixed(1)} ms`;
    job.progress((i + 1) / total, label);
    // Let a cancel request (a message) in between runs.
    await yieldToEventLoop();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const medianMs = percentile(sorted, 0.5);
  const p10Ms = percentile(sorted, 0.1);
  const p90Ms = percentile(sorted, 0.9);
  const spread = medianMs > 0 ? (p90Ms - p10Ms) / medianMs : 0;
  return {
    backend,
    batch,
    input: { ...model.spec.input },
    runs,
    medianMs,
    p10Ms,
    p90Ms,
    imagesPerSecond: (batch * 1000) / medianMs,
    spread,
    busy: spread > BUSY_SPREAD,
  };
}
