/**
 * The start-up baseline from a zoo model's card, in real Chromium: a tiny model served as a zoo
 * model (routed: /models/tinycard/ model.json, shard, card.json) whose card entry was computed
 * in Node on exactly the page's SynthReID-XS target shows its baseline point without an
 * evaluation job, labelled "from the model card"; Evaluate replaces it with live numbers (equal
 * to rounding, so no notice; a card with wrong figures gets the disagreement notice); a card
 * whose entry was computed on another shift falls back to the live evaluation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { BrowserContext, Page } from 'playwright-core';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { initParamArrays } from '../../src/engine/model/init';
import { artifactsToModelJson, loadModel, modelToArtifacts, shardFileNames } from '../../src/engine/model/weights-io';
import { modelCost } from '../../src/engine/cost/macs';
import { evaluateOnSynth, type CardEval } from '../../src/cli/card';
import { chartPoints, idle, launchBrowser, screenshot, startPreview, type LabBrowser, type LabPage, type Server } from './browser';
import type { LabRemote } from '../../src/workers/client';

const NAME = 'tinycard';
const QUERY = `?backend=wasm&model=${NAME}&tier=XS`;
const SPEC = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });

let server: Server;
let lb: LabBrowser;
let modelJson = '';
let shard: Buffer;
/** The entry `lab card` writes for these float16 weights on SynthReID-XS target (the page's dataset). */
let entry: CardEval;

function cardWith(e: Record<string, unknown>): string {
  const cost = modelCost(SPEC);
  return JSON.stringify({ name: NAME, architecture: 'ResNet-18', macs: cost.macs, params: cost.params, evaluation: [e], created: '2026-11-22T00:00:00.000Z' });
}

beforeAll(async () => {
  // The zoo files, float16 as shipped, and the card entry computed from exactly those weights.
  const artifacts = modelToArtifacts(SPEC, initParamArrays(SPEC, 11), { dtype: 'float16' });
  modelJson = JSON.stringify(artifactsToModelJson(artifacts, shardFileNames(1)));
  shard = Buffer.from(artifacts.weightData as ArrayBuffer);
  await initBackend('wasm');
  const { model } = await loadModel(tf.io.fromMemory(artifacts));
  try {
    [entry] = await evaluateOnSynth(model, [{ tier: 'XS', domain: 'target' }]);
  } finally {
    model.dispose();
  }
  server = await startPreview();
  lb = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await lb?.close();
  await server?.stop();
});

declare global {
  interface Window {
    __jobLabels?: string[];
  }
}

/** Every job label the page showed, from the first script on. */
function recordJobs(): void {
  window.__jobLabels = [];
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('[data-testid="job"] .job-label > span:first-child')) {
      const t = el.textContent ?? '';
      if (!window.__jobLabels!.includes(t)) window.__jobLabels!.push(t);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

/** Open the lab with the tiny model served as a zoo model with this card. */
async function openWithCard(card: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await lb.browser.newContext({ viewport: { width: 1440, height: 1000 } });
  await context.addInitScript(recordJobs);
  await context.route(new RegExp(`/models/${NAME}/`), (route) => {
    const file = new URL(route.request().url()).pathname.split('/').pop();
    if (file === 'model.json') return route.fulfill({ status: 200, contentType: 'application/json', body: modelJson });
    if (file === 'card.json') return route.fulfill({ status: 200, contentType: 'application/json', body: card });
    if (file === shardFileNames(1)[0]) return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: shard });
    return route.fulfill({ status: 404, body: '' });
  });
  const page = await context.newPage();
  await page.goto(server.origin + '/' + QUERY);
  return { context, page };
}

/** The helpers read only `page`. */
const lab = (page: Page) => ({ page }) as unknown as LabPage;
const source = (page: Page) => page.getByTestId('last-eval').getAttribute('data-source');
const rowSources = (page: Page) => page.getByTestId('run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-source')));
const jobLabels = (page: Page) => page.evaluate(() => window.__jobLabels ?? []);
const pct = (v: number) => (v * 100).toFixed(2);

describe('baseline from the model card', () => {
  it('a matching card: the baseline at once, labelled from the card, no evaluation; Evaluate measures it live', async () => {
    const { context, page } = await openWithCard(cardWith({ ...entry }));
    try {
      await page.getByTestId('last-eval').waitFor({ timeout: 120_000 });
      expect(await source(page)).toBe('card');
      const line = await page.getByTestId('last-eval').textContent();
      expect(line).toContain('from the model card');
      expect(line).toContain('not measured on this page');
      expect(line).toContain(`mAP ${pct(entry.mAP)}, rank-1 ${pct(entry.rank1)}`);
      await idle(lab(page));
      expect(await chartPoints(lab(page))).toBe(1);
      expect(await rowSources(page)).toEqual(['card']);
      expect(await page.getByTestId('run-from-card').textContent()).toContain('from the model card');
      // Start-up ran the dataset and latency jobs, never an evaluation.
      const jobs = await jobLabels(page);
      expect(jobs).toContain('Loading the model');
      expect(jobs).toContain('Measuring latency');
      expect(jobs.filter((j) => /evaluat/i.test(j))).toEqual([]);
      await screenshot(page, 'card-baseline');

      await page.getByTestId('evaluate').click();
      await expect.poll(() => source(page), { timeout: 120_000 }).toBe('live');
      await idle(lab(page));
      expect(await jobLabels(page)).toContain('Full evaluation');
      expect(await page.getByTestId('last-eval').textContent()).not.toContain('model card');
      // The live run replaces the card's (one point, one row), and agrees with it: no notice.
      expect(await rowSources(page)).toEqual(['live']);
      expect(await page.getByTestId('run-from-card').count()).toBe(0);
      expect(await chartPoints(lab(page))).toBe(1);
      expect((await page.getByTestId('banner-notice').allTextContents()).join(' ')).not.toContain('disagrees');
      expect(await page.getByTestId('banner-error').count()).toBe(0);
    } finally {
      await context.close();
    }
  }, 240_000);

  it('a card whose figures are wrong: Evaluate says the live numbers disagree', async () => {
    const wrongMap = entry.mAP > 0.5 ? entry.mAP - 0.2 : entry.mAP + 0.2;
    const { context, page } = await openWithCard(cardWith({ ...entry, mAP: wrongMap }));
    try {
      await expect.poll(() => source(page), { timeout: 120_000 }).toBe('card');
      await idle(lab(page));
      await page.getByTestId('evaluate').click();
      await expect.poll(() => source(page), { timeout: 120_000 }).toBe('live');
      const notice = page.getByTestId('banner-notice').filter({ hasText: 'disagrees with the model card' });
      await notice.waitFor({ timeout: 30_000 });
      expect(await notice.textContent()).toContain(`mAP ${pct(wrongMap)} on the card, ${pct(entry.mAP)} here`);
    } finally {
      await context.close();
    }
  }, 240_000);

  it('a card computed on another shift: the start-up evaluates live', async () => {
    const { context, page } = await openWithCard(cardWith({ ...entry, synth: { ...entry.synth, shift: 0.5 } }));
    try {
      await page.getByTestId('last-eval').waitFor({ timeout: 120_000 });
      await idle(lab(page));
      expect(await source(page)).toBe('live');
      expect(await jobLabels(page)).toContain('Quick evaluation');
      expect(await rowSources(page)).toEqual(['live']);
      expect(await page.getByTestId('last-eval').textContent()).not.toContain('model card');
      const why = await page.evaluate(async () => (window as unknown as { __lab: LabRemote }).__lab.cardBaseline());
      expect(why.kind).toBe('live');
      expect(why.kind === 'live' && why.reason).toContain('has domain shift 0.5, the page\u2019s dataset 1');
    } finally {
      await context.close();
    }
  }, 240_000);
});
