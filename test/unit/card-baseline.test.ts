/**
 * The start-up baseline from a zoo model card: `lab card` records every generator parameter of
 * the dataset it evaluated on, and the page uses a card entry only when all of them, the model's
 * cost and the gallery size equal its own; every way to differ is a mismatch with a reason. A
 * live evaluation that differs from the card beyond rounding is reported.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { modelCost } from '../../src/engine/cost/macs';
import { generateSynthReid, SYNTH_DEFAULT_SEED, SYNTH_GENERATOR_VERSION } from '../../src/engine/data/synth';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import { evaluateOnSynth } from '../../src/cli/card';
import { cardDisagreement, matchCardEntry, synthParamsOf, type CardSynthParams } from '../../src/engine/eval/card-baseline';

const MODEL = { macs: 1000, params: 200 };
const TARGET: CardSynthParams = { tier: 'S', domain: 'target', shift: 1, seed: 1501, height: 128, width: 64, generatorVersion: SYNTH_GENERATOR_VERSION };
const SOURCE: CardSynthParams = { ...TARGET, domain: 'source', shift: 0 };
const figures = (dataset: string, mAP: number, numGallery: number) => ({ dataset, mAP, rank1: mAP + 0.01, rank5: mAP + 0.1, rank10: mAP + 0.2, mINP: mAP / 3, numQueries: 500, numGallery });

/** A card as `lab card` now writes it: source and target entries, each with its parameters. */
function card(over: Record<string, unknown> = {}, target: Partial<CardSynthParams> | null = {}) {
  return {
    name: 'resnet-test',
    macs: MODEL.macs,
    params: MODEL.params,
    evaluation: [
      { ...figures('SynthReID-S/source', 0.4, 1381), synth: SOURCE },
      { ...figures('SynthReID-S/target', 0.05, 1191), ...(target ? { synth: { ...TARGET, ...target } } : {}) },
    ],
    created: '2026-11-22T02:26:09.083Z',
    ...over,
  };
}
const PAGE = { synth: TARGET, galleryImages: 1191, queryImages: 512 };

function reason(c: unknown, page = PAGE, model = MODEL): string {
  const m = matchCardEntry(c, model, page);
  if (m.kind !== 'mismatch') throw new Error('expected a mismatch');
  return m.reason;
}

describe('matchCardEntry', () => {
  it('picks the entry computed on exactly the page dataset, with its figures and the card date', () => {
    const m = matchCardEntry(card(), MODEL, PAGE);
    expect(m).toEqual({ kind: 'match', figures: figures('SynthReID-S/target', 0.05, 1191), created: '2026-11-22T02:26:09.083Z' });
    const s = matchCardEntry(card(), MODEL, { synth: SOURCE, galleryImages: 1381, queryImages: 614 });
    expect(s.kind === 'match' && s.figures.mAP).toBe(0.4);
  });

  it('an entry as cards wrote it before (dataset name only) never matches', () => {
    expect(reason(card({}, null))).toMatch(/does not record the dataset.s generator parameters/);
  });

  for (const [key, what, other] of [
    ['tier', 'tier', 'XS'],
    ['domain', 'domain', 'source'],
    ['shift', 'domain shift', 0.5],
    ['seed', 'seed', 7],
    ['height', 'image height', 256],
    ['width', 'image width', 128],
    ['generatorVersion', 'generator version', '0.9.0'],
  ] as const) {
    it(`a different ${what} does not match, and the reason names it`, () => {
      const r = reason(card({}, { [key]: other }));
      expect(r).toContain(`has ${what} ${JSON.stringify(other)}, the page\u2019s dataset ${JSON.stringify(TARGET[key])}`);
    });
    it(`an entry that does not record the ${what} does not match`, () => {
      const synth: Record<string, unknown> = { ...TARGET };
      delete synth[key];
      const c = card();
      (c.evaluation[1] as Record<string, unknown>).synth = synth;
      expect(reason(c)).toContain(`does not record the ${what}`);
    });
  }

  it('a card of another architecture (MACs or params) does not match', () => {
    expect(reason(card(), PAGE, { ...MODEL, macs: 999 })).toMatch(/1000 MACs and 200 parameters, the loaded one has 999 and 200/);
    expect(reason(card(), PAGE, { ...MODEL, params: 201 })).toMatch(/the loaded one has 1000 and 201/);
  });

  it('the same parameters but another gallery or too few queries do not match', () => {
    expect(reason(card(), { ...PAGE, galleryImages: 1190 })).toMatch(/500 queries and 1191 gallery images, the page.s dataset has 512 and 1190/);
    expect(reason(card(), { ...PAGE, queryImages: 499 })).toMatch(/the page.s dataset has 499 and 1191/);
  });

  it('missing or out-of-range figures, no entries, no card: no match', () => {
    const bad = card();
    (bad.evaluation[1] as Record<string, unknown>).mAP = 1.5;
    expect(reason(bad)).toMatch(/missing or out-of-range figures/);
    const noCount = card();
    delete (noCount.evaluation[1] as Record<string, unknown>).numGallery;
    expect(reason(noCount)).toMatch(/missing or out-of-range figures/);
    expect(reason(card({ evaluation: [] }))).toMatch(/no evaluation entries/);
    expect(reason(card({ evaluation: undefined }))).toMatch(/no evaluation entries/);
    expect(reason(null)).toMatch(/there is no card/);
    expect(reason([card()])).toMatch(/there is no card/);
  });

  it('names the closest entry when none matches', () => {
    const r = reason(card(), { ...PAGE, synth: { ...TARGET, seed: 9 } });
    expect(r).toContain('the closest, SynthReID-S/target, has seed 1501, the page\u2019s dataset 9');
  });
});

describe('synthParamsOf', () => {
  it('fills the generator defaults and sets the shift knob to 0 in the source domain (the generator ignores it there)', () => {
    expect(synthParamsOf({ tier: 'S', domain: 'source', shift: 1 })).toEqual({ ...SOURCE, seed: SYNTH_DEFAULT_SEED });
    expect(synthParamsOf({ tier: 'S', domain: 'target', shift: 0.25, seed: 3, height: 64, width: 32 })).toEqual({ ...TARGET, shift: 0.25, seed: 3, height: 64, width: 32 });
  });
});

describe('lab card and the page agree', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('an entry evaluateOnSynth writes matches the page dataset of the same request, and its figures are a live evaluation', async () => {
    const before = tf.memory().numTensors;
    const model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), 3);
    try {
      const [entry] = await evaluateOnSynth(model, [{ tier: 'XS', domain: 'target' }]);
      expect(entry.synth).toEqual({ tier: 'XS', domain: 'target', shift: 1, seed: SYNTH_DEFAULT_SEED, height: 64, width: 32, generatorVersion: SYNTH_GENERATOR_VERSION });
      const cost = modelCost(model.spec);
      const c = { macs: cost.macs, params: cost.params, evaluation: [entry] };
      // The page's request: what the data panel sends by default (shift 1, seed 1501) at the model's input size.
      const { dataset } = generateSynthReid({ tier: 'XS', domain: 'target', shift: 1, seed: 1501, height: 64, width: 32 });
      const page = { synth: synthParamsOf({ tier: 'XS', domain: 'target', shift: 1, seed: 1501, height: 64, width: 32 }), galleryImages: dataset.gallery.count, queryImages: dataset.query.count };
      const m = matchCardEntry(c, cost, page);
      expect(m.kind).toBe('match');
      // What the page's Evaluate button computes (batch 32 as in the worker) agrees with the card.
      const live = await evaluateModel(model, dataset, { batchSize: 32 });
      expect(cardDisagreement(entry, { ...live, dataset: dataset.name })).toBeNull();
      // Another seed is another dataset: no match.
      expect(matchCardEntry(c, cost, { ...page, synth: { ...page.synth, seed: 1502 } }).kind).toBe('mismatch');
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});

describe('cardDisagreement', () => {
  const c = { mAP: 0.3, rank1: 0.4, rank5: 0.6, numQueries: 100, numGallery: 300 };
  const live = { mAP: 0.3, rank1: 0.4, rank5: 0.6, numValidQueries: 100, numGallery: 300, dataset: 'SynthReID-S/target' };

  it('says nothing when the live numbers equal the card to rounding', () => {
    expect(cardDisagreement(c, live)).toBeNull();
    expect(cardDisagreement(c, { ...live, mAP: 0.3019, rank1: 0.4 + 0.009, rank5: 0.6 - 0.009 })).toBeNull();
  });

  it('names each figure that differs beyond rounding and calls it a bug', () => {
    // One query's worth of rank-1 is rounding between machines (a tie broken the other way); two is not.
    expect(cardDisagreement(c, { ...live, rank1: 0.41 })).toBeNull();
    const s = cardDisagreement(c, { ...live, mAP: 0.31, rank1: 0.42 })!;
    expect(s).toContain('mAP 30.00 on the card, 31.00 here');
    expect(s).toContain('rank-1 40.00 on the card, 42.00 here');
    expect(s).not.toContain('rank-5');
    expect(s).toMatch(/bug/);
    expect(cardDisagreement(c, { ...live, rank5: 0.58 })).toContain('rank-5 60.00 on the card, 58.00 here');
    expect(cardDisagreement(c, { ...live, numGallery: 299 })).toContain('300 gallery images on the card, 299 here');
    expect(cardDisagreement(c, { ...live, numValidQueries: 99 })).toContain('100 queries on the card, 99 here');
  });
});
