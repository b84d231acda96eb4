/**
 * The throughput benchmark's pruned variant (bench/browser-train.ts --macs): the timed model is
 * the dense one pruned with L1 at local ranking to the asked share of its MACs, whatever the random
 * weights (every layer at the same rate), and a share outside (0, 1) is refused before any work.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { isLabError } from '../../src/engine/errors';
import { benchmarkThroughput } from '../../src/workers/throughput';
import { Job } from '../../src/workers/jobs';

beforeAll(async () => {
  await initBackend('wasm');
});

const req = { depth: 18 as const, width: 0.125, batch: 8, steps: 1, height: 64, inputWidth: 32 };

describe('benchmarkThroughput with macsKeep', () => {
  it('times the model pruned to the share of MACs, and frees everything', async () => {
    const base = tf.memory().numTensors;
    const dense = await benchmarkThroughput({ ...req, train: false }, 'wasm', new Job('t1', 'Benchmark'));
    const pruned = await benchmarkThroughput({ ...req, macsKeep: 0.5 }, 'wasm', new Job('t2', 'Benchmark'));
    expect(Math.abs(pruned.macs / dense.macs - 0.5)).toBeLessThan(0.02);
    expect(pruned.trainImagesPerSecond).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('refuses a share outside (0, 1) with a sentence', async () => {
    for (const macsKeep of [0, 1, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        await benchmarkThroughput({ ...req, macsKeep }, 'wasm', new Job('t3', 'Benchmark'));
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'bad-argument')).toBe(true);
    }
  });
});
