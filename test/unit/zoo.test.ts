/**
 * The shipped model zoo: every public/models/<name>/ loads, matches its card's architecture
 * and cost, and reproduces the card's check evaluation (SynthReID XS source; the benchmark is
 * deterministic, so only float rounding differs between machines).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { loadModelFromFolder } from '../../src/node/model-files';
import { modelCost } from '../../src/engine/cost/macs';
import { evaluateOnSynth, CARD_CHECK, type CardEval } from '../../src/cli/card';
import { DEFAULT_MODEL_NAME } from '../../src/workers/model-source';

const ZOO = path.resolve('public/models');
const models = existsSync(ZOO) ? readdirSync(ZOO).filter((d) => existsSync(path.join(ZOO, d, 'model.json'))) : [];

interface Card {
  architecture: string;
  widthMultiplier: number;
  input: { height: number; width: number };
  macs: number;
  params: number;
  evaluation: CardEval[];
  check: CardEval;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('model zoo', () => {
  it('ships the default model the lab opens (ResNet-50)', () => {
    expect(models).toContain(DEFAULT_MODEL_NAME);
    expect(DEFAULT_MODEL_NAME).toMatch(/^resnet50-/);
  });

  for (const name of models) {
    it(`${name}: loads, matches its card, and reproduces the card's check evaluation`, async () => {
      const dir = path.join(ZOO, name);
      const card = JSON.parse(readFileSync(path.join(dir, 'card.json'), 'utf8')) as Card;
      const before = tf.memory().numTensors;
      const { model } = await loadModelFromFolder(dir);
      try {
        expect(`ResNet-${model.spec.depth}`).toBe(card.architecture);
        expect(model.spec.widthMultiplier).toBe(card.widthMultiplier);
        expect(model.spec.input).toEqual(card.input);
        const cost = modelCost(model.spec);
        expect(cost.macs).toBe(card.macs);
        expect(cost.params).toBe(card.params);
        expect(card.check.dataset).toBe(`SynthReID-${CARD_CHECK.tier}/${CARD_CHECK.domain}`);
        const [check] = await evaluateOnSynth(model, [CARD_CHECK]);
        expect(check.numQueries).toBe(card.check.numQueries);
        expect(check.numGallery).toBe(card.check.numGallery);
        expect(Math.abs(check.mAP - card.check.mAP)).toBeLessThan(2e-3);
        expect(Math.abs(check.rank1 - card.check.rank1)).toBeLessThan(1 / card.check.numQueries + 1e-9);
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    }, 300_000);
  }
});
