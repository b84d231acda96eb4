/**
 * The worker session's embedding cache (src/workers/session.ts): a quick evaluation, the full one
 * after it, the ranked lists after them and a re-evaluation after Reset embed each image of a
 * model state once; the dense model's gallery is embedded once per dataset; a new model state
 * embeds again.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ReidModel } from '../../src/engine/model/model';
import { buildSpec } from '../../src/engine/model/spec';
import { generateSynthReid } from '../../src/engine/data/synth';
import { synthParamsOf } from '../../src/engine/eval/card-baseline';
import { quickQueryRows } from '../../src/engine/eval/quick';
import { Job } from '../../src/workers/jobs';
import { LabSession } from '../../src/workers/session';
import { RankedListsCache, rankedListsPage } from '../../src/workers/ranked-lists';
import { runSensitivity } from '../../src/workers/sensitivity';
import type { SensitivityRequest } from '../../src/workers/api';

const H = 32, W = 16;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const job = () => new Job('reuse-test', 'Evaluating');

describe('the session reuses embeddings of the same model state', () => {
  it('quick, full, ranked lists, reset and a new state', async () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
    const dense = ReidModel.init(spec, 3);
    const other = ReidModel.init(spec, 4);
    const session = new LabSession(() => 'wasm');
    session.setDense({ model: dense, name: 'tiny', source: 'random' });
    const d = generateSynthReid(synthParamsOf({ tier: 'XS', domain: 'target', height: H, width: W })).dataset;
    session.dataset = d;
    const images = () => spy.mock.calls.reduce((n, c) => n + (c[0] as tf.Tensor).shape[0], 0);
    const spy = vi.spyOn(dense, 'embed');
    try {
      const quick = await session.evaluate(job(), 'quick');
      // (XS has fewer test identities than a quick evaluation keeps: there it scores every query.)
      const rows = quickQueryRows(d.query, 'quick') ?? Array.from({ length: d.query.count }, (_, i) => i);
      expect(quick.kind).toBe('quick');
      expect(quick.interval!.mAP[0]).toBeLessThanOrEqual(quick.mAP);
      expect(images()).toBe(rows.length + d.gallery.count);
      const full = await session.evaluate(job(), 'full');
      expect(full.kind).toBe('full');
      expect(images()).toBe(d.query.count + d.gallery.count);

      // Ranked lists of the dense model after its evaluation: nothing embedded.
      const cache = new RankedListsCache();
      const page = await rankedListsPage(cache, { dense, current: dense, stateId: session.modelState!.stateId, dataset: d, features: session.rankedListFeatures() }, 'XS', { order: 'worst', offset: 0, count: 3 }, job());
      expect(images()).toBe(d.query.count + d.gallery.count);
      expect(page.mAP.current).toBeCloseTo(full.mAP, 6);

      // Reset makes a new state of the same weights: still the dense model's embeddings.
      session.reset();
      await session.evaluate(job(), 'quick');
      expect(images()).toBe(d.query.count + d.gallery.count);

      // A new model state (here a restored "pruned" model) embeds its own images, once.
      const otherSpy = vi.spyOn(other, 'embed');
      session.restoreCurrent(other, { base: 'tiny', baseSource: 'random', fineTuneSteps: 0 }, 'k.pruned');
      await session.evaluate(job(), 'quick');
      const otherImages = () => otherSpy.mock.calls.reduce((n, c) => n + (c[0] as tf.Tensor).shape[0], 0);
      expect(otherImages()).toBe(rows.length + d.gallery.count);
      await rankedListsPage(cache, { dense, current: other, stateId: session.modelState!.stateId, dataset: d, features: session.rankedListFeatures() }, 'XS', { order: 'query', offset: 0, count: 1 }, job());
      // The lists need the remaining queries only; the dense model's lists were cached already.
      expect(otherImages()).toBe(d.query.count + d.gallery.count);
      expect(images()).toBe(d.query.count + d.gallery.count);
    } finally {
      spy.mockRestore();
      session.reset();
      other.dispose();
      dense.dispose();
    }
  });

  it('the sensitivity scan\u2019s unpruned baseline reuses the dense model\u2019s embeddings (a subset mapped to its rows); masked cells never do', async () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
    const dense = ReidModel.init(spec, 5);
    const session = new LabSession(() => 'wasm');
    session.setDense({ model: dense, name: 'tiny', source: 'random' });
    const d = generateSynthReid(synthParamsOf({ tier: 'XS', domain: 'target', height: H, width: W })).dataset;
    session.dataset = d;
    const spy = vi.spyOn(dense, 'embed');
    const unmasked = () => spy.mock.calls.filter((c) => c[1] === undefined).reduce((n, c) => n + (c[0] as tf.Tensor).shape[0], 0);
    const cache = { embeddings: session.embeddings, stateKey: session.denseEmbeddingKey };
    try {
      const full = await session.evaluate(job(), 'full');
      const afterEval = unmasked();
      const whole: SensitivityRequest = { criterion: 'l1', scope: 'inner', rates: [0.5], maxQueries: 0, maxIdentities: 0, seed: 1 };
      const scan = await runSensitivity(session.requireDense(), d, undefined, whole, job(), cache);
      expect(unmasked()).toBe(afterEval); // the baseline embedded nothing
      expect(scan.baseline.mAP).toBeCloseTo(full.mAP, 6);
      // A subset of identities and queries: the same baseline as a scan without the cache.
      const sub: SensitivityRequest = { ...whole, maxIdentities: 6, maxQueries: 10 };
      const cached = await runSensitivity(session.requireDense(), d, undefined, sub, job(), cache);
      expect(unmasked()).toBe(afterEval);
      const plain = await runSensitivity(session.requireDense(), d, undefined, sub, job());
      expect(cached.queries).toBe(10);
      expect(cached.baseline.mAP).toBeCloseTo(plain.baseline.mAP, 6);
      expect(cached.mAP).toEqual(plain.mAP);
    } finally {
      spy.mockRestore();
      dense.dispose();
    }
  });
});
