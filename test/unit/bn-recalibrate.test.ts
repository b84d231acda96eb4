/**
 * BatchNorm recalibration (src/engine/train/bn-recalibrate.ts): the stem's new running
 * statistics equal the ones computed in plain JS from its convolution's outputs; perturbed
 * running statistics are restored exactly (they play no part in the re-estimate); a cancel
 * changes nothing; bad input is a sentence; no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ReidModel } from '../../src/engine/model/model';
import { buildSpec } from '../../src/engine/model/spec';
import { gatherBatch } from '../../src/engine/data/preprocess';
import type { ReidSplit } from '../../src/engine/data/types';
import { recalibrateBatchNorm } from '../../src/engine/train/bn-recalibrate';
import { Prng } from '../../src/engine/util/prng';
import { isLabError } from '../../src/engine/errors';

const H = 32, W = 16;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

function split(n: number, seed: number): ReidSplit {
  const r = new Prng(seed);
  return {
    images: Uint8Array.from({ length: n * H * W * 3 }, () => r.int(0, 255)),
    count: n, height: H, width: W,
    pids: Int32Array.from({ length: n }, (_, i) => 1 + (i % 5)),
    camids: Int32Array.from({ length: n }, (_, i) => 1 + (i % 3)),
  };
}

const spec = () => buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });

async function runningStats(m: ReidModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of m.params) if (/running_(mean|var)$/.test(name)) out.set(name, (await v.data()) as Float32Array);
  return out;
}

function perturb(m: ReidModel, seed: number): void {
  const r = new Prng(seed);
  tf.tidy(() => {
    for (const [name, v] of m.params) {
      if (name.endsWith('running_mean')) v.assign(tf.tensor1d(Array.from({ length: v.size }, () => r.normal(0, 3))));
      if (name.endsWith('running_var')) v.assign(tf.tensor1d(Array.from({ length: v.size }, () => r.uniform(0.01, 9))));
    }
  });
}

describe('recalibrateBatchNorm', () => {
  it('sets the stem BatchNorm to the batch-size-weighted mean of batch means and unbiased batch variances, computed here in plain JS', async () => {
    const m = ReidModel.init(spec(), 1);
    const data = split(10, 2);
    try {
      perturb(m, 3);
      // 10 images in batches of 4: 4 + 4 + 2 (all kept), in the seeded order.
      const r = await recalibrateBatchNorm(m, data, { images: 10, batchSize: 4, seed: 9 });
      expect(r.images).toBe(10);
      expect(r.batches).toBe(3);
      // The batches the function used: the same seeded order (forked stream 'bn-recalibration').
      const order = new Prng(9).fork('bn-recalibration').shuffle(Array.from({ length: 10 }, (_, i) => i));
      const batches = [order.slice(0, 4), order.slice(4, 8), order.slice(8, 10)];
      const w = m.params.get('conv1.weight')!;
      const C = w.shape[3]!;
      const mean = new Float64Array(C);
      const variance = new Float64Array(C);
      for (const b of batches) {
        const y = tf.tidy(() => tf.conv2d(gatherBatch(data, b), w as tf.Tensor4D, 2, [[0, 0], [3, 3], [3, 3], [0, 0]]));
        const v = (await y.data()) as Float32Array;
        const count = v.length / C;
        y.dispose();
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let i = c; i < v.length; i += C) s += v[i];
          const mu = s / count;
          let q = 0;
          for (let i = c; i < v.length; i += C) q += (v[i] - mu) ** 2;
          mean[c] += b.length * mu;
          variance[c] += b.length * (q / (count - 1));
        }
      }
      const got = await runningStats(m);
      const gm = got.get('bn1.running_mean')!;
      const gv = got.get('bn1.running_var')!;
      for (let c = 0; c < C; c++) {
        expect(gm[c]).toBeCloseTo(mean[c] / 10, 4);
        expect(gv[c] / (variance[c] / 10)).toBeCloseTo(1, 4);
      }
    } finally {
      m.dispose();
    }
  });

  it('restores perturbed statistics exactly: every layer equals the recalibration of the unperturbed model', async () => {
    const before = tf.memory().numTensors;
    const a = ReidModel.init(spec(), 4);
    const b = await a.clone();
    const data = split(40, 5);
    try {
      perturb(b, 6);
      const ra = await recalibrateBatchNorm(a, data, { images: 40, batchSize: 16, seed: 2 });
      await recalibrateBatchNorm(b, data, { images: 40, batchSize: 16, seed: 2 });
      expect(ra.layers).toBeGreaterThan(10);
      const sa = await runningStats(a);
      const sb = await runningStats(b);
      expect([...sb.keys()]).toEqual([...sa.keys()]);
      for (const [name, v] of sa) {
        const u = sb.get(name)!;
        for (let i = 0; i < v.length; i++) expect(u[i]).toBeCloseTo(v[i], 5);
      }
      // And the embeddings agree too (evaluation mode uses the running statistics).
      const x = gatherBatch(data, [0, 1, 2]);
      const ea = a.embed(x);
      const eb = b.embed(x);
      const diff = tf.tidy(() => tf.abs(tf.sub(ea, eb)).max());
      const d = (await diff.data())[0];
      diff.dispose();
      expect(d).toBeLessThan(1e-4);
      tf.dispose([x, ea, eb]);
    } finally {
      a.dispose();
      b.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a cancel changes nothing; bad input is a sentence and changes nothing', async () => {
    const before = tf.memory().numTensors;
    const m = ReidModel.init(spec(), 7);
    try {
      const stats = await runningStats(m);
      const controller = new AbortController();
      await expect(recalibrateBatchNorm(m, split(64, 8), { batchSize: 8, signal: controller.signal, onProgress: (d) => d >= 16 && controller.abort() })).rejects.toMatchObject({ code: 'cancelled' });
      expect(await runningStats(m)).toEqual(stats);
      const bad = await recalibrateBatchNorm(m, split(1, 9)).catch((e: unknown) => e);
      expect(isLabError(bad) && bad.message).toMatch(/at least 2 training images/);
      const wrongSize = { ...split(4, 9), height: 16, width: 8, images: new Uint8Array(4 * 16 * 8 * 3) };
      const bad2 = await recalibrateBatchNorm(m, wrongSize).catch((e: unknown) => e);
      expect(isLabError(bad2) && bad2.message).toMatch(/the model expects 32×16/);
      expect(await runningStats(m)).toEqual(stats);
    } finally {
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
