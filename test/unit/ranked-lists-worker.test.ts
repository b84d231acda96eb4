/**
 * The worker's ranked-lists pages (src/workers/ranked-lists.ts) in Node: the lists' mAP is the
 * evaluation's, paging and re-ordering never re-extract, a new model state or dataset does, the
 * page's images are the dataset's pixels, and bad pages or cancels leave nothing behind.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ReidModel } from '../../src/engine/model/model';
import { buildSpec } from '../../src/engine/model/spec';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import type { ReidDataset, ReidSplit } from '../../src/engine/data/types';
import { Prng } from '../../src/engine/util/prng';
import { Job } from '../../src/workers/jobs';
import type { JobProgress } from '../../src/workers/api';
import { RankedListsCache, rankedListsPage, type RankedModels } from '../../src/workers/ranked-lists';

const H = 32, W = 16;
let dense: ReidModel;
let pruned: ReidModel;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
  dense = ReidModel.init(spec, 3);
  pruned = ReidModel.init(spec, 4); // a different model stands in for the pruned one
});

function split(pids: number[], camids: number[], seed: number): ReidSplit {
  const r = new Prng(seed);
  return {
    images: Uint8Array.from({ length: pids.length * H * W * 3 }, () => r.int(0, 255)),
    count: pids.length, height: H, width: W, pids: Int32Array.from(pids), camids: Int32Array.from(camids),
  };
}

function dataset(seed: number): ReidDataset {
  // 6 queries (one of them, pid 9, has no gallery match from another camera: skipped);
  // 16 gallery items with distractors and junk.
  const query = split([1, 2, 3, 4, 5, 9], [1, 1, 2, 2, 3, 1], seed);
  const gallery = split([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0, 0, -1, -1, 9, 6], [1, 2, 2, 3, 1, 3, 1, 3, 1, 2, 1, 2, 1, 2, 1, 2], seed + 1);
  return { name: 'tiny', train: split([], [], 0), query, gallery };
}

afterEach(() => {
  vi.restoreAllMocks();
});

const job = (events?: JobProgress[]) => new Job('ranked-test', 'Ranking', events ? (e) => void events.push(e) : undefined);

describe('rankedListsPage', () => {
  it('serves both models, with the evaluation\u2019s mAP, from one extraction per model', async () => {
    const d = dataset(1);
    const cache = new RankedListsCache();
    const denseEmbed = vi.spyOn(dense, 'embed');
    const prunedEmbed = vi.spyOn(pruned, 'embed');
    const m: RankedModels = { dense, current: pruned, stateId: 7, dataset: d };
    const events: JobProgress[] = [];
    const before = tf.memory().numTensors;

    const p0 = await rankedListsPage(cache, m, 'tiny set', { order: 'query', offset: 0, count: 2 }, job(events));
    expect(tf.memory().numTensors).toBe(before);
    expect(p0.currentIsDense).toBe(false);
    expect(p0.total).toBe(6);
    expect(p0.stateId).toBe(7);
    expect(p0.dataset).toBe('tiny set');
    expect(p0.queries.map((q) => [q.position, q.query, q.pid, q.camera])).toEqual([[0, 0, 1, 1], [1, 1, 2, 1]]);
    // Embedding calls of one extraction per model (the evaluation below adds its own, counted apart).
    const denseCalls = denseEmbed.mock.calls.length;
    const prunedCalls = prunedEmbed.mock.calls.length;
    const evDense = await evaluateModel(dense, d, { batchSize: 32 });
    const evPruned = await evaluateModel(pruned, d, { batchSize: 32 });
    const evalCalls = { dense: denseEmbed.mock.calls.length - denseCalls, pruned: prunedEmbed.mock.calls.length - prunedCalls };
    expect(evalCalls).toEqual({ dense: denseCalls, pruned: prunedCalls }); // same batches as the evaluation
    expect(p0.mAP.dense).toBeCloseTo(evDense.mAP, 12);
    expect(p0.mAP.current).toBeCloseTo(evPruned.mAP, 12);
    expect(events.at(-1)!.fraction).toBe(1);

    // Rows: cleaned lists (no junk, no same-identity-same-camera), match = same identity.
    for (const q of p0.queries) {
      for (const row of [q.dense, q.current]) {
        expect(row.items.length).toBe(10);
        for (const it of row.items) {
          expect(it.pid).toBe(d.gallery.pids[it.gallery]);
          expect(it.camera).toBe(d.gallery.camids[it.gallery]);
          expect(it.pid).not.toBe(-1);
          expect(it.pid === q.pid && it.camera === q.camera).toBe(false);
          expect(it.match).toBe(it.pid === q.pid);
        }
      }
    }

    // Images: each once, the dataset's pixels as opaque RGBA.
    const galleryShown = new Set(p0.queries.flatMap((q) => [...q.dense.items, ...q.current.items].map((i) => i.gallery)));
    expect(p0.thumbs.length).toBe(galleryShown.size + 2);
    const it0 = p0.queries[1].current.items[0];
    const t = p0.thumbs[it0.thumb];
    expect([t.split, t.pid, t.camera, t.width, t.height]).toEqual(['gallery', it0.pid, it0.camera, W, H]);
    const rgba = new Uint8Array(t.rgba);
    const rgb = d.gallery.images.subarray(it0.gallery * H * W * 3, (it0.gallery + 1) * H * W * 3);
    expect(rgba.length).toBe(H * W * 4);
    for (const px of [0, 17, H * W - 1]) expect([...rgba.subarray(px * 4, px * 4 + 4)]).toEqual([...rgb.subarray(px * 3, px * 3 + 3), 255]);
    expect(p0.thumbs[p0.queries[0].thumb].split).toBe('query');

    // Another page and the worst-first order: no new extraction.
    const all = await rankedListsPage(cache, m, 'tiny set', { order: 'worst', offset: 0, count: 20 }, job());
    const p1 = await rankedListsPage(cache, m, 'tiny set', { order: 'query', offset: 4, count: 5 }, job());
    expect(denseEmbed.mock.calls.length).toBe(2 * denseCalls);
    expect(prunedEmbed.mock.calls.length).toBe(2 * prunedCalls);
    expect(p1.queries.map((q) => q.query)).toEqual([4, 5]);
    // Thumbnail indices are per page; everything else is the same row.
    const noThumbs = (r: { items: { thumb: number }[] }) => ({ ...r, items: r.items.map(({ thumb: _, ...rest }) => rest) });
    expect(noThumbs(p1.queries[0].current)).toEqual(noThumbs(all.queries.find((q) => q.query === 4)!.current));
    // Worst first: the current model's AP never decreases; the skipped query (pid 9) comes last.
    const aps = all.queries.map((q) => q.current.ap);
    expect(all.queries.map((q) => q.position)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(all.queries[5].pid).toBe(9);
    expect(aps[5]).toBeNull();
    for (let i = 1; i < 5; i++) expect(aps[i]!).toBeGreaterThanOrEqual(aps[i - 1]!);
    const meanAp = aps.slice(0, 5).reduce((a, b) => a! + b!, 0)! / 5;
    expect(meanAp).toBeCloseTo(evPruned.mAP, 12);

    // A new model state (fine-tuning changes the model in place) re-ranks the current model only.
    await rankedListsPage(cache, { ...m, stateId: 8 }, 'tiny set', { order: 'query', offset: 0, count: 1 }, job());
    expect(denseEmbed.mock.calls.length).toBe(2 * denseCalls);
    expect(prunedEmbed.mock.calls.length).toBe(3 * prunedCalls);
    // Back to the dense model: both rows the same, nothing extracted.
    const same = await rankedListsPage(cache, { ...m, current: dense, stateId: 9 }, 'tiny set', { order: 'query', offset: 0, count: 1 }, job());
    expect(same.currentIsDense).toBe(true);
    expect(same.queries[0].current).toEqual(same.queries[0].dense);
    expect(same.mAP.current).toBe(same.mAP.dense);
    expect(denseEmbed.mock.calls.length).toBe(2 * denseCalls);
    // A new dataset misses the cache.
    await rankedListsPage(cache, { ...m, current: dense, stateId: 9, dataset: dataset(5) }, 'other', { order: 'query', offset: 0, count: 1 }, job());
    expect(denseEmbed.mock.calls.length).toBe(3 * denseCalls);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a bad page before any work, and a cancelled run leaves the cache empty', async () => {
    const d = dataset(2);
    const cache = new RankedListsCache();
    const spy = vi.spyOn(dense, 'embed');
    const m: RankedModels = { dense, current: dense, stateId: 1, dataset: d };
    const bad = [
      { order: 'best', offset: 0, count: 1 },
      { order: 'query', offset: 6, count: 1 },
      { order: 'query', offset: -1, count: 1 },
      { order: 'query', offset: 0, count: 0 },
      { order: 'query', offset: 0, count: 21 },
      { order: 'query', offset: 0.5, count: 1 },
    ] as const;
    for (const req of bad) {
      await expect(rankedListsPage(cache, m, 'x', req as never, job())).rejects.toMatchObject({ code: 'bad-argument' });
    }
    expect(spy).not.toHaveBeenCalled();
    const j = job();
    j.controller.abort();
    await expect(rankedListsPage(cache, m, 'x', { order: 'query', offset: 0, count: 1 }, j)).rejects.toMatchObject({ code: 'cancelled' });
    const ok = await rankedListsPage(cache, m, 'x', { order: 'query', offset: 0, count: 1 }, job());
    expect(ok.queries).toHaveLength(1);
    expect(spy).toHaveBeenCalled();
  });
});
