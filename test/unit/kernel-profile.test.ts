/**
 * The per-kernel profile (engine/backend/kernel-profile.ts) that bench/train-profile.ts and the
 * page's throughput benchmark print: calls and times per repeat of a hand-counted piece of work,
 * scopes not counted twice, and a training step's profile from the worker's benchmark.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { profileKernels } from '../../src/engine/backend/kernel-profile';
import { benchmarkThroughput } from '../../src/workers/throughput';
import { Job } from '../../src/workers/jobs';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('profileKernels', () => {
  it('counts each kernel call once per repeat, averages over repeats, and the shares sum to 1', async () => {
    const a = tf.ones([64, 64]);
    // Per repeat: 3 Add, 1 Multiply (tf.square on wasm is its own kernel, so use mul), 1 BatchMatMul
    // inside a tf.tidy scope (a scope is not a kernel and must not be counted).
    const work = async () => {
      const r = tf.tidy(() => tf.matMul(tf.mul(tf.add(tf.add(tf.add(a, 1), 2), 3), a), a));
      await r.data();
      r.dispose();
    };
    const p = await profileKernels(work, 3);
    const calls = Object.fromEntries(p.kernels.map((k) => [k.kernel, k.callsPerRun]));
    expect(calls.Add).toBe(3);
    expect(calls.Multiply).toBe(1);
    expect(calls.BatchMatMul).toBe(1);
    expect(p.kernels.map((k) => k.msPerRun)).toEqual([...p.kernels.map((k) => k.msPerRun)].sort((x, y) => y - x));
    expect(p.kernels.reduce((s, k) => s + k.msPerRun, 0)).toBeCloseTo(p.kernelMs, 6);
    expect(p.kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
    a.dispose();
  });
});

describe('benchmarkThroughput with profile', () => {
  const req = { depth: 18 as const, width: 0.125, batch: 8, steps: 1, height: 64, inputWidth: 32 };

  it("returns the training step's kernels (the convolutions among them) only when asked, and frees everything", async () => {
    const base = tf.memory().numTensors;
    const plain = await benchmarkThroughput(req, 'wasm', new Job('p1', 'Benchmark'));
    expect(plain.kernels).toBeUndefined();
    const r = await benchmarkThroughput({ ...req, profile: true }, 'wasm', new Job('p2', 'Benchmark'));
    const names = r.kernels!.map((k) => k.kernel);
    expect(names).toContain('Conv2D');
    // ResNet-18: 20 convolutions in the forward alone, each a Conv2D call.
    expect(r.kernels!.find((k) => k.kernel === 'Conv2D')!.callsPerRun).toBeGreaterThanOrEqual(20);
    expect(r.kernelMs).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(base);
  });
});
