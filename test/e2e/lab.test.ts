/**
 * The lab's workflow in real Chromium, on a tiny random ResNet and SynthReID-XS so each test
 * takes seconds: the baseline point appears without a click; prune with L1 at 50% (channels
 * really leave the strip), evaluate, fine-tune a few steps, three points on the chart; the runs
 * survive a reload; a corrupt model file gets a clear sentence; the main thread has no long
 * task while the worker prunes and trains; no request leaves the origin. One smaller flow on
 * WebGPU (SwiftShader). Screenshots of the main states go to test-artifacts/.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSpec } from '../../src/engine/model/spec';
import { launchBrowser, longTaskSupported, longTasksWhileBusy, openLab, pageNow, screenshot, startPreview, watchBusy, type LabBrowser, type LabPage, type Server, chartPoints, idle } from './browser';

const FAST = 'model=tiny&tier=XS';

let server: Server;
let lb: LabBrowser;

beforeAll(async () => {
  server = await startPreview();
  lb = await launchBrowser();
});

afterAll(async () => {
  await lb?.close();
  await server?.stop();
});

async function baseline(lab: LabPage, timeout = 180_000): Promise<void> {
  await expect.poll(() => chartPoints(lab), { timeout, interval: 250 }).toBeGreaterThanOrEqual(1);
  // After a reload the saved runs are on the chart at once and the page is briefly idle between
  // its start-up jobs: the start-up evaluation's score line is what says they are done.
  await lab.page.getByTestId('last-eval').waitFor({ timeout });
  await idle(lab, timeout);
}

/** Drop files on an element the way a browser does (a drop event with a DataTransfer). */
async function dropFiles(lab: LabPage, testId: string, files: { name: string; bytes: number[] }[]): Promise<void> {
  await lab.page.getByTestId(testId).evaluate((el, fs) => {
    const dt = new DataTransfer();
    for (const f of fs) dt.items.add(new File([new Uint8Array(f.bytes)], f.name));
    el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
}

const bannerTexts = (lab: LabPage) => lab.page.getByTestId('banner-error').allTextContents();

describe('the lab workflow', () => {
  it('wasm: baseline, prune L1 50%, evaluate, fine-tune, three points, reload, corrupt model file', async () => {
    const lab = await openLab(lb, server.origin, `?backend=wasm&${FAST}`);
    try {
      // First impression: model, dataset and the baseline point, without any click.
      await baseline(lab);
      expect(await chartPoints(lab)).toBe(1);
      expect(await lab.page.getByTestId('dataset-name').textContent()).toBe('SynthReID-XS/target');
      expect(await lab.page.getByTestId('thumb').count()).toBeGreaterThanOrEqual(4);
      expect(await lab.page.getByTestId('untrained').textContent()).toContain('the zoo model is not available');
      expect(await lab.page.getByTestId('run-row').count()).toBe(1);
      expect(await lab.page.getByTestId('ft-split-summary').textContent()).toContain('none of them is in the query or gallery set');
      await screenshot(lab.page, 'lab-baseline');

      // The criterion's explanation and formula come from the engine's registry.
      await lab.page.getByTestId('criterion').selectOption('l1');
      expect((await lab.page.getByTestId('criterion-formula').textContent())!.length).toBeGreaterThan(3);
      await lab.page.getByTestId('rate').fill('0.5');
      expect(await lab.page.getByTestId('rate-value').textContent()).toBe('50%');
      expect(new URL(lab.page.url()).searchParams.get('crit')).toBeNull(); // l1 and 0.5 are the defaults

      const dense = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
      const innerLayer = '[data-layer="layer2.0.conv1"]';
      expect(Number(await lab.page.locator(innerLayer).getAttribute('data-channels'))).toBe(dense.stages[1][0].mid[0]);

      expect(await longTaskSupported(lab.page)).toBe(true);
      await watchBusy(lab.page);
      let since = await pageNow(lab.page);
      await lab.page.getByTestId('prune').click();
      await lab.page.getByTestId('prune-result').waitFor({ timeout: 120_000 });
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(2);
      await idle(lab);
      // While the worker prunes, scores and measures, the page's main thread never blocks > 50 ms.
      // (The chart's one re-render when the result lands is logged, not asserted: on a loaded
      // 2-core machine its duration depends on the other processes, not on the lab.)
      let lt = await longTasksWhileBusy(lab.page, since);
      console.log(`prune: longest main-thread task after the result landed ${lt.longestAfter} ms`);
      expect(lt.whileBusy).toEqual([]);
      // Inner channels halved, trunk untouched (scope "inner").
      expect(Number(await lab.page.locator(innerLayer).getAttribute('data-channels'))).toBe(dense.stages[1][0].mid[0] / 2);
      expect(Number(await lab.page.locator('[data-layer="layer2.0.conv2"]').getAttribute('data-channels'))).toBe(dense.stages[1][0].outC);
      expect(await lab.page.getByTestId('lineage').textContent()).toContain('50%');
      expect(await lab.page.getByTestId('after-latency').textContent()).toMatch(/ms$/);
      await screenshot(lab.page, 'lab-pruned');

      // Evaluating the same model again updates its run: still two points.
      await lab.page.getByTestId('evaluate').click();
      await idle(lab);
      expect(await chartPoints(lab)).toBe(2);
      expect(await lab.page.getByTestId('last-eval').textContent()).toMatch(/mAP \d+\.\d\d/);

      // Fine-tune a few steps: a live loss curve, then the third point.
      await lab.page.getByTestId('steps').fill('4');
      since = await pageNow(lab.page);
      await lab.page.getByTestId('finetune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBe(3);
      await idle(lab);
      lt = await longTasksWhileBusy(lab.page, since);
      console.log(`fine-tune: longest main-thread task after the result landed ${lt.longestAfter} ms`);
      expect(lt.whileBusy).toEqual([]);
      // Progress is throttled (a few reports a second, the last step always), so a fast machine
      // may merge steps: the curve has between 2 points and one per step, ending at step 4.
      const points = Number(await lab.page.getByTestId('loss-chart').getAttribute('data-points'));
      expect(points).toBeGreaterThanOrEqual(2);
      expect(points).toBeLessThanOrEqual(4);
      expect(await lab.page.getByTestId('training').getAttribute('data-step')).toBe('4');
      expect(await lab.page.getByTestId('lineage').textContent()).toContain('fine-tuned 4 steps');
      const kinds = await lab.page.getByTestId('run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-kind')).sort());
      expect(kinds).toEqual(['baseline', 'fine-tuned', 'pruned']);
      await screenshot(lab.page, 'lab-three-runs');

      // The URL carries the configuration, seeds included.
      await lab.page.getByTestId('criterion').selectOption('fpgm');
      await lab.page.getByTestId('steps').fill('7');
      const url = new URL(await lab.page.evaluate(() => location.href));
      expect(url.searchParams.get('crit')).toBe('fpgm');
      expect(url.searchParams.get('steps')).toBe('7');
      expect(url.searchParams.get('tier')).toBe('XS');

      // Runs persist in IndexedDB: after a reload the same three runs (the baseline is not doubled).
      await lab.page.reload();
      await baseline(lab);
      expect(await chartPoints(lab)).toBe(3);
      expect(await lab.page.getByTestId('run-row').count()).toBe(3);
      expect(await lab.page.getByTestId('criterion').inputValue()).toBe('fpgm');
      expect(await lab.page.getByTestId('steps').inputValue()).toBe('7');

      // Corrupt model files: clear sentences, and the model stays as it was.
      await dropFiles(lab, 'model-drop', [{ name: 'model.json', bytes: [...Buffer.from('{"format": "prunability-lab/model@1", "modelTop')] }]);
      await expect.poll(() => bannerTexts(lab), { timeout: 30_000 }).toContainEqual(expect.stringContaining('model.json is not valid JSON'));
      await dropFiles(lab, 'model-drop', [{ name: 'weights.safetensors', bytes: [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3] }]);
      await expect.poll(async () => (await bannerTexts(lab)).length, { timeout: 30_000 }).toBe(2);
      const texts = await bannerTexts(lab);
      expect(texts[1]).not.toMatch(/Something went wrong/);
      expect(texts[1].length).toBeGreaterThan(30);
      expect(await lab.page.getByTestId('strip-bar').count()).toBe(20);
      await screenshot(lab.page, 'lab-corrupt-model');

      // Clear runs takes two clicks: the first only asks, "Keep them" keeps them; the second
      // clears, also from storage (a reload shows only the new baseline).
      await lab.page.getByTestId('clear-runs').click();
      expect(await lab.page.getByTestId('clear-runs-confirm').textContent()).toBe('Clear all 3 runs?');
      await lab.page.getByTestId('clear-runs-keep').click();
      expect(await lab.page.getByTestId('run-row').count()).toBe(3);
      await lab.page.getByTestId('clear-runs').click();
      await lab.page.getByTestId('clear-runs-confirm').click();
      await expect.poll(() => lab.page.getByTestId('run-row').count(), { timeout: 10_000 }).toBe(0);
      await lab.page.reload();
      await baseline(lab);
      expect(await lab.page.getByTestId('run-row').count()).toBe(1);

      expect(lab.foreignRequests()).toEqual([]);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('exports the pruned model (model.json + shards) and opens it again as itself', async () => {
    const lab = await openLab(lb, server.origin, `?backend=wasm&${FAST}&rate=0.25&crit=l2`);
    try {
      await baseline(lab);
      await lab.page.getByTestId('prune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(2);
      await idle(lab);
      const channels = await lab.page.getByTestId('strip-bar').evaluateAll((bars) => bars.map((b) => b.getAttribute('data-channels')));
      const dir = mkdtempSync(join(tmpdir(), 'lab-export-'));
      const downloads: string[] = [];
      lab.page.on('download', (d) => {
        const path = join(dir, d.suggestedFilename());
        downloads.push(d.suggestedFilename());
        void d.saveAs(path);
      });
      await lab.page.getByTestId('export-tfjs').click();
      await expect.poll(() => downloads.length, { timeout: 30_000 }).toBe(2);
      expect(downloads.some((n) => n.endsWith('.json'))).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      const json = JSON.parse(readFileSync(join(dir, downloads.find((n) => n.endsWith('.json'))!), 'utf8'));
      expect(json.weightsManifest[0].paths).toEqual([downloads.find((n) => n.endsWith('.bin'))]);

      await lab.page.getByTestId('reset').click();
      await expect.poll(() => lab.page.getByTestId('lineage').textContent()).toBe('dense (unpruned)');
      await lab.page.getByTestId('model-files').setInputFiles(downloads.map((n) => join(dir, n)));
      await expect.poll(() => lab.page.getByTestId('model-name').textContent(), { timeout: 60_000 }).not.toBe('tiny');
      await idle(lab);
      const reopened = await lab.page.getByTestId('strip-bar').evaluateAll((bars) => bars.map((b) => b.getAttribute('data-channels')));
      expect(reopened).toEqual(channels);
      expect(lab.foreignRequests()).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('presenter mode: large type, essentials, keyboard shortcuts', async () => {
    const lab = await openLab(lb, server.origin, `?backend=wasm&${FAST}&present=1`);
    try {
      await baseline(lab);
      expect(await lab.page.evaluate(() => document.documentElement.classList.contains('presenter'))).toBe(true);
      expect(await lab.page.getByTestId('runs-table').isVisible()).toBe(false);
      await lab.page.keyboard.press('?');
      expect(await lab.page.getByTestId('shortcuts').isVisible()).toBe(true);
      await screenshot(lab.page, 'lab-presenter-help', false);
      await lab.page.keyboard.press('Escape');
      await lab.page.keyboard.press('m');
      expect(new URL(await lab.page.evaluate(() => location.href)).searchParams.get('metric')).toBe('rank1');
      await lab.page.keyboard.press('p');
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(2);
      await idle(lab);
      await screenshot(lab.page, 'lab-presenter', false);
      await lab.page.keyboard.press('s');
      expect(await lab.page.evaluate(() => document.documentElement.classList.contains('presenter'))).toBe(false);
    } finally {
      await lab.close();
    }
  });

  // The default set-up (ResNet-50 x0.5, SynthReID-S target) runs by default in interactive.test.ts.

  it('WebGPU (SwiftShader): baseline and a pruned point on the tiny model', async () => {
    const lab = await openLab(lb, server.origin, `?backend=webgpu&${FAST}&rate=0.3`);
    try {
      await baseline(lab);
      expect(await lab.page.getByTestId('backend').getAttribute('data-backend')).toBe('webgpu');
      await lab.page.getByTestId('prune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 300_000, interval: 500 }).toBe(2);
      await idle(lab, 300_000);
      await screenshot(lab.page, 'lab-webgpu');
      expect(lab.foreignRequests()).toEqual([]);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });
});
