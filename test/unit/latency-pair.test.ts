/**
 * Interleaved latency (src/engine/cost/latency-pair.ts): the two models alternate (A B, B A, ...),
 * the speed-up is the median of per-pair ratios, the spread and the "busy" flag follow the
 * p10-p90 definition, and bad input is a sentence.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BUSY_SPREAD, latencyStats, measureLatencyPair } from '../../src/engine/cost/latency-pair';
import { buildSpec } from '../../src/engine/model/spec';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 32, inputWidth: 16 });

/** A stand-in model that takes about `ms` of wall time per forward and logs its name. */
function fake(name: string, ms: number, log: string[]) {
  return {
    spec,
    embed(x: tf.Tensor4D): tf.Tensor2D {
      log.push(name);
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // busy: the time is the model's work
      }
      return tf.zeros([x.shape[0], 4]) as tf.Tensor2D;
    },
  };
}

describe('latencyStats', () => {
  it('median, p10, p90 (numpy interpolation) and the spread relative to the median', () => {
    const s = latencyStats([10, 12, 11, 30, 10, 10, 11, 10, 13, 10, 12]);
    expect(s.medianMs).toBe(11);
    expect(s.p10Ms).toBe(10);
    expect(s.p90Ms).toBe(13);
    expect(s.spread).toBeCloseTo(3 / 11, 12);
    expect(s.spread > BUSY_SPREAD).toBe(true);
    expect(latencyStats([10, 10, 10.5, 10, 10]).spread).toBeLessThan(BUSY_SPREAD);
  });
});

describe('measureLatencyPair', () => {
  it('alternates the models and gives the speed-up from the same run', async () => {
    const log: string[] = [];
    const before = tf.memory().numTensors;
    const r = await measureLatencyPair(fake('dense', 12, log), fake('pruned', 2, log), { warmup: 1, runs: 5 });
    // Warm-up pair, then A B, B A, A B, B A, A B.
    expect(log).toEqual(['dense', 'pruned', 'dense', 'pruned', 'pruned', 'dense', 'dense', 'pruned', 'pruned', 'dense', 'dense', 'pruned']);
    expect(r.a.runs).toBe(5);
    expect(r.b.runs).toBe(5);
    expect(r.a.medianMs).toBeGreaterThan(r.b.medianMs);
    expect(r.speedup).toBeGreaterThan(2);
    expect(r.busy).toBe(r.a.spread > BUSY_SPREAD || r.b.spread > BUSY_SPREAD);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses models with different inputs and bad counts, with a sentence', async () => {
    const other = { ...fake('x', 0, []), spec: buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }) };
    await expect(measureLatencyPair(fake('a', 0, []), other)).rejects.toThrow(/same input to be timed together; got 32×16 and 64×32/);
    await expect(measureLatencyPair(fake('a', 0, []), fake('b', 0, []), { runs: 0 })).rejects.toThrow(/Timed runs must be a positive integer/);
  });
});
