/**
 * Issue 20's page failures, each reproduced in real Chromium and kept fixed: bad records in
 * IndexedDB (the page blanked on every load), an unknown criterion in a shared link, a favicon
 * 404, three jobs started in one task (the prune was lost), misleading or fatal model files
 * (a null model.json killed the worker), ONNX and pruning-plan files through Open, a
 * .safetensors without its last stride, and a PNG decompression bomb inside a dataset zip.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import * as tf from '@tensorflow/tfjs';
import { chartPoints, idle, openLab, useLabServer, type LabPage } from './browser';
import { buildSpec } from '../../src/engine/model/spec';
import { initParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { exportOnnx } from '../../src/engine/onnx/export';
import { modelToSafetensors, parseSafetensors, writeSafetensors } from '../../src/engine/model/safetensors';
import { artifactsToModelJson, modelToArtifacts } from '../../src/engine/model/weights-io';
import { planPrune } from '../../src/engine/prune/plan';
import { serialisePlan } from '../../src/engine/prune/plan-json';
import { getCriterion } from '../../src/engine/prune/criteria';
import { encodeJpeg } from '../../src/engine/data/codec';
import { pngDeclaring } from '../unit/png-bomb';

const h = useLabServer();
// The random tiny model the page builds for model=tiny (model-source.ts), and quick settings.
const TINY = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
const FAST = 'backend=wasm&model=tiny&tier=XS&steps=3&ftids=2&ftper=2';
const dir = mkdtempSync(join(tmpdir(), 'lab-rel-page-'));

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function ready(lab: LabPage): Promise<void> {
  await expect.poll(() => chartPoints(lab), { timeout: 240_000, interval: 250 }).toBeGreaterThanOrEqual(1);
  await idle(lab, 240_000);
}

const banners = (lab: LabPage, kind: 'error' | 'notice') => lab.page.getByTestId(`banner-${kind}`).locator('.banner-text').allTextContents();

describe('stored records, shared links, favicon', () => {
  it('crit=bogus in a shared link gets the bad-value sentence and the dropdown shows the real default; no request fails (favicon)', async () => {
    const lab = await openLab(h.lb, h.server.origin, `?${FAST}&crit=bogus`);
    try {
      await ready(lab);
      expect((await banners(lab, 'error')).join('\n')).toContain('The address sets crit="bogus", which the lab does not understand; it uses l1 instead.');
      expect(await lab.page.getByTestId('criterion').inputValue()).toBe('l1');
      expect(lab.page.url()).not.toContain('crit=');
      // No request failed, the favicon included.
      expect(lab.failedResponses).toEqual([]);
      expect(lab.requests.some((u) => u.endsWith('/favicon.svg'))).toBe(true);
    } finally {
      await lab.close();
    }
  }, 600_000);

  it('bad runs and a damaged saved model in IndexedDB are set aside with a notice; the page renders', async () => {
    const lab = await openLab(h.lb, h.server.origin, `?${FAST}`);
    try {
      await ready(lab);
      const rowsBefore = await lab.page.getByTestId('run-row').count();
      await lab.page.evaluate(async () => {
        const open = (name: string) =>
          new Promise<IDBDatabase>((ok, fail) => {
            const r = indexedDB.open(name);
            r.onsuccess = () => ok(r.result);
            r.onerror = () => fail(r.error);
          });
        const put = (db: IDBDatabase, store: string, value: unknown, key?: string) =>
          new Promise<void>((ok, fail) => {
            const tx = db.transaction(store, 'readwrite');
            if (key === undefined) tx.objectStore(store).put(value);
            else tx.objectStore(store).put(value, key);
            tx.oncomplete = () => ok();
            tx.onerror = () => fail(tx.error);
          });
        const runs = await open('prunability-lab');
        const all = await new Promise<Record<string, unknown>[]>((ok) => {
          const r = runs.transaction('runs').objectStore('runs').getAll();
          r.onsuccess = () => ok(r.result as Record<string, unknown>[]);
        });
        const base = all[0];
        await put(runs, 'runs', { ...base, id: 'seeded-good', kind: 'pruned', criterion: 'l1', criterionName: 'L1', strategy: 'once', rate: 0.3, scope: 'inner', ranking: 'local', macs: (base.macs as number) / 2 });
        await put(runs, 'runs', { ...base, id: 'bad-string-latency', latencyMs: '12 ms' });
        const missing: Record<string, unknown> = { ...base, id: 'bad-missing-latency' };
        delete missing.latencyMs;
        await put(runs, 'runs', missing);
        runs.close();
        const model = await open('prunability-lab-model');
        await put(model, 'pointer', { format: 'prunability-lab/saved-state@1', weightsKey: 'k', dense: { source: 'user', name: 'x' }, lineage: { base: 'x', baseSource: 'user', fineTuneSteps: 'four' } }, 'current');
        model.close();
      });
      await lab.page.reload();
      await ready(lab);
      expect(lab.errors).toEqual([]);
      const notices = (await banners(lab, 'notice')).join('\n');
      expect(notices).toMatch(/2 stored runs from an earlier visit could not be read and were set aside \(run bad-\S+: latencyMs is (missing|"12 ms"), not a number of milliseconds or null; …\); the other runs are shown/);
      expect(notices).toMatch(/A pruned model saved earlier was not restored: its record is damaged \(its lineage's fineTuneSteps is four, not a whole number\)\. The lab starts from the dense model and removed the damaged record\./);
      expect(await lab.page.getByTestId('run-row').count()).toBe(rowsBefore + 1);
      expect(await lab.page.getByTestId('panel-failed').count()).toBe(0);
      // Set aside, not lost: the bad runs sit in the quarantine store; the damaged model record is gone.
      const left = await lab.page.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((ok) => {
          const r = indexedDB.open('prunability-lab');
          r.onsuccess = () => ok(r.result);
        });
        const count = (store: string) =>
          new Promise<number>((ok) => {
            const r = db.transaction(store).objectStore(store).count();
            r.onsuccess = () => ok(r.result);
          });
        const out = { runs: await count('runs'), quarantined: await count('runs-quarantine') };
        db.close();
        return out;
      });
      expect(left.quarantined).toBe(2);
      // A second load is quiet: nothing bad is left to report.
      await lab.page.reload();
      await ready(lab);
      expect((await banners(lab, 'notice')).join('\n')).not.toMatch(/set aside|damaged/);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 600_000);
});

describe('jobs started together', () => {
  it('prune, fine-tune and evaluate clicked in one task, then the keys p f e, all run in order; nothing is lost', async () => {
    const lab = await openLab(h.lb, h.server.origin, `?${FAST}`);
    try {
      await ready(lab);
      const before = await chartPoints(lab);
      await lab.page.evaluate(() => {
        for (const id of ['prune', 'finetune', 'evaluate']) (document.querySelector(`[data-testid="${id}"]`) as HTMLButtonElement).click();
      });
      // The two that wait are shown as queued jobs.
      expect(await lab.page.locator('.jobs').textContent()).toMatch(/\(queued\)/);
      await idle(lab, 300_000);
      expect(await banners(lab, 'error')).toEqual([]);
      expect(lab.errors).toEqual([]);
      expect(await lab.page.getByTestId('lineage').textContent()).toMatch(/pruned.*fine-tuned 3 steps/);
      // The pruned run and the fine-tuned run both landed.
      expect(await chartPoints(lab)).toBe(before + 2);

      await lab.page.evaluate(() => {
        for (const key of ['p', 'f', 'e']) window.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
      });
      await expect.poll(() => lab.page.locator('.app').getAttribute('data-busy')).toBe('true');
      await idle(lab, 300_000);
      expect(await banners(lab, 'error')).toEqual([]);
      expect(lab.errors).toEqual([]);
      expect(await chartPoints(lab)).toBe(before + 4);
    } finally {
      await lab.close();
    }
  }, 600_000);
});

describe('opening files', () => {
  it('a null model.json, a model.json without its .bin and a foreign .json are sentences; the worker lives and the model stays', async () => {
    const lab = await openLab(h.lb, h.server.origin, `?${FAST}`);
    try {
      await ready(lab);
      const input = lab.page.getByTestId('model-files');
      const arrays = initParamArrays(TINY, 3);
      const artifacts = modelToArtifacts(TINY, arrays);
      const json = JSON.stringify(artifactsToModelJson(artifacts, ['m.weights.bin']));
      const cases: [string[], string][] = [
        [[file('model.json', 'null'), file('g.bin', new Uint8Array(16))], 'model.json holds null, not a model description (a JSON object with modelTopology and weightsManifest); pick the model.json the lab (or tfjs) wrote, together with its .bin weight files.'],
        [[file('mine.json', json)], 'mine.json needs the weight file m.weights.bin, which was not picked; select mine.json together with all its .bin files (Ctrl- or Shift-click in the file dialog).'],
        [[file('other.json', '{"modelTopology":{},"weightsManifest":[]}')], 'other.json has no "format" field, so it is neither a Prunability Lab model'],
      ];
      for (const [paths, sentence] of cases) {
        await input.setInputFiles(paths);
        await expect.poll(async () => (await banners(lab, 'error')).join('\n'), { timeout: 60_000 }).toContain(sentence);
        await idle(lab);
      }
      const errors = (await banners(lab, 'error')).join('\n');
      expect(errors).not.toMatch(/worker stopped|Something went wrong|undefined|null \(reading/);
      expect(await lab.page.getByTestId('model-name').textContent()).toBe('tiny');
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 600_000);

  it('a pruning plan JSON applies to the dense model; one for another architecture is refused; an ONNX ResNet opens', async () => {
    await tf.setBackend('cpu');
    const m = ReidModel.init(TINY, 1);
    const plan = await planPrune(m, getCriterion('l1'), { criterion: 'l1', rate: 0.5, scope: 'inner', ranking: 'local', seed: 1 });
    m.dispose();
    const other = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.25, inputHeight: 64, inputWidth: 32 }), 1);
    const otherPlan = await planPrune(other, getCriterion('l1'), { criterion: 'l1', rate: 0.5, scope: 'inner', ranking: 'local', seed: 1 });
    other.dispose();

    const lab = await openLab(h.lb, h.server.origin, `?${FAST}`);
    try {
      await ready(lab);
      const input = lab.page.getByTestId('model-files');
      const points = await chartPoints(lab);
      await input.setInputFiles(file('r18-w0.25-plan.json', serialisePlan(otherPlan)));
      await expect.poll(async () => (await banners(lab, 'error')).join('\n'), { timeout: 60_000 }).toMatch(/^r18-w0\.25-plan\.json cannot be applied to tiny: /m);
      await idle(lab);
      await input.setInputFiles(file('tiny-plan.json', serialisePlan(plan)));
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(points + 1);
      await idle(lab);
      expect(await lab.page.getByTestId('lineage').textContent()).toMatch(/pruned/);
      expect((await banners(lab, 'notice')).join('\n')).toMatch(/Applied the pruning plan tiny-plan\.json \(Hao Li \(L1\), 50% of prunable channels removed\)\./);

      await input.setInputFiles(file('tiny-export.onnx', exportOnnx(TINY, initParamArrays(TINY, 5))));
      await expect.poll(() => lab.page.getByTestId('model-name').textContent(), { timeout: 120_000 }).toBe('tiny-export');
      await idle(lab);
      expect(await banners(lab, 'error')).toEqual([expect.stringMatching(/cannot be applied to tiny/)]);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 600_000);

  it('a .safetensors without its last stride opens with 1 and asks; the answer 2 reopens it with 2', async () => {
    const full = parseSafetensors(modelToSafetensors(TINY, initParamArrays(TINY, 4)));
    const silent = writeSafetensors([...full.tensors].map(([name, t]) => ({ name, ...t })), { format: 'pt' });
    const lab = await openLab(h.lb, h.server.origin, `?${FAST}`);
    try {
      await ready(lab);
      await lab.page.getByTestId('model-files').setInputFiles(file('silent.safetensors', silent));
      await expect(lab.page.getByTestId('last-stride-question').waitFor({ timeout: 120_000 })).resolves.toBeUndefined();
      expect(await lab.page.getByTestId('last-stride-assumed').textContent()).toBe('1');
      expect(await lab.page.getByTestId('last-stride-question').textContent()).toMatch(/silent\.safetensors does not say its last stride/);
      await idle(lab, 240_000);
      const stride1 = await lab.page.evaluate(() => window.__lab!.modelSummary());
      await lab.page.getByTestId('last-stride-other').click();
      await expect.poll(() => lab.page.getByTestId('last-stride-question').count(), { timeout: 60_000 }).toBe(0);
      await idle(lab, 240_000);
      const stride2 = await lab.page.evaluate(() => window.__lab!.modelSummary());
      // Layer4 at stride 2 quarters its feature map, so the model costs fewer MACs.
      expect(stride2!.macs).toBeLessThan(stride1!.macs);
      expect(await banners(lab, 'error')).toEqual([]);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 600_000);
});

describe('datasets', () => {
  it('a 50 KB PNG declaring 20000 x 20000 inside a dataset zip is skipped with a counted notice; the rest loads', async () => {
    const jpeg = (v: number) => encodeJpeg({ width: 32, height: 64, data: new Uint8Array(32 * 64 * 3).fill(v) });
    const zip = zipSync({
      'm/bounding_box_train/0002_c1s1_000001_00.jpg': jpeg(40),
      'm/bounding_box_train/0002_c2s1_000002_00.jpg': jpeg(50),
      'm/bounding_box_train/0003_c1s1_000003_00.jpg': jpeg(140),
      'm/bounding_box_train/0003_c2s1_000004_00.jpg': jpeg(150),
      'm/query/0001_c1s1_000001_00.jpg': jpeg(200),
      'm/bounding_box_test/0001_c2s1_000002_00.jpg': jpeg(210),
      'm/bounding_box_test/0004_c3s1_000003_00.jpg': jpeg(90),
      'm/bounding_box_test/0001_c3s1_000004_00.png': pngDeclaring(20000, 20000),
    });
    const lab = await openLab(h.lb, h.server.origin, `?${FAST}`);
    try {
      await ready(lab);
      await lab.page.getByTestId('dataset-zip').setInputFiles(file('bomb.zip', zip));
      await expect.poll(() => lab.page.getByTestId('dataset-name').textContent(), { timeout: 120_000 }).not.toMatch(/SynthReID/);
      const report = await lab.page.getByTestId('dataset-report').textContent();
      expect(report).toMatch(/1 files could not be used \(m\/bounding_box_test\/0001_c3s1_000004_00\.png: m\/bounding_box_test\/0001_c3s1_000004_00\.png declares 20000 x 20000 pixels \(400 MP\), more than the 25 MP the lab decodes/);
      await idle(lab);
      expect((await banners(lab, 'error')).join('\n')).not.toMatch(/worker stopped/);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 600_000);
});
