/**
 * Quick evaluation: the bootstrap interval over query identities against hand-computed cases,
 * the embedding cache (a second use of the same model state embeds nothing), and the quick
 * interval of each shipped model covering its full-set score on SynthReID S target.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { bootstrapByIdentity, quantileSorted } from '../../src/engine/eval/bootstrap';
import { EmbeddingCache } from '../../src/engine/eval/embedding-cache';
import { evaluateKind, quickQueryRows } from '../../src/engine/eval/quick';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import { ReidModel } from '../../src/engine/model/model';
import { buildSpec } from '../../src/engine/model/spec';
import { generateSynthReid } from '../../src/engine/data/synth';
import { synthParamsOf } from '../../src/engine/eval/card-baseline';
import { loadModelFromFolder } from '../../src/node/model-files';
import type { Embedder } from '../../src/engine/eval/extract';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('bootstrapByIdentity', () => {
  it('interpolates quantiles as numpy does', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
    expect(quantileSorted([1, 2, 3, 4], 0.975)).toBeCloseTo(3.925, 12);
    expect(quantileSorted([5], 0.5)).toBe(5);
  });

  it('two identities with AP 0 and 1: replicates 0, 0.5, 1 with probability 1/4, 1/2, 1/4', () => {
    const r = bootstrapByIdentity([0, 1], [7, 9], { resamples: 4000, seed: 3 });
    expect(r.estimate).toBe(0.5);
    expect(r.identities).toBe(2);
    // P(0) = 1/4 > 2.5%, so both ends are the extremes.
    expect(r.low).toBe(0);
    expect(r.high).toBe(1);
    // At 40% coverage the 30th and 70th percentiles fall in the 1/2 mass.
    const mid = bootstrapByIdentity([0, 1], [7, 9], { resamples: 4000, seed: 3, level: 0.4 });
    expect(mid.low).toBe(0.5);
    expect(mid.high).toBe(0.5);
  });

  it('resamples identities, not queries: an identity with two queries weighs twice in a replicate', () => {
    // A: two queries of AP 1; B: one of AP 0. Replicates: AA -> 1 (1/4), AB -> 2/3 (1/2), BB -> 0 (1/4).
    // A mean of identity means would give 1/2 for AB instead.
    const r = bootstrapByIdentity([1, 1, 0, NaN], [1, 1, 2, 3], { resamples: 10000, seed: 5, level: 0.4 });
    expect(r.estimate).toBeCloseTo(2 / 3, 12);
    expect(r.identities).toBe(2); // identity 3's only query is skipped (NaN)
    expect(r.low).toBeCloseTo(2 / 3, 12);
    expect(r.high).toBeCloseTo(2 / 3, 12);
    const wide = bootstrapByIdentity([1, 1, 0], [1, 1, 2], { resamples: 10000, seed: 5 });
    expect([wide.low, wide.high]).toEqual([0, 1]);
  });

  it('collapses to the value when every identity scores the same, and is seeded', () => {
    const r = bootstrapByIdentity([0.3, 0.3, 0.3], [1, 2, 3], { seed: 1 });
    expect(r.low).toBeCloseTo(0.3, 12);
    expect(r.high).toBeCloseTo(0.3, 12);
    const vals = [0.1, 0.9, 0.4, 0.6, 0.2];
    const ids = [1, 2, 3, 4, 5];
    expect(bootstrapByIdentity(vals, ids, { seed: 2 })).toEqual(bootstrapByIdentity(vals, ids, { seed: 2 }));
  });

  it('refuses mismatched inputs with a sentence', () => {
    expect(() => bootstrapByIdentity([1, 2], [1])).toThrow(/one identity per query value/);
    expect(() => bootstrapByIdentity([NaN], [1])).toThrow(/No query was scored/);
  });
});

describe('quick evaluation and the embedding cache', () => {
  const data = generateSynthReid(synthParamsOf({ tier: 'XS', domain: 'target', height: 32, width: 16 })).dataset;

  /** A model whose embed calls are counted (images through the network). */
  function counted(m: ReidModel): Embedder & { images: number } {
    const c = {
      spec: m.spec,
      images: 0,
      embed(x: tf.Tensor4D, masks?: Parameters<ReidModel['embed']>[1]) {
        c.images += x.shape[0];
        return m.embed(x, masks);
      },
    };
    return c;
  }

  it('quick scores every query of a fixed subset of identities against the whole gallery; full scores all; both carry an interval', async () => {
    const m = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 32, inputWidth: 16 }), 3);
    try {
      const rows = quickQueryRows(data.query, 'quick', 6)!;
      expect(quickQueryRows(data.query, 'quick', 6)).toEqual(rows); // fixed
      const keptIds = new Set(rows.map((i) => data.query.pids[i]));
      expect(keptIds.size).toBe(6);
      for (let i = 0; i < data.query.count; i++) expect(rows.includes(i)).toBe(keptIds.has(data.query.pids[i]));
      const quick = await evaluateKind(m, data, { kind: 'quick', identities: 6 });
      expect(quick.kind).toBe('quick');
      expect(quick.testIdentities).toBe(6);
      expect(quick.numQueries).toBe(rows.length);
      expect(quick.numGallery).toBe(data.gallery.count);
      expect(quick.interval.mAP[0]).toBeLessThanOrEqual(quick.mAP);
      expect(quick.interval.mAP[1]).toBeGreaterThanOrEqual(quick.mAP);
      const full = await evaluateKind(m, data, { kind: 'full' });
      expect(full.numQueries).toBe(data.query.count);
      expect(full.testIdentities).toBe(full.ofTestIdentities);
      expect(() => quickQueryRows(data.query, 'quick', 1)).toThrow(/at least 2 identities/);
    } finally {
      m.dispose();
    }
  });

  it('a second evaluation of the same state embeds nothing, full after quick embeds only the remaining queries, and the numbers equal the uncached ones', async () => {
    const before = tf.memory().numTensors;
    const m = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 32, inputWidth: 16 }), 4);
    try {
      const cache = new EmbeddingCache();
      const e = counted(m);
      const opts = { cache: { embeddings: cache, stateKey: 's1' } };
      const rows = quickQueryRows(data.query, 'quick', 6)!;
      const q1 = await evaluateKind(e, data, { kind: 'quick', identities: 6, ...opts });
      expect(e.images).toBe(rows.length + data.gallery.count);
      const q2 = await evaluateKind(e, data, { kind: 'quick', identities: 6, ...opts });
      expect(e.images).toBe(rows.length + data.gallery.count);
      expect(q2.mAP).toBe(q1.mAP);
      const full = await evaluateKind(e, data, { kind: 'full', ...opts });
      expect(e.images).toBe(data.query.count + data.gallery.count);
      const plain = await evaluateModel(m, data);
      expect(full.mAP).toBeCloseTo(plain.mAP, 6);
      expect(full.rank1).toBe(plain.rank1);
      // Another state key is another model: it embeds again.
      await evaluateKind(e, data, { kind: 'quick', identities: 6, cache: { embeddings: cache, stateKey: 's2' } });
      expect(e.images).toBe(data.query.count + 2 * data.gallery.count + rows.length);
      expect(cache.extractedImages).toBe(e.images);
    } finally {
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('evicts the least recently used state but keeps a pinned one', async () => {
    const m = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 32, inputWidth: 16 }), 5);
    try {
      const cache = new EmbeddingCache(1);
      cache.pin('dense');
      await cache.features(m, 'dense', data.gallery, null);
      await cache.features(m, 'a', data.gallery, null);
      await cache.features(m, 'b', data.gallery, null);
      expect(cache.cachedRows('dense', data.gallery)).toBe(data.gallery.count);
      expect(cache.cachedRows('a', data.gallery)).toBe(0);
      expect(cache.cachedRows('b', data.gallery)).toBe(data.gallery.count);
    } finally {
      m.dispose();
    }
  });
});

describe('the quick interval on the shipped models', () => {
  const ZOO = path.resolve('public/models');
  // The lightest and the default model (each a quick evaluation of the whole S gallery, ~30-45 s
  // in Node here); ResNet-34 is the same recipe between the two.
  const models = existsSync(ZOO) ? readdirSync(ZOO).filter((d) => existsSync(path.join(ZOO, d, 'card.json')) && !d.startsWith('resnet34')) : [];
  const target = generateSynthReid(synthParamsOf({ tier: 'S', domain: 'target', height: 128, width: 64 })).dataset;

  for (const name of models) {
    it(`${name}: the 95% interval of the quick evaluation covers the full-set mAP and rank-1 of its card`, async () => {
      const card = JSON.parse(readFileSync(path.join(ZOO, name, 'card.json'), 'utf8')) as { evaluation: { dataset: string; mAP: number; rank1: number; numQueries: number }[] };
      // The card's figures are the full-set evaluation of these very weights (`lab card`; the zoo test re-checks the card).
      const full = card.evaluation.find((e) => e.dataset === 'SynthReID-S/target')!;
      expect(full).toBeDefined();
      const { model } = await loadModelFromFolder(path.join(ZOO, name));
      try {
        const q = await evaluateKind(model, target, { kind: 'quick' });
        expect(q.numQueries).toBeLessThan(full.numQueries);
        expect(full.mAP).toBeGreaterThanOrEqual(q.interval.mAP[0]);
        expect(full.mAP).toBeLessThanOrEqual(q.interval.mAP[1]);
        expect(full.rank1).toBeGreaterThanOrEqual(q.interval.rank1[0]);
        expect(full.rank1).toBeLessThanOrEqual(q.interval.rank1[1]);
      } finally {
        model.dispose();
      }
    }, 300_000);
  }
});
