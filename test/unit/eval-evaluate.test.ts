import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ReidModel } from '../../src/engine/model/model';
import { buildSpec } from '../../src/engine/model/spec';
import { extractFeatures } from '../../src/engine/eval/extract';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import { distanceMatrix } from '../../src/engine/eval/distance';
import { evaluateRanking } from '../../src/engine/eval/ranking';
import { normalizeImages } from '../../src/engine/data/preprocess';
import type { ReidSplit } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';

const H = 32, W = 16;
let model: ReidModel;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W }), 11);
});

function randomSplit(pids: number[], camids: number[], seed: number): ReidSplit {
  const r = new Prng(seed);
  const n = pids.length;
  return {
    images: Uint8Array.from({ length: n * H * W * 3 }, () => r.int(0, 255)),
    count: n, height: H, width: W, pids: Int32Array.from(pids), camids: Int32Array.from(camids),
  };
}

/** Mirror every image left-right in plain JS (independent of tf.reverse). */
function mirrorBytes(split: ReidSplit): Uint8Array {
  const out = new Uint8Array(split.images.length);
  for (let i = 0; i < split.count; i++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          out[((i * H + y) * W + x) * 3 + c] = split.images[((i * H + y) * W + (W - 1 - x)) * 3 + c];
        }
      }
    }
  }
  return out;
}

async function embedAll(bytes: Uint8Array, n: number): Promise<Float32Array> {
  const x = normalizeImages(bytes, n, H, W);
  const e = model.embed(x);
  const data = (await e.data()) as Float32Array;
  x.dispose();
  e.dispose();
  return data;
}

describe('extractFeatures', () => {
  const split = randomSplit([1, 2, 3, 4, 5, 6, 7], [1, 1, 1, 2, 2, 2, 3], 5);

  it('equals one big forward pass, whatever the batch size, and reports progress', async () => {
    const before = tf.memory().numTensors;
    const want = await embedAll(split.images, split.count);
    const seen: number[] = [];
    const f = await extractFeatures(model, split, { batchSize: 3, onProgress: (d, t) => { expect(t).toBe(7); seen.push(d); } });
    expect(seen).toEqual([3, 6, 7]);
    expect(f.rows).toBe(7);
    expect(f.dim).toBe(64);
    want.forEach((w, i) => expect(f.data[i]).toBeCloseTo(w, 4));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('flip-averages with the mirrored image and l2-normalises after', async () => {
    const a = await embedAll(split.images, split.count);
    const b = await embedAll(mirrorBytes(split), split.count);
    const f = await extractFeatures(model, split, { batchSize: 4, flip: true, normalize: true });
    for (let i = 0; i < split.count; i++) {
      const avg = Array.from({ length: 64 }, (_, k) => (a[i * 64 + k] + b[i * 64 + k]) / 2);
      const norm = Math.hypot(...avg);
      avg.forEach((v, k) => expect(f.data[i * 64 + k]).toBeCloseTo(v / norm, 4));
    }
    // The mirror must matter, or the test above proves nothing.
    expect(Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1])).toBeGreaterThan(1e-4);
  });

  it('stops with a CancelledError before the next batch and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    let calls = 0;
    await expect(extractFeatures(model, split, { batchSize: 2, shouldCancel: () => ++calls > 2 }))
      .rejects.toSatisfy((e: unknown) => isLabError(e, 'cancelled'));
    expect(calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('evaluateModel', () => {
  it('equals extract + distance + ranking done by hand', async () => {
    const query = randomSplit([1, 2, 3, 4], [1, 2, 1, 2], 1);
    const gallery = randomSplit([1, 1, 2, 2, 3, 3, 4, 4, 0, -1], [2, 1, 1, 3, 2, 2, 1, 3, 1, 2], 2);
    const before = tf.memory().numTensors;
    const res = await evaluateModel(model, { query, gallery }, { batchSize: 3, metric: 'cosine', maxRank: 5 });
    expect(tf.memory().numTensors).toBe(before);
    const qf = { data: await embedAll(query.images, 4), rows: 4, dim: 64 };
    const gf = { data: await embedAll(gallery.images, 10), rows: 10, dim: 64 };
    const ref = evaluateRanking({
      distmat: await distanceMatrix(qf, gf, { metric: 'cosine', impl: 'js' }),
      queryIds: query.pids, queryCams: query.camids, galleryIds: gallery.pids, galleryCams: gallery.camids, maxRank: 10,
    });
    expect(res.mAP).toBeCloseTo(ref.mAP, 5);
    expect(res.mINP).toBeCloseTo(ref.mINP, 5);
    expect(res.rank1).toBe(ref.cmc[0]);
    expect(res.rank10).toBe(ref.cmc[9]);
    expect(res.cmc).toHaveLength(5);
    expect(res.numValidQueries).toBe(4);
    expect(res.numGallery).toBe(10);
  });

  it('scores 1.0 when each query has its own exact copy in the gallery under another camera', async () => {
    const query = randomSplit([1, 2, 3], [1, 1, 1], 9);
    const gallery: ReidSplit = { ...randomSplit([1, 2, 3, 0, 0], [2, 2, 2, 3, 3], 10) };
    gallery.images.set(query.images, 0); // gallery images 0..2 = query images 0..2
    const phases = new Set<string>();
    const res = await evaluateModel(model, { query, gallery }, { onProgress: (p) => phases.add(p.phase) });
    expect(res.mAP).toBe(1);
    expect(res.rank1).toBe(1);
    expect([...phases]).toEqual(['query', 'gallery', 'ranking']);
  });

  it('rejects an empty query set with bad-dataset', async () => {
    const empty = randomSplit([], [], 1);
    await expect(evaluateModel(model, { query: empty, gallery: randomSplit([1], [1], 1) }))
      .rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-dataset'));
  });
});
